import { errors } from '../errors.js';

/**
 * How long engine calls may take, milliseconds. An engine that accepts a request and never
 * answers (overloaded, deadlocked, its disk stuck) must cost a caller a failed call, not a
 * tenant stuck in `waking` holding its start slot with every later wake and stop behind it.
 */
export interface EngineTimeouts {
  /**
   * Quick calls: inspect, list, create, connect, pause, logs, ping, and opening the event
   * stream (DOCKER_TIMEOUT, default 10 s).
   */
  callMs: number;
  /**
   * Calls that wait for processes: starting a container (namespaces, mounts, cgroups, the
   * entrypoint exec) and force-removing one (a kill, then cleanup) (DOCKER_START_TIMEOUT,
   * default 30 s). A stop gets its grace time on top of `callMs` instead: the engine itself waits
   * that long before it kills.
   */
  startMs: number;
}

export const DEFAULT_ENGINE_TIMEOUTS: Readonly<EngineTimeouts> = Object.freeze({ callMs: 10_000, startMs: 30_000 });

/**
 * Runs one engine call bounded by `ms` (none when undefined) and by the caller's `signal`. `call` gets the combined
 * signal to hand to dockerode, which then tears the request down; the race below settles the
 * call even for the few dockerode methods that take no signal (network and image inspect), whose
 * request then lingers until the engine answers or closes it. When the time is up the call
 * fails with SUP_ERR_RUNTIME_UNAVAILABLE naming the operation; when the caller's signal aborts
 * first it fails with the signal's reason, so the caller sees its own cancellation.
 */
export function engineCall<T>(
  operation: string,
  ms: number | undefined,
  signal: AbortSignal | undefined,
  call: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeout = new AbortController();
  const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
  const failure = () =>
    signal?.aborted
      ? signal.reason
      : errors.runtimeUnavailable(`the container engine did not answer ${operation} within ${ms} ms`);
  if (combined.aborted) return Promise.reject(failure());
  return new Promise<T>((resolve, reject) => {
    // No limit of its own: the caller's signal is the bound (see callLimit).
    const timer = ms === undefined ? undefined : setTimeout(() => timeout.abort(), ms);
    const done = () => {
      clearTimeout(timer);
      combined.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      reject(failure());
    };
    combined.addEventListener('abort', onAbort, { once: true });
    let work: Promise<T>;
    try {
      work = call(combined);
    } catch (err) {
      work = Promise.reject(err);
    }
    work.then(
      (value) => {
        done();
        resolve(value);
      },
      (err: unknown) => {
        done();
        reject(combined.aborted ? failure() : err);
      },
    );
  });
}

/**
 * The limit of one engine call: `ms` (DOCKER_TIMEOUT or DOCKER_START_TIMEOUT) for a call nobody
 * else bounds; none of its own for a call made with a caller's signal, which carries the
 * caller's deadline (a wake's budget). Under a wake storm the engine answers slowly: a call that
 * takes 12 s of a wake's 45 s must not fail a wake that would still have been ready in time.
 */
export function callLimit(ms: number, signal: AbortSignal | undefined): number | undefined {
  return signal ? undefined : ms;
}
