import type { TenantState } from '@tenancy/shared';
import type { FastifyBaseLogger } from 'fastify';
import { listAll } from './capacity.js';
import type { LifecycleStore, TenantRecord } from './ports.js';
import type { TenantStates } from './tenant-states.js';

/** What the watchdog does about one tenant. */
export type Verdict =
  /** Nothing: not in a transition, or its operation is still within bounds. */
  | 'ok'
  /** A wake ran past its budget and the grace after it: abort it (its own failure path records why). */
  | 'abort'
  /** A wake still in flight a grace after it was aborted: drop it and settle the record. */
  | 'abandon'
  /** In `waking` or `stopping` with no operation in flight: settle the record. */
  | 'settle';

/** The operation in flight for a tenant, as far as the watchdog needs to know it. */
export interface InFlight {
  /** An operation (wake, stop or pause) is in flight. */
  busy: boolean;
  /** The wake in flight, if that is the operation. */
  wake?: { deadline: number | undefined; aborted: boolean };
}

/** The states a tenant only passes through: staying in one means something hung or was lost. */
const TRANSITIONS: ReadonlySet<TenantState> = new Set(['waking', 'stopping']);

/**
 * Judges one tenant, a pure function of its record, what is in flight for it and the time.
 * Every engine call is bounded, so a wake settles at its budget and a stop after its grace plus
 * a call timeout; `graceMs` is how long past those bounds the watchdog waits before it believes
 * an operation hung anyway (a bug, an unbounded call), or that a record in a transition has lost
 * its operation.
 */
export function judge(
  tenant: Pick<TenantRecord, 'state' | 'updatedAt'>,
  inFlight: InFlight,
  now: number,
  graceMs: number,
): Verdict {
  if (!TRANSITIONS.has(tenant.state)) return 'ok';
  if (!inFlight.busy) return now - tenant.updatedAt > graceMs ? 'settle' : 'ok';
  const deadline = inFlight.wake?.deadline;
  // Queued wakes have no deadline yet; stops are bounded by the engine's call timeouts.
  if (deadline === undefined || now <= deadline + graceMs) return 'ok';
  if (!inFlight.wake?.aborted) return 'abort';
  return now > deadline + 2 * graceMs ? 'abandon' : 'ok';
}

export interface WatchdogDeps {
  store: LifecycleStore;
  states: TenantStates;
  log: FastifyBaseLogger;
  now: () => number;
  /** See {@link judge}; milliseconds. */
  graceMs: number;
  /** What is in flight for the tenant. */
  inFlight(userId: string): InFlight;
  /** Aborts the tenant's wake in flight with `reason`. */
  abortWake(userId: string, reason: Error): void;
  /** Forgets the tenant's wake in flight: the tenant is free for the next operation. */
  abandonWake(userId: string): void;
}

/**
 * Watches for tenants stuck in a transition (`waking`, `stopping`): they hold a start slot and
 * answer every request with "still waking", so one lost operation would cost a slot for good.
 * The controller runs {@link TransitionWatchdog.check} on a timer.
 */
export class TransitionWatchdog {
  constructor(private readonly deps: WatchdogDeps) {}

  /** Judges every tenant in a transition and acts on the verdicts. */
  check(): void {
    const { store, log, now, graceMs } = this.deps;
    const at = now();
    for (const tenant of [...listAll(store, 'waking'), ...listAll(store, 'stopping')]) {
      const verdict = judge(tenant, this.deps.inFlight(tenant.userId), at, graceMs);
      if (verdict === 'ok') continue;
      if (verdict === 'abort') {
        log.warn({ userId: tenant.userId, tenantId: tenant.tenantHash }, 'wake ran past its budget; aborting it');
        this.deps.abortWake(tenant.userId, new Error('the wake ran past its budget'));
        continue;
      }
      if (verdict === 'abandon') this.deps.abandonWake(tenant.userId);
      this.settle(tenant);
    }
  }

  /**
   * Moves a stuck tenant to `asleep`, as reconciliation does for an operation a restart
   * interrupted. If its container runs after all, the next reconciliation adopts it.
   */
  private settle(tenant: TenantRecord): void {
    const waking = tenant.state === 'waking';
    const detail = waking ? 'the wake never finished (watchdog)' : 'the stop never finished (watchdog)';
    const { changed } = this.deps.states.apply(
      tenant.userId,
      { type: 'observed', running: false, paused: false },
      { endpointUrl: null, stopDetail: detail, ...(waking ? { stopReason: 'failed-start' as const } : {}) },
    );
    if (!changed) return;
    this.deps.store.audit.append({
      actor: 'system',
      action: waking ? 'tenant.wake' : 'tenant.stop',
      target: tenant.userId,
      result: 'error',
      detail: { reason: 'watchdog', from: tenant.state },
    });
    this.deps.log.warn(
      { userId: tenant.userId, tenantId: tenant.tenantHash, from: tenant.state },
      'tenant stuck in a transition; settled',
    );
  }
}
