/**
 * Proxy overhead benchmark, printing figures and ratios from one run:
 *
 *   direct    the load generator against a small tenant app (the baseline)
 *   gateway   the same requests through the real gateway process: session cookie checked, headers
 *             rewritten, proxied over kept-alive connections to the same tenant app
 *
 * It also counts the commands Redis received while the gateway served (steady state: none).
 * Everything runs on 127.0.0.1: a tenant app and the gateway as child processes, a stand-in
 * supervisor in this process, and a redis-server of its own.
 *
 * Usage: npx tsx --conditions=tenancy-source gateway/bench/proxy.ts [requests] [concurrency]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startGateway } from '@tenancy/test-support';
import { Redis } from 'ioredis';

const total = Number(process.argv[2] ?? 20_000);
const concurrency = Number(process.argv[3] ?? 32);
const teardowns: (() => unknown)[] = [];
const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };

/** A tenant app in its own process: answers every request with a small JSON body. */
async function startTenant(): Promise<string> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `require('http').createServer((q, s) => { q.resume(); q.on('end', () => {
        s.writeHead(200, { 'content-type': 'application/json' }); s.end('{"reply":"hello from the tenant"}'); }); })
        .listen(${port}, '127.0.0.1')`,
    ],
    { stdio: 'ignore' },
  );
  t.teardown(() => child.kill('SIGKILL'));
  await waitForPort(port);
  return `http://127.0.0.1:${port}`;
}

/** The supervisor's internal API as far as the gateway uses it: every user's tenant is running. */
async function startFakeSupervisor(tenantUrl: string): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/internal/v1/users/')) {
        const userId = decodeURIComponent(req.url.split('/')[4] ?? '');
        res.end(JSON.stringify({ userId, email: null, plan: 'free', onboardingCompleted: true, disabled: false }));
      } else if (req.url === '/internal/v1/activity') {
        res.statusCode = 204;
        res.end();
      } else if (req.url === '/health') {
        res.end('{"status":"ok"}');
      } else {
        res.end(JSON.stringify({ state: 'running', endpoint: { url: tenantUrl, secret: 'bench-secret-0123456789' } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startRedis(): Promise<string> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir], {
    stdio: 'ignore',
  });
  t.teardown(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForPort(port);
  return `redis://127.0.0.1:${port}`;
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nothing listens on ${port}`);
}

interface Result {
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** `count` GET requests with `concurrency` kept-alive connections; latency in milliseconds. */
async function load(url: string, headers: Record<string, string>, count: number): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const started = performance.now();
      const req = request(`${url}/chat`, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          latencies.push(performance.now() - started);
          resolve();
        });
      });
      req.on('error', reject);
      req.end();
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await one();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { seconds, perSecond: count / seconds, p50: at(0.5), p99: at(0.99) };
}

async function main(): Promise<void> {
  const tenantUrl = await startTenant();
  const supervisorUrl = await startFakeSupervisor(tenantUrl);
  const redisUrl = await startRedis();
  const gateway = await startGateway(t, {
    AUTH_MODE: 'dev',
    DEV_AUTH_ENABLED: 'true',
    SUPERVISOR_URL: supervisorUrl,
    SUPERVISOR_TOKEN: 'b'.repeat(32),
    REDIS_URL: redisUrl,
    ROUTE_CACHE_TTL: '1h',
    LOG_LEVEL: 'warn',
  });
  const login = await fetch(`${gateway.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: 'bench-user' }),
  });
  const cookie = (login.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
  if (login.status !== 200 || !cookie) throw new Error(`login failed: ${login.status}`);

  // Warm both paths (JIT, connection pools, the gateway's caches) before measuring.
  await load(tenantUrl, {}, 2_000);
  await load(gateway.url, { cookie }, 2_000);

  const redis = new Redis(redisUrl);
  t.teardown(() => redis.disconnect());
  const commandsBefore = await processedCommands(redis);
  const direct = await load(tenantUrl, {}, total);
  const proxied = await load(gateway.url, { cookie }, total);
  // The INFO call itself and the one before it are the only commands expected.
  const redisCommands = (await processedCommands(redis)) - commandsBefore - 1;

  const row = (name: string, r: Result) =>
    `${name.padEnd(8)} ${r.perSecond.toFixed(0).padStart(8)} req/s   p50 ${r.p50.toFixed(2).padStart(6)} ms   p99 ${r.p99.toFixed(2).padStart(6)} ms`;
  const print = (line: string) => process.stdout.write(`${line}\n`);
  print(`${total} requests, ${concurrency} connections, on this machine:`);
  print(row('direct', direct));
  print(row('gateway', proxied));
  print(`gateway keeps ${((proxied.perSecond / direct.perSecond) * 100).toFixed(0)}% of direct throughput`);
  print(`Redis commands while the gateway served ${total} authenticated requests: ${redisCommands}`);
}

async function processedCommands(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const fn of teardowns.reverse()) await fn();
  });
