/** wrk's --latency report, parsed: what the benchmarks compare. */
export interface WrkRun {
  perSecond: number;
  p50: number;
  p99: number;
  /** Answers other than 2xx or 3xx. */
  non2xx: number;
  socketErrors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

/** Parses the output of `wrk --latency` (latencies in ms). */
export function parseWrk(output: string): WrkRun {
  const latency = (q: string) => {
    const match = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(output);
    if (!match) throw new Error(`wrk printed no ${q}% latency:\n${output}`);
    return Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? Number.NaN);
  };
  const perSecond = Number(/^Requests\/sec:\s+([\d.]+)/m.exec(output)?.[1] ?? Number.NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return { perSecond, p50: latency('50'), p99: latency('99'), non2xx, socketErrors };
}
