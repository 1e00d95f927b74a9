import type { StopReason, TenantState } from '@tenancy/shared';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ControllerObserver } from '../lifecycle/controller.js';
import type { TenantRecord } from '../lifecycle/ports.js';
import type { DiskUsage } from '../runtime/tenant-disks.js';

/** Prometheus metrics of one supervisor; a registry per instance so tests can run several. */
export interface SupervisorMetrics {
  registry: Registry;
  observer: ControllerObserver;
}

/** One tenant's disk, for the metrics: its keyed hash (never the user id) and its filesystem's figures. */
export interface TenantDiskSample {
  tenant: string;
  sizeBytes: number;
  usedBytes: number;
}

/**
 * Samples of every known tenant's disk, a page of the store at a time: a statfs each, nothing for
 * tenants whose disk is not mounted (or unbounded).
 */
export function diskSampler(
  tenants: { list(filter: { limit: number; after?: string }): TenantRecord[] },
  diskUsage: (userId: string) => Promise<DiskUsage | undefined>,
): () => Promise<TenantDiskSample[]> {
  const PAGE = 500;
  return async () => {
    const samples: TenantDiskSample[] = [];
    let after: string | undefined;
    for (;;) {
      const page = tenants.list({ limit: PAGE, ...(after ? { after } : {}) });
      for (const tenant of page) {
        const usage = await diskUsage(tenant.userId);
        if (usage) samples.push({ tenant: tenant.tenantHash, sizeBytes: usage.sizeBytes, usedBytes: usage.usedBytes });
      }
      after = page[page.length - 1]?.userId;
      if (page.length < PAGE) return samples;
    }
  };
}

const STATES: readonly TenantState[] = ['asleep', 'waking', 'running', 'paused', 'stopping', 'failed'];

export function createMetrics(
  countByState: () => Partial<Record<TenantState, number>>,
  queueLength: () => number = () => 0,
  disks: () => Promise<TenantDiskSample[]> = async () => [],
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
  // Both gauges from one pass over the tenants' filesystems (a statfs each), made by the first
  // collected; the second takes its figures from the same pass.
  let sampling: Promise<TenantDiskSample[]> | undefined;
  const sample = () => {
    sampling ??= disks().finally(() => {
      sampling = undefined;
    });
    return sampling;
  };
  new Gauge({
    name: 'tenancy_tenant_disk_used_bytes',
    help: "Bytes used on each tenant's own filesystem (its volumes), by tenant hash; mounted disks only",
    labelNames: ['tenant'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { tenant, usedBytes } of await sample()) this.set({ tenant }, usedBytes);
    },
  });
  new Gauge({
    name: 'tenancy_tenant_disk_size_bytes',
    help: "Space for data on each tenant's own filesystem (its disk quota), by tenant hash; mounted disks only",
    labelNames: ['tenant'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { tenant, sizeBytes } of await sample()) this.set({ tenant }, sizeBytes);
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
