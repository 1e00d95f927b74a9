/**
 * Wake latency through the whole platform against the engine's own floor, one run, one tenant:
 *
 *   stopped  raw `docker start` → first 200 from the app, vs a request through nginx → gateway
 *            → supervisor (wake) → the app, first byte
 *   paused   raw `docker unpause` → first 200, vs the same request through nginx
 *
 * The platform runs in host mode (supervisor, gateway and nginx as processes, as `make dev`),
 * against its own Redis. The request is what an API client sends: `GET /history` with the session
 * cookie, held by the gateway until the tenant answers.
 *
 * Usage (after `make build`): npx tsx --conditions=tenancy-source supervisor/bench/wake-edge.ts [rounds]
 * Traffic goes only to 127.0.0.1 and to the container on the network the supervisor creates.
 */
import { availableParallelism, totalmem } from 'node:os';
import { readJson, seg, startRedisServer, testDocker } from '@tenancy/test-support';

const rounds = Number(process.argv[2] ?? 20);
const print = (line: string) => process.stdout.write(`${line}\n`);
const teardowns: (() => unknown)[] = [];
const scope = { teardown: (fn: () => unknown) => void teardowns.push(fn) };

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};

async function firstOk(url: string, headers: Record<string, string>): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function main(): Promise<void> {
  const redis = await startRedisServer(scope);
  process.env.TEST_REDIS_URL = redis.url;
  const { startPlatform } = await import('../../e2e/test/platform.js');
  const platform = await startPlatform(scope, { supervisor: { LOG_LEVEL: 'warn' }, gateway: { LOG_LEVEL: 'warn' } });
  const { supervisor } = platform;
  const userId = 'wake-bench';

  const login = await fetch(`${platform.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: userId }),
  });
  const cookie = (login.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
  const edge = async () => {
    // A path of the tenant app's own (the gateway answers /health itself).
    const res = await fetch(`${platform.url}/history?limit=1`, { headers: { cookie } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`the edge answered ${res.status}`);
  };
  await edge();
  const route = await readJson(
    await supervisor.api('GET', `/internal/v1/tenants/${seg(userId)}/route`, undefined, 'internal'),
  );
  const direct = `${route.endpoint.url}/health`;
  const headers = { 'x-tenancy-tenant-secret': route.endpoint.secret };
  const tenant = await readJson(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`));
  const container = testDocker().getContainer(`${supervisor.instance}-${tenant.tenantId}`);

  const figures: Record<string, number[]> = { rawStart: [], edgeStopped: [], rawUnpause: [], edgePaused: [] };
  for (let round = 0; round < rounds; round++) {
    // The engine's floor, on the same container, outside the platform's knowledge: the
    // supervisor sees a stop and a start it did not make, so settle it before the next step.
    await supervisor.api('POST', `/v1/tenants/${seg(userId)}/stop`);
    figures.rawStart?.push(
      await timed(async () => {
        await container.start();
        await firstOk(direct, headers);
      }),
    );
    await container.stop({ t: 5 });
    figures.edgeStopped?.push(await timed(edge));

    await container.pause();
    figures.rawUnpause?.push(
      await timed(async () => {
        await container.unpause();
        await firstOk(direct, headers);
      }),
    );
    await supervisor.api('POST', `/v1/tenants/${seg(userId)}/pause`);
    figures.edgePaused?.push(await timed(edge));
  }

  print(
    `wake: ${rounds} rounds, ${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, node ${process.version}`,
  );
  for (const [name, values] of Object.entries(figures)) {
    print(
      `${name.padEnd(12)} median ${quantile(values, 0.5).toFixed(1).padStart(7)} ms  p95 ${quantile(values, 0.95).toFixed(1).padStart(7)} ms`,
    );
  }
  const gap = (a: string, b: string, q: number) => quantile(figures[a] ?? [], q) - quantile(figures[b] ?? [], q);
  print(
    `paused through nginx − raw unpause: median +${gap('edgePaused', 'rawUnpause', 0.5).toFixed(1)} ms, p95 +${gap('edgePaused', 'rawUnpause', 0.95).toFixed(1)} ms (goal ≤ 30 ms)`,
  );
  print(
    `stopped through nginx − raw start:  median +${gap('edgeStopped', 'rawStart', 0.5).toFixed(1)} ms, p95 +${gap('edgeStopped', 'rawStart', 0.95).toFixed(1)} ms`,
  );
  print(
    `paused vs stopped through nginx: ${(quantile(figures.edgeStopped ?? [], 0.5) / quantile(figures.edgePaused ?? [], 0.5)).toFixed(1)}× faster (medians)`,
  );
}

try {
  await main();
} finally {
  for (const fn of teardowns.splice(0).reverse()) await fn();
}
