import type { StopReason, TenantState } from '@tenancy/shared';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ControllerObserver } from '../lifecycle/controller.js';

/** Prometheus metrics of one supervisor; a registry per instance so tests can run several. */
export interface SupervisorMetrics {
  registry: Registry;
  observer: ControllerObserver;
}

const STATES: readonly TenantState[] = ['asleep', 'waking', 'running', 'stopping', 'failed'];

export function createMetrics(countByState: () => Partial<Record<TenantState, number>>): SupervisorMetrics {
  const registry = new Registry();
  new Gauge({
    name: 'tenancy_tenants',
    help: 'Tenants by lifecycle state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = countByState();
      for (const state of STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  const wakes = new Counter({
    name: 'tenancy_wakes_total',
    help: 'Finished wakes by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const wakeSeconds = new Histogram({
    name: 'tenancy_wake_duration_seconds',
    help: 'Time from wake request to the first healthy answer, successful wakes only',
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 45],
    registers: [registry],
  });
  const stops = new Counter({
    name: 'tenancy_stops_total',
    help: 'Tenant stops by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  return {
    registry,
    observer: {
      wakeFinished(result, ms) {
        wakes.inc({ result });
        if (result === 'ok') wakeSeconds.observe(ms / 1000);
      },
      stopped(reason: StopReason) {
        stops.inc({ reason });
      },
    },
  };
}
