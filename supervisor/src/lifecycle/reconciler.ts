import type { FastifyBaseLogger } from 'fastify';
import type { ContainerStatus, TenantRuntime } from '../runtime/types.js';
import type { LifecycleStore, TenantRecord } from './ports.js';
import type { TenantStates } from './tenant-states.js';

export interface ReconcilerDeps {
  runtime: Pick<TenantRuntime, 'list'>;
  /** The full status of one tenant's container (exit code, OOM flag), by tenant hash. */
  inspect(tenantHash: string): Promise<ContainerStatus | undefined>;
  /** True once the app at `endpointUrl` answers its health check (bounded by the wake budget). */
  isHealthy(endpointUrl: string): Promise<boolean>;
  /** Stops a tenant's container (one the reconciler will not adopt), by tenant hash. */
  stopContainer(tenantHash: string): Promise<void>;
  store: LifecycleStore;
  states: TenantStates;
  log: FastifyBaseLogger;
  idleTimeoutMs: number;
  now: () => number;
}

/**
 * Compares the store with what the engine runs and settles the store on the engine's truth
 * (never the other way round: it stops nothing). Tenants with an operation in flight (`isBusy`)
 * are left to that operation. Running and paused containers are adopted with a fresh idle
 * deadline, interrupted wakes and stops settle on what the container shows, and containers that
 * vanished are recorded as crashed.
 */
export async function reconcile(deps: ReconcilerDeps, isBusy: (userId: string) => boolean): Promise<void> {
  const containers = new Map((await deps.runtime.list()).map((status) => [status.tenantHash, status]));
  let after: string | undefined;
  for (;;) {
    const page = deps.store.tenants.list({ limit: 500, ...(after ? { after } : {}) });
    // The few tenants that need a closer look are looked at together, not one after another.
    await Promise.all(
      page.map(async (tenant) => {
        const container = await closerLook(deps, tenant, containers.get(tenant.tenantHash));
        // Read afresh: the look may have awaited, and the tenant may have moved meanwhile.
        const current = deps.store.tenants.get(tenant.userId);
        if (current && !isBusy(tenant.userId)) reconcileOne(deps, current, container);
      }),
    );
    if (page.length < 500) return;
    after = page[page.length - 1]?.userId;
  }
}

/** What the engine's list says of the tenant's container, completed where the list is not enough. */
async function closerLook(
  deps: ReconcilerDeps,
  tenant: TenantRecord,
  container: ContainerStatus | undefined,
): Promise<ContainerStatus | undefined> {
  // A tenant we thought up whose container stopped: only a full inspect says whether it was
  // killed for memory (the list leaves that out to stay one call).
  if (container && !container.running && (tenant.state === 'running' || tenant.state === 'paused')) {
    return (await deps.inspect(tenant.tenantHash).catch(() => undefined)) ?? container;
  }
  // A wake the last supervisor did not finish: its container may run an app that is not
  // listening yet. It is adopted only once the app answers; one that never does is stopped.
  if (container?.running && container.endpointUrl && !container.paused && tenant.state === 'waking') {
    if (await deps.isHealthy(container.endpointUrl)) return container;
    await deps.stopContainer(tenant.tenantHash).catch(() => undefined);
    return { ...container, running: false, endpointUrl: undefined };
  }
  return container;
}

function reconcileOne(deps: ReconcilerDeps, tenant: TenantRecord, container: ContainerStatus | undefined): void {
  const { store, states, log } = deps;
  const running = container?.running === true && container.endpointUrl !== undefined;
  const paused = running && container?.paused === true;
  const oom = container?.oomKilled === true;
  const interrupted = tenant.state === 'waking' || tenant.state === 'stopping';
  const { effects, changed } = states.apply(
    tenant.userId,
    { type: 'observed', running, paused },
    {
      endpointUrl: running ? (container?.endpointUrl ?? null) : null,
      ...(tenant.state === 'waking' && !running
        ? { stopReason: 'failed-start', stopDetail: 'supervisor restarted during the wake' }
        : {}),
      ...(!interrupted && !running ? { stopReason: oom ? 'oom' : 'crashed' } : {}),
    },
  );
  if (effects.some((effect) => effect.type === 'adopt')) {
    store.tenants.touchActivity(tenant.userId, deps.now(), deps.idleTimeoutMs);
    log.info({ userId: tenant.userId, from: tenant.state, paused }, 'adopted tenant');
  } else if (changed && interrupted) {
    log.info({ userId: tenant.userId, from: tenant.state, running }, 'reconciled interrupted operation');
  } else if (changed && !running) {
    store.audit.append({
      actor: 'system',
      action: 'tenant.crashed',
      target: tenant.userId,
      result: 'error',
      detail: { oom },
    });
    log.warn({ userId: tenant.userId, oom }, 'tenant found stopped');
  } else if (running && container?.endpointUrl !== tenant.endpointUrl) {
    // Same state, new address (the engine re-created the network): follow it.
    store.tenants.update(tenant.userId, { endpointUrl: container?.endpointUrl ?? null });
  }
}
