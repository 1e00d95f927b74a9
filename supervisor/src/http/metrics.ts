import type { StopReason, TenantState } from '@tenancy/shared';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ControllerObserver } from '../lifecycle/controller.js';

/** Prometheus metrics of one supervisor; a registry per instance so tests can run several. */
export interface SupervisorMetrics {
  registry: Registry;
  observer: ControllerObserver;
}

const STATES: readonly TenantState[] = ['asleep', 'waking', 'running', 'paused', 'stopping', 'failed'];

export function createMetrics(
  countByState: () => Partial<Record<TenantState, number>>,
  queueLength: () => number = () => 0,
): SupervisorMetrics {
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
  new Gauge({
    name: 'tenancy_start_queue_length',
    help: 'Wakes waiting for a start slot (WAKE_CONCURRENCY)',
    registers: [registry],
    collect() {
      this.set(queueLength());
    },
  });
  const pauses = new Counter({
    name: 'tenancy_pauses_total',
    help: 'Tenants paused (first stage of sleep) by reason',
    labelNames: ['reason'],
    registers: [registry],
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
      paused(reason) {
        pauses.inc({ reason });
      },
    },
  };
}
