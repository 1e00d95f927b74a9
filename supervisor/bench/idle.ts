/**
 * Idle cost benchmark against the real engine, printing figures and ratios from one run:
 *
 *   N tenant containers made from the tenant image with the supervisor's own hardened definition
 *   (containerOptions), on one network this script creates, all answering /health; then left
 *   alone for a settle period, and measured over a window:
 *
 *   tenants   CPU the containers used (the engine's cumulative per-container counters, read before
 *             and after the window), as % of one core, together and per tenant
 *   engine    CPU of dockerd, containerd and the container shims over the same window (a health
 *             check's `docker exec` costs there too); shared with everything else on the host
 *   memory    each container's memory use less its inactive page cache (what `docker stats` shows)
 *
 * With BASELINE_IMAGE set, that image is measured first the same way, in the same run, and the
 * ratios compare the two per tenant (for example the image built from main before a change).
 * BASELINE_COUNT runs fewer of them: 50 tenants that each spawn a health check process every
 * 10 s saturate a 2-core host, and starting them then takes minutes.
 *
 * Usage: npx tsx --conditions=tenancy-source supervisor/bench/idle.ts [count=50] [seconds=20]
 * Env:   TENANT_IMAGE (default tenancy/tenant:local), BASELINE_IMAGE (optional), BASELINE_COUNT,
 *        IDLE_SETTLE (seconds between the last tenant answering and the window, default 60)
 * Traffic goes only to the containers on the network this script creates; it removes every
 * container, volume and network it made (label dev.tenancy.instance=<its instance>) at the end.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import Docker from 'dockerode';
import { DEFAULT_PLAN } from '../src/plans.js';
import { containerOptions, tenantLabels } from '../src/runtime/container-spec.js';
import { deriveIdentity, objectNames } from '../src/runtime/names.js';
import type { TenantSpec } from '../src/runtime/types.js';
import { createBenchNetwork } from './bench-network.js';
import { containerCounters, engineCpu, engineDelta } from './engine-counters.js';

const count = Number(process.argv[2] ?? 50);
const seconds = Number(process.argv[3] ?? 20);
// After its start a Node process keeps compiling and collecting garbage for tens of seconds:
// that is a start's cost, not the idle cost.
const settleSeconds = Number(process.env.IDLE_SETTLE ?? 60);
const image = process.env.TENANT_IMAGE ?? 'tenancy/tenant:local';
const baseline = process.env.BASELINE_IMAGE;
const baselineCount = Number(process.env.BASELINE_COUNT ?? count);
if (
  !(count >= 1 && count <= 250) ||
  !(baselineCount >= 1 && baselineCount <= count) ||
  !(seconds >= 1 && seconds <= 300)
) {
  throw new RangeError('count must be 1..250, BASELINE_COUNT 1..count and seconds 1..300');
}

const docker = new Docker();
const instance = `benchidle${randomBytes(3).toString('hex')}`;
const labels = (hash: string) => tenantLabels(instance, hash, { 'dev.tenancy.bench': 'idle' });
const network = `${instance}-net`;
const print = (line = '') => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates and starts one tenant the way the supervisor does; returns its id and address. */
async function startTenant(tenantImage: string, index: number): Promise<{ id: string; url: string }> {
  const hash = deriveIdentity('bench-key', `${tenantImage}#${index}`).hash;
  const names = { ...objectNames(instance, hash), network };
  const spec: TenantSpec = {
    names,
    tenantHash: hash,
    image: tenantImage,
    limits: DEFAULT_PLAN,
    subnet: '',
    env: { PORT: '8080', TENANT_SECRET: 'bench-secret-0123456789' },
    port: 8080,
    stopGraceMs: 1_000,
  };
  for (const volume of [names.filesVolume, names.historyVolume]) {
    await docker.createVolume({ Name: volume, Labels: labels(hash) });
  }
  const container = await docker.createContainer(containerOptions(spec, labels(hash)));
  await container.start();
  const info = await container.inspect();
  const ip = info.NetworkSettings.Networks?.[network]?.IPAddress;
  if (!ip) throw new Error(`tenant ${index} has no address on ${network}`);
  return { id: info.Id, url: `http://${ip}:8080` };
}

async function waitHealthy(url: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${url} did not answer /health in time`);
}

interface Result {
  image: string;
  count: number;
  startSeconds: number;
  tenantsCpu: number;
  engineCpu: number;
  memoryMiB: number[];
}

/** Starts `tenantCount` tenants of one image, lets them settle, measures the window, removes them. */
async function measure(tenantImage: string, tenantCount: number): Promise<Result> {
  const started = performance.now();
  const tenants: { id: string; url: string }[] = [];
  try {
    // A few at a time, as an ordered start queue would.
    for (let next = 0; next < tenantCount; ) {
      const batch = Array.from({ length: Math.min(4, tenantCount - next) }, (_, i) => next + i);
      next += batch.length;
      const batchTenants = await Promise.all(batch.map((index) => startTenant(tenantImage, index)));
      tenants.push(...batchTenants);
      await Promise.all(batchTenants.map((tenant) => waitHealthy(tenant.url, Date.now() + 120_000)));
    }
    const startSeconds = (performance.now() - started) / 1000;
    await sleep(settleSeconds * 1000);

    const before = await Promise.all(tenants.map((tenant) => containerCounters(docker, tenant.id)));
    const engineBefore = await engineCpu();
    const windowStart = performance.now();
    await sleep(seconds * 1000);
    const after = await Promise.all(tenants.map((tenant) => containerCounters(docker, tenant.id)));
    const engineAfter = await engineCpu();
    const windowNs = (performance.now() - windowStart) * 1e6;

    const cpuNs = after.reduce((sum, a, i) => sum + a.cpuNs - (before[i]?.cpuNs ?? a.cpuNs), 0);
    return {
      image: tenantImage,
      count: tenantCount,
      startSeconds,
      tenantsCpu: (cpuNs / windowNs) * 100,
      engineCpu: (engineDelta(engineBefore, engineAfter) / windowNs) * 100,
      memoryMiB: after.map((a) => a.memoryBytes / 1024 ** 2),
    };
  } finally {
    await Promise.all(
      tenants.map((tenant) =>
        docker
          .getContainer(tenant.id)
          .remove({ force: true, v: false })
          .catch(() => undefined),
      ),
    );
  }
}

/** Removes everything this run made; the engine may hold a network's endpoints a moment longer. */
async function cleanup(): Promise<void> {
  const filters = { label: [`dev.tenancy.instance=${instance}`] };
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker.getContainer(c.Id).remove({ force: true });
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) await docker.getVolume(v.Name).remove();
  for (const n of await docker.listNetworks({ filters })) {
    for (let attempt = 0; ; attempt++) {
      try {
        await docker.getNetwork(n.Id).remove();
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await sleep(500);
      }
    }
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  const results: Result[] = [];
  // Ctrl-C or a kill still removes what the run made.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`idle: ${signal}: removing the bench's containers\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    await createBenchNetwork(docker, network, labels('network'));
    for (const [tenantImage, n] of baseline
      ? ([
          [baseline, baselineCount],
          [image, count],
        ] as const)
      : ([[image, count]] as const)) {
      process.stderr.write(`idle: ${n} tenants of ${tenantImage}: starting\n`);
      results.push(await measure(tenantImage, n));
    }
  } finally {
    await cleanup().catch((err: unknown) => process.stderr.write(`idle: cleanup failed: ${String(err)}\n`));
  }
  print(`idle benchmark: running tenants, no traffic, CPU over ${seconds} s after ${settleSeconds} s of settling`);
  print(
    `machine: ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(0)} GB, node ${process.version}, load average ${(loadavg()[0] ?? 0).toFixed(1)} at the end; % is of one core`,
  );
  print();
  print('| image | tenants | started in | tenants CPU | per tenant | engine CPU | memory per tenant (median) |');
  print('|---|---|---|---|---|---|---|');
  for (const r of results) {
    print(
      `| ${r.image} | ${r.count} | ${r.startSeconds.toFixed(1)} s | ${r.tenantsCpu.toFixed(2)} % | ${(r.tenantsCpu / r.count).toFixed(3)} % | ${r.engineCpu.toFixed(2)} % | ${median(r.memoryMiB).toFixed(1)} MiB |`,
    );
  }
  const [old, now] = results;
  if (old && now) {
    print();
    const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}x` : 'n/a');
    const per = (r: Result, cpu: number) => cpu / r.count;
    print(
      `per tenant, ${old.image} / ${now.image}: tenants CPU ${ratio(per(old, old.tenantsCpu), per(now, now.tenantsCpu))}, ` +
        `engine CPU ${ratio(per(old, old.engineCpu), per(now, now.engineCpu))}`,
    );
  }
  const last = results.at(-1);
  if (last) {
    print(
      `goal: 200 idle tenants under 10% of one core; at this rate 200 would use ${((last.tenantsCpu / last.count) * 200).toFixed(2)} %`,
    );
  }
}

await main();
