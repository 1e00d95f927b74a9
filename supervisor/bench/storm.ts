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
 * After the run with the defaults, the engine's floor on the same containers: raw starts through
 * the engine's API as many at a time as the start queue allows, then raw unpauses all at once,
 * each until the app's first 200 (what no supervisor can beat on this host).
 *
 * Usage (after `make build`): npx tsx --conditions=tenancy-source supervisor/bench/storm.ts [N]
 * Env:   STORM_BEFORE=0 skips the run as before the start queue (it takes minutes at N=100)
 * Traffic goes only to 127.0.0.1 and to the containers on the networks the supervisor creates;
 * everything is removed at the end.
 */
import { availableParallelism, cpus, totalmem } from 'node:os';
import { readJson, type SupervisorProcess, seg, startSupervisor, testDocker } from '@tenancy/test-support';
import type Docker from 'dockerode';

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
  /** A failure's code and message, as the supervisor answered. */
  error?: string;
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
      ...(res.status === 200 ? {} : { error: `${body.code}: ${body.message}` }),
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
  // Each kind of failure once, with how often it came.
  const kinds = new Map<string, number>();
  for (const o of outcomes) if (o.error) kinds.set(o.error, (kinds.get(o.error) ?? 0) + 1);
  for (const [error, count] of kinds) print(`    ${count} × ${error}`);
  return figures;
}

async function storm(env: Record<string, string>, label: string, withFloor = false) {
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
  printWakeFailureCauses(supervisor);

  await Promise.all(users.map((user) => supervisor.api('POST', `/v1/tenants/${seg(user)}/pause`)));
  started = performance.now();
  const paused = await Promise.all(users.map((user) => wake(supervisor, user, started)));
  const pausedFigures = report(`${label}: ${n} paused at once`, paused, performance.now() - started);
  printWakeFailureCauses(supervisor);
  if (withFloor) await engineFloor(supervisor);
  await cleanup();
  return { stopped: stoppedFigures, paused: pausedFigures };
}

/** What the supervisor logged as the causes of failed wakes since the last call, each once with its count. */
function printWakeFailureCauses(supervisor: SupervisorProcess): void {
  const causes = new Map<string, number>();
  for (const line of supervisor.output.splice(0)) {
    if (!line.includes('tenant wake failed')) continue;
    let cause = line;
    try {
      const entry = JSON.parse(line) as { err?: { message?: string; cause?: { message?: string } } };
      cause = [entry.err?.message, entry.err?.cause?.message].filter(Boolean).join(' / ') || line;
    } catch {
      // not JSON: the line itself
    }
    causes.set(cause, (causes.get(cause) ?? 0) + 1);
  }
  for (const [cause, count] of causes) print(`    supervisor log: ${count} × ${cause}`);
}

/**
 * The engine's own floor on the same containers, without the supervisor (killed first, so that it
 * does not react to starts it did not make): every container stopped, then started straight
 * through the engine's API, as many at a time as the start queue allows, each until its app's
 * first 200; then all paused and unpaused at once, each until its first 200.
 */
async function engineFloor(supervisor: SupervisorProcess): Promise<void> {
  await supervisor.kill('SIGKILL');
  const docker = testDocker();
  const filters = { label: [`dev.tenancy.instance=${supervisor.instance}`, 'dev.tenancy.role=tenant'] };
  const containers = (await docker.listContainers({ all: true, filters })).map((c) => docker.getContainer(c.Id));
  const secrets = new Map<string, string>();
  for (const container of containers) {
    const env = (await container.inspect()).Config.Env ?? [];
    secrets.set(container.id, env.find((e) => e.startsWith('TENANT_SECRET='))?.slice('TENANT_SECRET='.length) ?? '');
  }
  const firstOk = async (container: Docker.Container, began: number): Promise<Outcome> => {
    const info = await container.inspect();
    const ip = Object.values(info.NetworkSettings.Networks ?? {})[0]?.IPAddress;
    const headers = { 'x-tenancy-tenant-secret': secrets.get(container.id) ?? '' };
    for (;;) {
      try {
        const res = await fetch(`http://${ip}:8080/health`, { headers, signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        if (res.ok) return { ms: performance.now() - began, ok: true, retries: 0, status: 200 };
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  await Promise.all(containers.map((c) => c.stop({ t: 3 }).catch(() => undefined)));

  const concurrency = 2 * availableParallelism();
  let began = performance.now();
  const queue = [...containers];
  const starts: Outcome[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        await next.start();
        starts.push(await firstOk(next, began));
      }
    }),
  );
  report(`engine floor: ${containers.length} raw starts, ${concurrency} at a time`, starts, performance.now() - began);

  await Promise.all(containers.map((c) => c.pause()));
  began = performance.now();
  const thaws = await Promise.all(
    containers.map(async (c) => {
      await c.unpause();
      return firstOk(c, began);
    }),
  );
  report(`engine floor: ${containers.length} raw unpauses at once`, thaws, performance.now() - began);
}

async function main(): Promise<void> {
  print(
    `storm: N=${n}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, node ${process.version}`,
  );
  try {
    const before =
      process.env.STORM_BEFORE === '0'
        ? undefined
        : await storm(
            { WAKE_CONCURRENCY: String(n), HEALTH_PROBE_INTERVAL: '25ms', HEALTH_PROBE_MAX_INTERVAL: '25ms' },
            'all at once, 25 ms probes',
          );
    const now = await storm({}, 'start queue + probe backoff', true);
    if (!before) return;
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
