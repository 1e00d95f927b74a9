import type { StopReason, TenantState, WakePhase } from '@tenancy/shared';

/**
 * The tenant lifecycle as a pure function: `(status, event) → (next status, effects)`.
 * No I/O, no timers: the controller performs the effects and feeds back the events.
 *
 *   asleep ──wake──▶ waking(creating → starting → waiting-health) ──ready──▶ running
 *     ▲                 │ failed / timed out                                   │ stop(reason)
 *     │                 ▼                                                      ▼
 *     │              failed ──wake──▶ waking                      stopping ──stopped──▶ asleep
 *     └──────── died / vanished (crashed, oom) ◀──────────── running
 */

/** The lifecycle position of one tenant. */
export interface TenantStatus {
  state: TenantState;
  /** Set while waking. */
  phase?: WakePhase;
}

export type LifecycleEvent =
  /** Someone needs the tenant. */
  | { type: 'wake' }
  /** The running wake reached a new phase. */
  | { type: 'phase'; phase: 'creating' | 'starting' | 'waiting-health' }
  /** The tenant app answered its health check. */
  | { type: 'ready' }
  /** The wake failed or ran out of time. */
  | { type: 'wake-failed'; timedOut: boolean }
  /** Stop the tenant for this reason. */
  | { type: 'stop'; reason: StopReason }
  /** The container has stopped after a requested stop. */
  | { type: 'stopped' }
  /** The container stopped without being asked (crash, OOM kill). */
  | { type: 'died'; oom: boolean }
  /** Reconciliation: what the engine really runs. */
  | { type: 'observed'; running: boolean };

export type LifecycleEffect =
  /** Begin creating and starting the container. */
  | { type: 'begin-wake' }
  /** Abort the wake in progress and fail its waiters with "cancelled". */
  | { type: 'cancel-wake' }
  /** Stop the container (SIGTERM, grace, SIGKILL). */
  | { type: 'stop-container'; reason: StopReason }
  /** Persist why the tenant stopped. */
  | { type: 'record-stop'; reason: StopReason }
  /** Resolve every waiter of the wake. */
  | { type: 'notify-ready' }
  /** Reject every waiter of the wake. */
  | { type: 'notify-failed'; timedOut: boolean }
  /** A running container was found: treat it as ours again. */
  | { type: 'adopt' };

export interface Transition {
  next: TenantStatus;
  effects: LifecycleEffect[];
}

/** Applies one event. Events that make no sense in a state leave it unchanged, with no effects. */
export function transition(status: TenantStatus, event: LifecycleEvent): Transition {
  const stay: Transition = { next: status, effects: [] };
  switch (status.state) {
    case 'asleep':
    case 'failed':
      if (event.type === 'wake') return go('waking', [{ type: 'begin-wake' }], 'queued');
      if (event.type === 'observed' && event.running) return go('running', [{ type: 'adopt' }]);
      return stay;

    case 'waking':
      switch (event.type) {
        case 'phase':
          return go('waking', [], event.phase);
        case 'ready':
          return go('running', [{ type: 'notify-ready' }]);
        case 'wake-failed':
          return go('failed', [
            { type: 'stop-container', reason: 'failed-start' },
            { type: 'record-stop', reason: 'failed-start' },
            { type: 'notify-failed', timedOut: event.timedOut },
          ]);
        case 'stop':
          return go('stopping', [{ type: 'cancel-wake' }, { type: 'stop-container', reason: event.reason }]);
        case 'died':
          // The health probe would notice too, but only after a few more tries.
          return go('failed', [
            { type: 'record-stop', reason: 'failed-start' },
            { type: 'notify-failed', timedOut: false },
          ]);
        default:
          return stay;
      }

    case 'running':
      switch (event.type) {
        case 'stop':
          return go('stopping', [{ type: 'stop-container', reason: event.reason }]);
        case 'died':
          return go('asleep', [{ type: 'record-stop', reason: event.oom ? 'oom' : 'crashed' }]);
        case 'observed':
          return event.running ? stay : go('asleep', [{ type: 'record-stop', reason: 'crashed' }]);
        default:
          return stay;
      }

    case 'stopping':
      if (event.type === 'stopped' || event.type === 'died') return go('asleep', []);
      return stay;
  }
}

function go(state: TenantState, effects: LifecycleEffect[], phase?: WakePhase): Transition {
  return { next: phase ? { state, phase } : { state }, effects };
}

/** True in the states that hold a capacity slot. */
export function holdsCapacity(state: TenantState): boolean {
  return state === 'waking' || state === 'running' || state === 'stopping';
}
