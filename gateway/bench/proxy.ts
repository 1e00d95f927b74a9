/**
 * Proxy benchmark: the same request measured through five paths in one run, with wrk against one
 * real tenant container, nginx in front of each path:
 *
 *   direct        nginx → tenant
 *   gateway       nginx → gateway → tenant (session cookie checked, revocation view, headers
 *                 rewritten, activity counted, one log line at info)
 *   chp           nginx → configurable-http-proxy (JupyterHub's proxy) → tenant
 *   bare          nginx → @fastify/http-proxy alone → tenant (gateway/bench/bare-proxy.ts)
 *   gateway x2    nginx → two gateway processes (nginx upstream, round robin) → tenant
 *
 * The request is GET /app.js (1,966 bytes, served from memory by the tenant app). Every path
 * sends the tenant secret (nginx, chp and bare add it; the gateway adds it from the route), so
 * the tenant does the same work for each. The tenant runs with LOG_LEVEL=warn so its own log is
 * not what is measured; the gateways run with LOG_LEVEL=info, their default, writing to a file.
 *
 * The tenant is a container of TENANT_IMAGE made with the supervisor's hardened definition, on a
 * network this script creates. The gateways are real processes (src/server.ts through tsx) in
 * AUTH_MODE=dev against their own redis-server and a stand-in supervisor in this process that
 * answers every route lookup with that container (and keeps the stop feed open); no supervisor
 * or Docker call is on the measured path, as in production once the route is cached.
 *
 * nginx: the main config of host mode (nginx/standalone.conf.template: one worker), one server per
 * path, each with the production proxy settings (nginx/tenancy-proxy.conf, keep-alive upstreams)
 * and no rate limits or access log (both would be the same for every path).
 *
 * Each round runs wrk (2 threads, BENCH_CONNECTIONS connections, default 50) for `seconds` on
 * every path, in a rotating order; figures are medians over the rounds.
 *
 * Usage: npx tsx --conditions=tenancy-source gateway/bench/proxy.ts [seconds=10] [rounds=3]
 * Env:   TENANT_IMAGE (default tenancy/tenant:local), BENCH_CONNECTIONS (default 50)
 * Traffic goes only to 127.0.0.1 and to the container on the network this script creates; it
 * removes the container, its volumes and the network (label dev.tenancy.instance=<its instance>).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, parseWrk, type WrkRun, waitForHttp } from '@tenancy/test-support';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { DEFAULT_PLAN } from '../../supervisor/src/plans.js';
import { containerOptions, tenantLabels } from '../../supervisor/src/runtime/container-spec.js';
import { objectNames } from '../../supervisor/src/runtime/names.js';
import { firstFreeSubnet, parseCidr } from '../../supervisor/src/runtime/subnet-pool.js';
import type { TenantSpec } from '../../supervisor/src/runtime/types.js';

const seconds = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const image = process.env.TENANT_IMAGE ?? 'tenancy/tenant:local';
if (!(seconds >= 1 && seconds <= 60) || !(rounds >= 1 && rounds <= 9) || !(connections >= 1 && connections <= 500)) {
  throw new RangeError('seconds must be 1..60, rounds 1..9, BENCH_CONNECTIONS 1..500');
}

const execFileAsync = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const PATH = '/app.js';
const EXPECTED_BYTES = readFileSync(join(ROOT, 'tenant-image/public/app.js')).length;
const SECRET = `bench-${randomBytes(12).toString('hex')}`;
const USER = 'bench-user';
const instance = `benchproxy${randomBytes(3).toString('hex')}`;
const docker = new Docker();
const dir = mkdtempSync(join(tmpdir(), 'tenancy-bench-proxy-'));
const teardowns: (() => unknown)[] = [];
const print = (line = '') => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`proxy bench: ${line}\n`);

/** A child process whose output goes to a file in the bench folder; killed at the end. */
function spawnLogged(name: string, command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const out = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', out, out],
  });
  // SIGTERM first: nginx's master must stop its worker itself (a killed master leaves it behind).
  teardowns.push(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  );
  return child;
}

/** The tenant container, hardened as the supervisor makes it, on a network of its own. */
async function startTenant(): Promise<string> {
  const existing = (await docker.listNetworks()).flatMap((n) =>
    (n.IPAM?.Config ?? []).flatMap((c) => (c.Subnet?.includes('.') ? [parseCidr(c.Subnet)] : [])),
  );
  const subnet = firstFreeSubnet(parseCidr('10.219.0.0/16'), 28, new Set(), existing);
  if (!subnet) throw new Error('no free /28 in 10.219.0.0/16 for the bench network');
  const hash = randomBytes(12).toString('hex');
  const labels = tenantLabels(instance, hash, { 'dev.tenancy.bench': 'proxy' });
  const names = objectNames(instance, hash);
  teardowns.push(async () => {
    const filters = { label: [`dev.tenancy.instance=${instance}`] };
    for (const c of await docker.listContainers({ all: true, filters }))
      await docker.getContainer(c.Id).remove({ force: true });
    for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) await docker.getVolume(v.Name).remove();
    for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove();
  });
  await docker.createNetwork({
    Name: names.network,
    Driver: 'bridge',
    Internal: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
    Labels: labels,
  });
  for (const volume of [names.filesVolume, names.historyVolume])
    await docker.createVolume({ Name: volume, Labels: labels });
  const spec: TenantSpec = {
    names,
    tenantHash: hash,
    image,
    limits: DEFAULT_PLAN,
    subnet,
    // The tenant's own log must not be what is measured: warnings only.
    env: { PORT: '8080', TENANT_SECRET: SECRET, LOG_LEVEL: 'warn' },
    port: 8080,
    stopGraceMs: 1_000,
  };
  const container = await docker.createContainer(containerOptions(spec, labels));
  await container.start();
  const ip = (await container.inspect()).NetworkSettings.Networks?.[names.network]?.IPAddress;
  if (!ip) throw new Error('the tenant container has no address');
  const url = `http://${ip}:8080`;
  await waitForHttp(`${url}/health`, 120_000);
  return url;
}

/** The supervisor's internal API as far as the gateway uses it: the user's tenant is running. */
async function startFakeSupervisor(tenantUrl: string): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    if (req.url === '/internal/v1/events') {
      // The stop feed: connected, nothing ever stops.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: hello\ndata: {}\n\n');
      return;
    }
    req.on('end', () => {
      if (req.url?.startsWith('/internal/v1/users/')) {
        const userId = decodeURIComponent(req.url.split('/')[4] ?? '');
        res.end(JSON.stringify({ userId, email: null, plan: 'free', onboardingCompleted: true, disabled: false }));
      } else if (req.url === '/internal/v1/activity') {
        res.statusCode = 204;
        res.end();
      } else if (req.url === '/health') {
        res.end('{"status":"ok"}');
      } else {
        res.end(JSON.stringify({ state: 'running', endpoint: { url: tenantUrl, secret: SECRET } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  teardowns.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startRedis(): Promise<string> {
  const port = await freePort();
  mkdirSync(join(dir, 'redis'));
  spawnLogged('redis', 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--dir',
    join(dir, 'redis'),
  ]);
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    redis.on('error', () => undefined);
    const up = await redis.connect().then(
      () => true,
      () => false,
    );
    redis.disconnect();
    if (up) return url;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('redis-server did not start');
}

/** A real gateway process, as `make dev` runs it, logging at its default level to a file. */
async function startGateway(name: string, env: Record<string, string>): Promise<string> {
  const port = await freePort();
  spawnLogged(name, process.execPath, ['--conditions=tenancy-source', '--import=tsx', 'gateway/src/server.ts'], {
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(port),
    LOG_LEVEL: 'info',
    ...env,
  });
  await waitForHttp(`http://127.0.0.1:${port}/health`, 30_000);
  return `127.0.0.1:${port}`;
}

async function startChp(tenantUrl: string): Promise<string> {
  const [port, apiPort] = [await freePort(), await freePort()];
  spawnLogged(
    'chp',
    process.execPath,
    [
      join(ROOT, 'node_modules/configurable-http-proxy/bin/configurable-http-proxy'),
      ...['--ip', '127.0.0.1', '--port', String(port), '--api-ip', '127.0.0.1', '--api-port', String(apiPort)],
      ...['--default-target', tenantUrl, '--custom-header', `x-tenancy-tenant-secret:${SECRET}`],
      ...['--log-level', 'warn'],
    ],
    { CONFIGPROXY_AUTH_TOKEN: randomBytes(16).toString('hex') },
  );
  await waitForHttp(`http://127.0.0.1:${port}/health`, 30_000);
  return `127.0.0.1:${port}`;
}

async function startBare(tenantUrl: string): Promise<string> {
  const port = await freePort();
  spawnLogged('bare', process.execPath, [
    '--import=tsx',
    'gateway/bench/bare-proxy.ts',
    String(port),
    tenantUrl,
    SECRET,
  ]);
  await waitForHttp(`http://127.0.0.1:${port}/health`, 30_000);
  return `127.0.0.1:${port}`;
}

interface Path {
  name: string;
  /** host:port of what nginx proxies to. */
  upstreams: string[];
  /** Extra proxy_set_header lines (the secret, where nginx talks to the tenant itself). */
  extra?: string;
  port?: number;
}

/** One nginx (one worker) with a server per path, each with the production proxy settings. */
async function startNginx(paths: Path[]): Promise<void> {
  const prefix = join(dir, 'nginx');
  for (const sub of ['logs', 'tmp', 'conf']) mkdirSync(join(prefix, sub), { recursive: true });
  const proxyConf = readFileSync(join(ROOT, 'nginx/tenancy-proxy.conf'), 'utf8');
  const blocks: string[] = [
    // The variables nginx/tenancy-proxy.conf uses, as nginx/tenancy.conf.template defines them.
    'map $http_upgrade $tenancy_connection_upgrade { default upgrade; "" ""; }',
    'map "" $tenancy_client_ip { default $remote_addr; }',
    'access_log off;',
  ];
  for (const path of paths) {
    path.port = await freePort();
    const upstream = `bench_${path.name.replace(/\W/g, '_')}`;
    writeFileSync(
      join(prefix, 'conf', `${upstream}.conf`),
      proxyConf.replace('http://tenancy_gateway', `http://${upstream}`),
    );
    blocks.push(
      `upstream ${upstream} { ${path.upstreams.map((u) => `server ${u};`).join(' ')} keepalive 64; keepalive_timeout 60s; }`,
      `server { listen 127.0.0.1:${path.port}; location / { include ${upstream}.conf; ${path.extra ?? ''} } }`,
    );
  }
  writeFileSync(join(prefix, 'conf', 'tenancy.conf'), blocks.join('\n'));
  const main = readFileSync(join(ROOT, 'nginx/standalone.conf.template'), 'utf8');
  writeFileSync(join(prefix, 'conf', 'nginx.conf'), main.replace(/\$\{PREFIX\}/g, prefix));
  const args = ['-p', prefix, '-c', join(prefix, 'conf', 'nginx.conf')];
  execFileSync('nginx', [...args, '-t', '-q'], { stdio: ['ignore', 'ignore', 'inherit'] });
  spawnLogged('nginx', 'nginx', args);
}

type Run = WrkRun;

/** wrk in a child process; this process keeps serving the stand-in supervisor meanwhile. */
async function wrk(port: number, cookie: string, duration: number): Promise<Run> {
  const { stdout: output } = await execFileAsync(
    'wrk',
    [
      ...['-t2', `-c${connections}`, `-d${duration}s`, '--latency', '--timeout', '5s'],
      ...['-H', `Cookie: ${cookie}`, `http://127.0.0.1:${port}${PATH}`],
    ],
    { encoding: 'utf8', timeout: (duration + 30) * 1000 },
  );
  return parseWrk(output);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

async function main(): Promise<void> {
  for (const tool of ['wrk', 'nginx', 'redis-server']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is needed (Debian: apt-get install wrk nginx-light redis-server)`);
    }
  }
  note(`starting a tenant container of ${image}`);
  const tenantUrl = await startTenant();
  const tenantAddress = tenantUrl.replace('http://', '');
  const supervisorUrl = await startFakeSupervisor(tenantUrl);
  const redisUrl = await startRedis();
  const gatewayEnv = {
    AUTH_MODE: 'dev',
    DEV_AUTH_ENABLED: 'true',
    SUPERVISOR_URL: supervisorUrl,
    SUPERVISOR_TOKEN: 'b'.repeat(32),
    REDIS_URL: redisUrl,
    ROUTE_CACHE_TTL: '1h',
    // Both replicas sign and verify with one key, as replicas do.
    COOKIE_JWT_SECRET: randomBytes(32).toString('base64url'),
  };
  note('starting two gateways, configurable-http-proxy, the bare proxy and nginx');
  const [gatewayA, gatewayB, chp, bare] = await Promise.all([
    startGateway('gateway-a', gatewayEnv),
    startGateway('gateway-b', gatewayEnv),
    startChp(tenantUrl),
    startBare(tenantUrl),
  ]);
  const paths: Path[] = [
    { name: 'direct', upstreams: [tenantAddress], extra: `proxy_set_header X-Tenancy-Tenant-Secret "${SECRET}";` },
    { name: 'gateway', upstreams: [gatewayA] },
    { name: 'chp', upstreams: [chp] },
    { name: 'bare', upstreams: [bare] },
    { name: 'gateway x2', upstreams: [gatewayA, gatewayB] },
  ];
  await startNginx(paths);

  const login = await fetch(`http://${gatewayA}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: USER }),
  });
  const cookie = (login.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
  if (login.status !== 200 || !cookie) throw new Error(`login failed: ${login.status}`);

  // Every path must answer the real thing before it is measured.
  for (const path of paths) {
    await waitForHttp(`http://127.0.0.1:${path.port}/health`, 10_000).catch(() => undefined);
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`http://127.0.0.1:${path.port}${PATH}`, { headers: { cookie } });
      const body = await res.arrayBuffer();
      if (res.status !== 200 || body.byteLength !== EXPECTED_BYTES) {
        throw new Error(`${path.name}: ${PATH} answered ${res.status} with ${body.byteLength} bytes`);
      }
    }
  }
  note(`warming every path (3 s each), then ${rounds} rounds of ${seconds} s per path`);
  for (const path of paths) await wrk(path.port ?? 0, cookie, 3);

  const loadBefore = loadavg()[0] ?? Number.NaN;
  const redis = new Redis(redisUrl);
  teardowns.push(() => redis.disconnect());
  const commandsBefore = await processedCommands(redis);
  const runs = new Map<string, Run[]>(paths.map((path) => [path.name, []]));
  for (let round = 0; round < rounds; round++) {
    // A rotating order, so no path always runs first (or last) in a round.
    const order = paths.map((_, i) => paths[(i + round) % paths.length] as Path);
    for (const path of order) {
      const run = await wrk(path.port ?? 0, cookie, seconds);
      if (run.non2xx > 0) throw new Error(`${path.name}: ${run.non2xx} answers not 2xx/3xx in round ${round + 1}`);
      runs.get(path.name)?.push(run);
      note(
        `round ${round + 1} ${path.name}: ${run.perSecond.toFixed(0)} req/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, ${run.socketErrors} socket errors`,
      );
    }
  }
  // The INFO calls themselves are the only commands expected.
  const redisCommands = (await processedCommands(redis)) - commandsBefore - 1;

  const figure = (name: string) => {
    const list = runs.get(name) ?? [];
    return {
      perSecond: median(list.map((r) => r.perSecond)),
      min: Math.min(...list.map((r) => r.perSecond)),
      max: Math.max(...list.map((r) => r.perSecond)),
      p50: median(list.map((r) => r.p50)),
      p99: median(list.map((r) => r.p99)),
      socketErrors: list.reduce((sum, r) => sum + r.socketErrors, 0),
    };
  };
  const direct = figure('direct');
  const gateway = figure('gateway');
  const chpFigure = figure('chp');
  const bareFigure = figure('bare');
  const twice = figure('gateway x2');
  const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
  const times = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const verdict = (ok: boolean) => (ok ? 'met' : 'not met');

  print(`### proxy (${new Date().toISOString().slice(0, 10)})`);
  print();
  print(
    `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GB, ` +
      `node ${process.version}, Linux ${release()}, ${nginxVersion()}, ${wrkVersion()}. Shared with other work ` +
      `(load average ${loadBefore.toFixed(1)} before the rounds, ${(loadavg()[0] ?? Number.NaN).toFixed(1)} after): ratios matter more than absolutes.`,
  );
  print();
  print(
    `\`GET ${PATH}\` (${EXPECTED_BYTES} bytes) from one tenant container (${image}, LOG_LEVEL=warn), wrk -t2 -c${connections}, ` +
      `${seconds} s per path per round, ${rounds} rounds in rotating order; medians over the rounds.`,
  );
  print();
  print('| path | req/s (median) | req/s (min–max) | p50 | p99 | socket errors |');
  print('|---|---|---|---|---|---|');
  for (const path of paths) {
    const f = figure(path.name);
    print(
      `| ${path.name} | ${f.perSecond.toFixed(0)} | ${f.min.toFixed(0)}–${f.max.toFixed(0)} | ${f.p50.toFixed(2)} ms | ${f.p99.toFixed(2)} ms | ${f.socketErrors} |`,
    );
  }
  print();
  print('| ratio | value | goal |');
  print('|---|---|---|');
  print(
    `| gateway / direct throughput | ${pct(gateway.perSecond, direct.perSecond)} | ≥ 40%: ${verdict(gateway.perSecond >= 0.4 * direct.perSecond)} |`,
  );
  print(
    `| gateway / chp throughput | ${times(gateway.perSecond, chpFigure.perSecond)} | ≥ 1.8x: ${verdict(gateway.perSecond >= 1.8 * chpFigure.perSecond)} |`,
  );
  print(
    `| gateway p99 / direct p99 | ${times(gateway.p99, direct.p99)} | ≤ 3x: ${verdict(gateway.p99 <= 3 * direct.p99)} |`,
  );
  print(`| gateway / bare @fastify/http-proxy throughput | ${pct(gateway.perSecond, bareFigure.perSecond)} | |`);
  print(`| chp / direct throughput | ${pct(chpFigure.perSecond, direct.perSecond)} | |`);
  print(`| bare / direct throughput | ${pct(bareFigure.perSecond, direct.perSecond)} | |`);
  print(
    `| gateway x2 / direct throughput | ${pct(twice.perSecond, direct.perSecond)} | ≥ 40%: ${verdict(twice.perSecond >= 0.4 * direct.perSecond)} |`,
  );
  print(`| gateway x2 / gateway throughput | ${times(twice.perSecond, gateway.perSecond)} | |`);
  print(
    `| gateway x2 p99 / direct p99 | ${times(twice.p99, direct.p99)} | ≤ 3x: ${verdict(twice.p99 <= 3 * direct.p99)} |`,
  );
  print();
  print(`Redis commands while the gateways served every measured request: ${redisCommands}.`);
}

async function processedCommands(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

function nginxVersion(): string {
  const output = execFileSync('sh', ['-c', 'nginx -v 2>&1 || true'], { encoding: 'utf8' });
  return /nginx\/[^\s]+/.exec(output)?.[0] ?? 'nginx';
}

function wrkVersion(): string {
  const output = execFileSync('sh', ['-c', 'wrk -v 2>&1 || true'], { encoding: 'utf8' });
  return /^wrk [^\s]+/.exec(output)?.[0] ?? 'wrk';
}

/** Stops every process and removes every object and file this run made (once). */
async function teardown(): Promise<void> {
  for (const fn of teardowns.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}

// Ctrl-C or a kill still removes what the run made.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    note(`${signal}: removing what the bench made`);
    void teardown().finally(() => process.exit(130));
  });
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(teardown);
