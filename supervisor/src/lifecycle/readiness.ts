/** Longest a single health probe may take. */
const PROBE_TIMEOUT_MS = 500;

/** Settings of the readiness probe; milliseconds. */
export interface ProbeSettings {
  /** First pause between probes (HEALTH_PROBE_INTERVAL). */
  firstIntervalMs: number;
  /** The pause doubles after each failed probe up to this (HEALTH_PROBE_MAX_INTERVAL). */
  maxIntervalMs: number;
}

/**
 * Probes `url` until it answers 2xx, pausing `firstIntervalMs` after the first miss and doubling
 * up to `maxIntervalMs`. Most apps answer within the first few probes, so the first ones are
 * quick; an app that takes its time costs a probe every `maxIntervalMs`, not forty a second,
 * which matters when a hundred wakes probe at once. `onProbe` hears the number of each failed
 * probe. Redirects count as failures and are not followed. Rejects with the signal's reason when
 * it aborts.
 */
export async function waitUntilHealthy(
  url: URL,
  settings: ProbeSettings,
  signal: AbortSignal,
  onProbe?: (failed: number) => void,
): Promise<void> {
  let interval = settings.firstIntervalMs;
  for (let probe = 1; ; probe++) {
    signal.throwIfAborted();
    try {
      // Short per-probe timeout: a probe stuck on a connection that is not up yet must not delay
      // readiness by more than this. A redirect is tenant code asking the supervisor to fetch
      // another address on its networks: refused (the probe fails), never followed.
      const res = await fetch(url, {
        redirect: 'error',
        signal: AbortSignal.any([signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]),
      });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // Not listening yet; the wake's own signal ends the loop.
    }
    onProbe?.(probe);
    await sleep(interval, signal);
    interval = Math.min(settings.maxIntervalMs, interval * 2);
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles like `work`, or rejects with the signal's reason as soon as it aborts. The engine's
 * API calls do not take a signal: without this, one call stuck on a busy engine would hold its
 * start slot forever, and the queue behind it with it. The call itself finishes in the
 * background; its result is then ignored.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
