/**
 * Wake storm benchmark against the real engine and a real supervisor process, printing figures
 * and ratios from one run:
 *
 *   stopped  N stopped tenants woken at once (each already created once, then stopped)
 *   paused   the same N tenants paused, then woken at once
 *
 * each twice: with the start queue and probe backoff (the defaults), and as before them
 * (WAKE_CONCURRENCY=N so every start runs at once, probes every 25 ms without backoff).
 * Every request is the gateway's: POST /internal/v1/tenants/:user/wake {wait: true}, answered
 * when the tenant is ready; a 503 with Retry-After (still queued) is asked again after that time,
 * as the gateway's clients do, and counted.
 *
 * Usage (after `make build`): npx tsx --conditions=tenancy-source supervisor/bench/storm.ts [N]
 * Traffic goes only to 127.0.0.1 and to the containers on the networks the supervisor creates;
 * everything is removed at the end.
 */
import { availableParallelism, cpus, totalmem } from 'node:os';
import { readJson, type SupervisorProcess, seg, startSupervisor } from '@tenancy/test-support';

const n = Number(process.argv[2] ?? 100);
const print = (line: string) => process.stdout.write(`${line}\n`);
const teardowns: (() => unknown)[] = [];
const scope = { teardown: (fn: () => unknown) => void teardowns.push(fn) };

interface Outcome {
  ms: number;
  ok: boolean;
  /** 503 answers with Retry-After before the tenant was ready. */
  retries: number;
  status: number;
}

async function wake(supervisor: SupervisorProcess, userId: string, started: number): Promise<Outcome> {
  let retries = 0;
  for (;;) {
    const res = await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
    const body = await readJson(res);
    if (res.status === 503 && body.code === 'SUP_ERR_WAKE_PENDING') {
      retries++;
      await new Promise((resolve) => setTimeout(resolve, Number(res.headers.get('retry-after') ?? 1) * 1000));
      continue;
    }
    return {
      ms: performance.now() - started,
      ok: res.status === 200 && body.state === 'running',
      retries,
      status: res.status,
    };
  }
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

function report(label: string, outcomes: Outcome[], wallMs: number): { p50: number; p95: number; max: number } {
  const ok = outcomes.filter((o) => o.ok);
  const times = ok.map((o) => o.ms).sort((a, b) => a - b);
  const figures = { p50: quantile(times, 0.5), p95: quantile(times, 0.95), max: times.at(-1) ?? Number.NaN };
  const failed = outcomes.filter((o) => !o.ok).map((o) => o.status);
  print(
    `${label.padEnd(34)} ${String(ok.length).padStart(3)}/${outcomes.length} ok` +
      `  p50 ${figures.p50.toFixed(0).padStart(6)} ms  p95 ${figures.p95.toFixed(0).padStart(6)} ms` +
      `  max ${figures.max.toFixed(0).padStart(6)} ms  ${((ok.length / wallMs) * 1000).toFixed(1).padStart(5)} wakes/s` +
      `  retries ${outcomes.reduce((sum, o) => sum + o.retries, 0)}` +
      (failed.length ? `  failures: ${failed.join(',')}` : ''),
  );
  return figures;
}

async function storm(env: Record<string, string>, label: string) {
  const supervisor = await startSupervisor(scope, {
    MAX_RUNNING_TENANTS: String(n * 2),
    LOG_LEVEL: 'warn',
    PAUSE_TIMEOUT: '2h',
    ...env,
  });
  const users = Array.from({ length: n }, (_, i) => `storm-${i}`);
  for (const user of users) await supervisor.api('PUT', `/internal/v1/users/${seg(user)}`, {}, 'internal');
  // Create every container once (not measured), then stop them all: the storm wakes stopped tenants.
  for (let i = 0; i < users.length; i += 10) {
    await Promise.all(users.slice(i, i + 10).map((user) => wake(supervisor, user, performance.now())));
  }
  await Promise.all(users.map((user) => supervisor.api('POST', `/v1/tenants/${seg(user)}/stop`)));

  let started = performance.now();
  const stopped = await Promise.all(users.map((user) => wake(supervisor, user, started)));
  const stoppedFigures = report(`${label}: ${n} stopped at once`, stopped, performance.now() - started);

  await Promise.all(users.map((user) => supervisor.api('POST', `/v1/tenants/${seg(user)}/pause`)));
  started = performance.now();
  const paused = await Promise.all(users.map((user) => wake(supervisor, user, started)));
  const pausedFigures = report(`${label}: ${n} paused at once`, paused, performance.now() - started);
  await cleanup();
  return { stopped: stoppedFigures, paused: pausedFigures };
}

async function main(): Promise<void> {
  print(
    `storm: N=${n}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, node ${process.version}`,
  );
  try {
    const before = await storm(
      { WAKE_CONCURRENCY: String(n), HEALTH_PROBE_INTERVAL: '25ms', HEALTH_PROBE_MAX_INTERVAL: '25ms' },
      'all at once, 25 ms probes',
    );
    const now = await storm({}, 'start queue + probe backoff');
    print(
      `stopped: median/max ${(now.stopped.p50 / now.stopped.max).toFixed(2)} with the queue vs ${(before.stopped.p50 / before.stopped.max).toFixed(2)} without (first come first served when ≤ 0.6)`,
    );
    print(
      `stopped p50: ${(before.stopped.p50 / now.stopped.p50).toFixed(2)}× faster with the queue; paused p95 ${now.paused.p95.toFixed(0)} ms`,
    );
  } finally {
    await cleanup();
  }
}

/** Removes the supervisor and every container, network and volume it made. */
async function cleanup(): Promise<void> {
  for (const fn of teardowns.splice(0).reverse()) await fn();
}

await main();
