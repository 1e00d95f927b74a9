import type { StopReason, TenantState } from '@tenancy/shared';

/**
 * The tenant lifecycle as a pure function: `(state, event) → (next state, effects)`.
 * No I/O, no timers: the controller performs the effects and feeds back the events.
 *
 *                 ┌──────────── resume (unpause) ─────────────┐
 *                 ▼                                            │
 *   asleep ──wake──▶ waking ──ready──▶ running ──pause──▶ paused ──stop──▶ stopping ──stopped──▶ asleep
 *     ▲  ▲            │ failed            │ stop(reason)                       ▲
 *     │  │            ▼                   └────────────────────────────────────┘
 *     │  └──────── failed ◀── (a failed wake; the next wake retries fresh)
 *     └────── died / vanished (crashed, oom) ◀── running, paused
 *
 * Paused is the first stage of sleep: the container is frozen (memory kept, no CPU) and wakes in
 * tens of milliseconds. Stopped (asleep) is the second: nothing held but the volumes.
 */

export type LifecycleEvent =
  /** Someone needs the tenant. */
  | { type: 'wake' }
  /** The tenant app answered its health check. */
  | { type: 'ready' }
  /** The wake failed or ran out of time. */
  | { type: 'wake-failed'; timedOut: boolean }
  /** Freeze the running tenant (first stage of sleep). */
  | { type: 'pause' }
  /** The engine refused to freeze it: it still runs. */
  | { type: 'pause-failed' }
  /** Stop the tenant for this reason. */
  | { type: 'stop'; reason: StopReason }
  /** The container has stopped after a requested stop. */
  | { type: 'stopped' }
  /** The container stopped without being asked (crash, OOM kill). */
  | { type: 'died'; oom: boolean }
  /** Reconciliation: what the engine really runs. */
  | { type: 'observed'; running: boolean; paused: boolean };

export type LifecycleEffect =
  /** Create (if needed) and start the container, then wait for its health. */
  | { type: 'begin-wake' }
  /** Unpause the frozen container, then check its health. */
  | { type: 'begin-resume' }
  /** Freeze the container. */
  | { type: 'pause-container' }
  /** Abort the wake in progress and fail its waiters with "cancelled". */
  | { type: 'cancel-wake' }
  /** Stop the container (SIGTERM, grace, SIGKILL). */
  | { type: 'stop-container'; reason: StopReason }
  /** Persist why the tenant stopped. */
  | { type: 'record-stop'; reason: StopReason }
  /** A running or paused container was found: treat it as ours again. */
  | { type: 'adopt' };

export interface Transition {
  next: TenantState;
  effects: LifecycleEffect[];
}

/** Applies one event. Events that make no sense in a state leave it unchanged, with no effects. */
export function transition(state: TenantState, event: LifecycleEvent): Transition {
  const stay: Transition = { next: state, effects: [] };
  switch (state) {
    case 'asleep':
    case 'failed':
      if (event.type === 'wake') return go('waking', { type: 'begin-wake' });
      if (event.type === 'observed' && event.running) return go(event.paused ? 'paused' : 'running', { type: 'adopt' });
      return stay;

    case 'waking':
      switch (event.type) {
        case 'ready':
          return go('running');
        case 'wake-failed':
          return go(
            'failed',
            { type: 'stop-container', reason: 'failed-start' },
            { type: 'record-stop', reason: 'failed-start' },
          );
        case 'stop':
          return go('stopping', { type: 'cancel-wake' }, { type: 'stop-container', reason: event.reason });
        case 'died':
          // The health probe would notice too, but only after a few more tries.
          return go('failed', { type: 'record-stop', reason: 'failed-start' });
        case 'observed':
          // Left over from a supervisor that died mid-wake: settle on what the engine shows.
          if (event.running) return go(event.paused ? 'paused' : 'running', { type: 'adopt' });
          return go('asleep', { type: 'record-stop', reason: 'failed-start' });
        default:
          return stay;
      }

    case 'running':
      switch (event.type) {
        case 'pause':
          return go('paused', { type: 'pause-container' });
        case 'stop':
          return go('stopping', { type: 'stop-container', reason: event.reason });
        case 'died':
          return go('asleep', { type: 'record-stop', reason: event.oom ? 'oom' : 'crashed' });
        case 'observed':
          if (!event.running) return go('asleep', { type: 'record-stop', reason: 'crashed' });
          // Frozen by someone else (docker pause): it no longer answers, so it is paused.
          return event.paused ? go('paused') : stay;
        default:
          return stay;
      }

    case 'paused':
      switch (event.type) {
        case 'wake':
          return go('waking', { type: 'begin-resume' });
        case 'pause-failed':
          return go('running');
        case 'stop':
          return go('stopping', { type: 'stop-container', reason: event.reason });
        case 'died':
          return go('asleep', { type: 'record-stop', reason: event.oom ? 'oom' : 'crashed' });
        case 'observed':
          if (!event.running) return go('asleep', { type: 'record-stop', reason: 'crashed' });
          return event.paused ? stay : go('running', { type: 'adopt' });
        default:
          return stay;
      }

    case 'stopping':
      if (event.type === 'stopped' || event.type === 'died') return go('asleep');
      // Left over from a supervisor that died mid-stop.
      if (event.type === 'observed') {
        return event.running ? go(event.paused ? 'paused' : 'running', { type: 'adopt' }) : go('asleep');
      }
      return stay;
  }
}

function go(next: TenantState, ...effects: LifecycleEffect[]): Transition {
  return { next, effects };
}

/**
 * True in the states that hold a start slot of MAX_RUNNING_TENANTS. Paused tenants use no CPU and
 * are bounded by memory (MEMORY_RESERVE) instead.
 */
export function holdsCapacity(state: TenantState): boolean {
  return state === 'waking' || state === 'running' || state === 'stopping';
}
