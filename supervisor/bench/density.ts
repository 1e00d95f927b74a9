/**
 * Density benchmark: many registered users, a fifth of them running, on one host (issue 9's
 * target: 1,000 users, 200 running). One run prints:
 *
 *   memory    resident memory of the supervisor and the gateway, compiled as the images run them,
 *             right after their start and again with every user registered and the tenants
 *             running; memory per running tenant (the engine's figure, median)
 *   idle CPU  CPU of the running tenants together over a window with no traffic (goal: under 10%
 *             of one core for 200), and the engine's own over the same window
 *   proxy     the gateway's p50/p99 and throughput with the load spread over every running tenant,
 *             against the same load on one tenant, in alternating rounds (wrk, 50 connections,
 *             straight to the gateway so that nginx is not measured), with the CPU the gateway,
 *             the supervisor and the tenants used meanwhile (% of one core)
 *
 * The users sign in through the gateway (dev login), which records them in the central database;
 * the running ones are woken through the supervisor's internal API, as the gateway does; the
 * others stay asleep (registered, no container).
 *
 * Usage (after `npm run build` and the tenant image):
 *   npx tsx --conditions=tenancy-source supervisor/bench/density.ts [users=1000] [running=200]
 * Env:   DENSITY_SETTLE (seconds between the last wake and the idle window, default 60),
 *        DENSITY_WINDOW (idle window, seconds, default 20), DENSITY_ROUNDS (proxy rounds, default 3),
 *        DENSITY_SECONDS (seconds per proxy round and path, default 10)
 * Traffic goes only to 127.0.0.1 and to the containers on the networks the supervisor creates;
 * every container, network and volume is removed at the end.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  parseWrk,
  readJson,
  type SupervisorProcess,
  seg,
  startGateway,
  startRedisServer,
  startSupervisor,
  testDocker,
  type WrkRun,
} from '@tenancy/test-support';
import { containerCounters, engineCpu, engineDelta, processCpuNs, residentBytes } from './engine-counters.js';

const users = Number(process.argv[2] ?? 1000);
const running = Number(process.argv[3] ?? 200);
const settleSeconds = Number(process.env.DENSITY_SETTLE ?? 60);
const windowSeconds = Number(process.env.DENSITY_WINDOW ?? 20);
const rounds = Number(process.env.DENSITY_ROUNDS ?? 3);
const roundSeconds = Number(process.env.DENSITY_SECONDS ?? 10);
if (!(users >= 1 && users <= 5000 && running >= 1 && running <= Math.min(users, 300))) {
  throw new RangeError('users must be 1..5000 and running 1..min(users, 300)');
}
const PATH = '/app.js';

const execFileAsync = promisify(execFile);
const print = (line = '') => process.stdout.write(`${line}\n`);
const progress = (line: string) => process.stderr.write(`density: ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const teardowns: (() => unknown)[] = [];
const scope = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

/** One proxy round: wrk's figures and the share of a core each service used meanwhile. */
interface Round extends WrkRun {
  gatewayCpu: number;
  supervisorCpu: number;
  /** Every running tenant together. */
  tenantsCpu: number;
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Signs a user in through the gateway; returns the session cookie (name=value). */
async function login(gatewayUrl: string, userId: string): Promise<string> {
  const res = await fetch(`${gatewayUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: userId }),
  });
  await res.arrayBuffer();
  const cookie = res.headers.getSetCookie()[0]?.split(';')[0];
  if (res.status !== 200 || !cookie) throw new Error(`login of ${userId} answered ${res.status}`);
  return cookie;
}

/** Wakes a tenant as the gateway does, asking again after Retry-After while it is queued. */
async function wake(supervisor: SupervisorProcess, userId: string): Promise<void> {
  for (;;) {
    const res = await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
    const body = await readJson(res);
    if (res.status === 503 && body.code === 'SUP_ERR_WAKE_PENDING') {
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
      continue;
    }
    if (res.status !== 200 || body.state !== 'running')
      throw new Error(`wake of ${userId}: ${res.status} ${body.code}`);
    return;
  }
}

/** wrk against the gateway, each request carrying the next of `cookies` (a Lua script). */
async function wrk(gatewayUrl: string, cookies: string[], dir: string): Promise<WrkRun> {
  const script = join(dir, `cookies-${cookies.length}.lua`);
  await writeFile(
    script,
    `local cookies = { ${cookies.map((c) => JSON.stringify(c)).join(', ')} }\n` +
      'local i = math.random(#cookies)\n' +
      'request = function()\n' +
      '  i = i % #cookies + 1\n' +
      `  return wrk.format("GET", "${PATH}", { ["Cookie"] = cookies[i] })\n` +
      'end\n',
  );
  const { stdout } = await execFileAsync(
    'wrk',
    ['-t2', '-c50', `-d${roundSeconds}s`, '--latency', '--timeout', '5s', '-s', script, `${gatewayUrl}${PATH}`],
    { encoding: 'utf8', timeout: (roundSeconds + 30) * 1000 },
  );
  return parseWrk(stdout);
}

async function main(): Promise<void> {
  // The services as the images run them: compiled JavaScript, not tsx.
  process.env.TENANCY_SERVICES = 'compiled';
  const dir = await mkdtemp(join(tmpdir(), 'density-'));
  scope.teardown(() => rm(dir, { recursive: true, force: true }));
  const redis = await startRedisServer(scope);
  const supervisor = await startSupervisor(scope, {
    MAX_RUNNING_TENANTS: String(running + 10),
    IDLE_TIMEOUT: '1h',
    LOG_LEVEL: 'warn',
  });
  const gateway = await startGateway(scope, {
    AUTH_MODE: 'dev',
    DEV_AUTH_ENABLED: 'true',
    SUPERVISOR_URL: supervisor.url,
    SUPERVISOR_TOKEN: supervisor.internalToken,
    REDIS_URL: redis.url,
    PUBLIC_BASE_URL: 'http://127.0.0.1:8080',
    // Its log goes to this process's memory here: one line per request would be this
    // benchmark's own cost. Both proxy phases run at the same level.
    LOG_LEVEL: 'warn',
  });
  const supervisorPid = supervisor.pid();
  const gatewayPid = gateway.pid();
  if (!supervisorPid || !gatewayPid) throw new Error('a service has no process id');
  const pids = { supervisor: supervisorPid, gateway: gatewayPid };
  await sleep(2_000);
  const startRss = {
    supervisor: await residentBytes(pids.supervisor),
    gateway: await residentBytes(pids.gateway),
  };

  // A login through the gateway also starts its user's container (so that it is warm when asked
  // for): the running users sign in there, the asleep ones are recorded as the gateway records a
  // login, without the wake.
  progress(`${users} users: ${running} sign in through the gateway, ${users - running} are recorded`);
  const ids = Array.from({ length: users }, (_, i) => `density-${String(i).padStart(4, '0')}`);
  let started = performance.now();
  await pool(ids.slice(running), 20, async (id) => {
    const res = await supervisor.api('PUT', `/internal/v1/users/${seg(id)}`, {}, 'internal');
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`recording ${id} answered ${res.status}`);
  });
  const cookies = await pool(ids.slice(0, running), 20, (id) => login(gateway.url, id));
  const loginSeconds = (performance.now() - started) / 1000;

  progress(`${running} tenants wake (each login started one)`);
  started = performance.now();
  await Promise.all(ids.slice(0, running).map((id) => wake(supervisor, id)));
  const wakeSeconds = (performance.now() - started) / 1000;
  // Every running tenant through the gateway once: its route is cached, as after real use.
  const runningCookies = cookies.slice(0, running);
  await pool(runningCookies, 20, async (cookie) => {
    const res = await fetch(`${gateway.url}${PATH}`, { headers: { cookie } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`a first request through the gateway answered ${res.status}`);
  });

  progress(`settling ${settleSeconds} s, then ${windowSeconds} s of idle window`);
  await sleep(settleSeconds * 1000);
  const docker = testDocker();
  const listed = await docker.listContainers({
    filters: { label: [`dev.tenancy.instance=${supervisor.instance}`, 'dev.tenancy.role=tenant'] },
  });
  const containers = listed.map((c) => c.Id);
  if (containers.length !== running) {
    throw new Error(`${containers.length} containers run, not ${running}: ${listed.map((c) => c.Names).join(' ')}`);
  }
  const before = await pool(containers, 10, (id) => containerCounters(docker, id));
  const engineBefore = await engineCpu();
  const windowStart = performance.now();
  await sleep(windowSeconds * 1000);
  const after = await pool(containers, 10, (id) => containerCounters(docker, id));
  const engineAfter = await engineCpu();
  const windowNs = (performance.now() - windowStart) * 1e6;
  const tenantsCpu = (after.reduce((sum, a, i) => sum + a.cpuNs - (before[i]?.cpuNs ?? a.cpuNs), 0) / windowNs) * 100;
  const engine = (engineDelta(engineBefore, engineAfter) / windowNs) * 100;
  const loadedRss = {
    supervisor: await residentBytes(pids.supervisor),
    gateway: await residentBytes(pids.gateway),
  };

  progress(`proxy: ${rounds} rounds of ${roundSeconds} s per path`);
  const tenantsCpuNs = async () =>
    (await pool(containers, 10, (id) => containerCounters(docker, id))).reduce((sum, c) => sum + c.cpuNs, 0);
  const spread: Round[] = [];
  const single: Round[] = [];
  for (let round = 0; round < rounds; round++) {
    // Alternating order, so that neither path always runs on a warmer (or busier) host.
    const order = round % 2 ? [single, spread] : [spread, single];
    for (const runs of order) {
      const tenantsBefore = await tenantsCpuNs();
      const cpuBefore = [await processCpuNs(pids.gateway), await processCpuNs(pids.supervisor)];
      const began = performance.now();
      const run = await wrk(gateway.url, runs === spread ? runningCookies : cookies.slice(0, 1), dir);
      const ns = (performance.now() - began) * 1e6;
      const gatewayNs = (await processCpuNs(pids.gateway)) - (cpuBefore[0] ?? 0);
      const supervisorNs = (await processCpuNs(pids.supervisor)) - (cpuBefore[1] ?? 0);
      // Read after the window (200 reads take a while): what the tenants used is in their counters.
      runs.push({
        ...run,
        gatewayCpu: gatewayNs / ns,
        supervisorCpu: supervisorNs / ns,
        tenantsCpu: ((await tenantsCpuNs()) - tenantsBefore) / ns,
      });
    }
  }
  const gatewayRssAfterLoad = await residentBytes(pids.gateway);

  const pick = (runs: Round[], key: keyof Round) => median(runs.map((r) => r[key]));
  print(
    `density: ${users} users, ${running} running, ${users - running} asleep (registered, no container); ` +
      `${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, node ${process.version}, ` +
      `load average ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
  );
  print(
    `${users} users registered in ${loginSeconds.toFixed(1)} s; the ${running} wakes (started by their logins) all served ${wakeSeconds.toFixed(1)} s later`,
  );
  print();
  print('| figure | value |');
  print('|---|---|');
  print(`| supervisor RSS, just started | ${mib(startRss.supervisor)} |`);
  print(`| supervisor RSS, ${users} users, ${running} running | ${mib(loadedRss.supervisor)} |`);
  print(`| gateway RSS, just started | ${mib(startRss.gateway)} |`);
  print(`| gateway RSS, ${running} sessions issued and routes cached | ${mib(loadedRss.gateway)} |`);
  print(`| gateway RSS, after the proxy rounds | ${mib(gatewayRssAfterLoad)} |`);
  print(`| memory per running tenant (median) | ${mib(median(after.map((a) => a.memoryBytes)))} |`);
  print(
    `| ${running} idle tenants' CPU together (${windowSeconds} s window) | ${tenantsCpu.toFixed(2)} % of one core |`,
  );
  print(`| engine CPU over the same window | ${engine.toFixed(2)} % of one core |`);
  print();
  print(
    '| gateway, wrk -t2 -c50 | req/s (median) | p50 | p99 | non-2xx | socket errors | gateway CPU | supervisor CPU | tenants CPU | tenants CPU per request |',
  );
  print('|---|---|---|---|---|---|---|---|---|---|');
  for (const [label, runs] of [
    [`load over ${running} tenants`, spread],
    ['load on 1 tenant', single],
  ] as const) {
    print(
      `| ${label} | ${pick(runs, 'perSecond').toFixed(0)} | ${pick(runs, 'p50').toFixed(2)} ms | ${pick(runs, 'p99').toFixed(2)} ms | ` +
        `${runs.reduce((s, r) => s + r.non2xx, 0)} | ${runs.reduce((s, r) => s + r.socketErrors, 0)} | ` +
        `${(pick(runs, 'gatewayCpu') * 100).toFixed(0)} % | ${(pick(runs, 'supervisorCpu') * 100).toFixed(0)} % | ` +
        `${(pick(runs, 'tenantsCpu') * 100).toFixed(0)} % | ${((pick(runs, 'tenantsCpu') / pick(runs, 'perSecond')) * 1000).toFixed(2)} ms |`,
    );
  }
  print();
  print(
    `ratios: p99 over ${running} / over 1: ${(pick(spread, 'p99') / pick(single, 'p99')).toFixed(2)}x; ` +
      `throughput ${(pick(spread, 'perSecond') / pick(single, 'perSecond')).toFixed(2)}x`,
  );
  print(
    `goals: ${running} idle tenants under 10% of one core: ${tenantsCpu < 10 ? 'met' : 'not met'} (${tenantsCpu.toFixed(2)} %); ` +
      `supervisor RSS ≤ 150 MB: ${loadedRss.supervisor <= 150e6 ? 'met' : 'not met'} (${(loadedRss.supervisor / 1e6).toFixed(1)} MB)`,
  );
}

try {
  await main();
} finally {
  progress('removing the tenants');
  for (const fn of teardowns.splice(0).reverse()) await fn();
}
