/**
 * Tenant boot benchmark: what a start from "stopped" costs, split into the engine's part and the
 * app's, for the image's bundled entry point (dist/server.bundle.js, what the image runs) against
 * the unbundled one (dist/server.js, the same code as separate modules) in the same image, same run:
 *
 *   start API   `POST /containers/:id/start` until the engine answers
 *   first 200   from that call to the app's first 200 on /health (the supervisor's readiness)
 *   app CPU     CPU the container used from its start to that first 200 (the engine's counter)
 *
 * Containers are made with the supervisor's hardened definition (containerOptions), one internal
 * network for all; each was started once before the rounds (volumes initialised, as for any
 * tenant that has slept). Rounds alternate the two entry points.
 *
 * Usage: npx tsx --conditions=tenancy-source supervisor/bench/tenant-boot.ts [rounds=10]
 * Env:   TENANT_IMAGE (default tenancy/tenant:local)
 * Traffic goes only to the containers on the network this script creates; everything it made is
 * removed at the end (label dev.tenancy.instance=<its instance>).
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import Docker from 'dockerode';
import { DEFAULT_PLAN } from '../src/plans.js';
import { containerOptions, tenantLabels } from '../src/runtime/container-spec.js';
import { deriveIdentity, objectNames } from '../src/runtime/names.js';
import type { TenantSpec } from '../src/runtime/types.js';
import { createBenchNetwork } from './bench-network.js';
import { containerCounters } from './engine-counters.js';

const rounds = Number(process.argv[2] ?? 10);
if (!(rounds >= 1 && rounds <= 100)) throw new RangeError('rounds must be 1..100');
const image = process.env.TENANT_IMAGE ?? 'tenancy/tenant:local';
const docker = new Docker();
const instance = `benchboot${randomBytes(3).toString('hex')}`;
const labels = (hash: string) => tenantLabels(instance, hash, { 'dev.tenancy.bench': 'tenant-boot' });
const network = `${instance}-net`;
const SECRET = 'bench-secret-0123456789';
const print = (line = '') => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const ENTRIES = {
  bundled: undefined, // the image's own ENTRYPOINT
  unbundled: ['node', 'dist/server.js'],
} as const;
type Entry = keyof typeof ENTRIES;

interface Boot {
  startMs: number;
  readyMs: number;
  cpuMs: number;
}

async function createTenant(entry: Entry): Promise<Docker.Container> {
  const hash = deriveIdentity('bench-key', `${image}#${entry}`).hash;
  const names = { ...objectNames(instance, hash), network };
  const spec: TenantSpec = {
    names,
    tenantHash: hash,
    image,
    limits: DEFAULT_PLAN,
    subnet: '',
    env: { PORT: '8080', TENANT_SECRET: SECRET, LOG_LEVEL: 'info' },
    port: 8080,
    stopGraceMs: 1_000,
  };
  for (const volume of [names.filesVolume, names.historyVolume]) {
    await docker.createVolume({ Name: volume, Labels: labels(hash) });
  }
  const entrypoint = ENTRIES[entry];
  return docker.createContainer({
    ...containerOptions(spec, labels(hash)),
    ...(entrypoint ? { Entrypoint: [...entrypoint] } : {}),
  });
}

/** Starts a stopped container and polls /health every 5 ms until the first 200. */
async function boot(container: Docker.Container): Promise<Boot> {
  const started = performance.now();
  await container.start();
  const startMs = performance.now() - started;
  const ip = (await container.inspect()).NetworkSettings.Networks?.[network]?.IPAddress;
  if (!ip) throw new Error('the container has no address');
  for (;;) {
    try {
      const res = await fetch(`http://${ip}:8080/health`, {
        headers: { 'x-tenancy-tenant-secret': SECRET },
        signal: AbortSignal.timeout(1_000),
      });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  const readyMs = performance.now() - started;
  const { cpuNs } = await containerCounters(docker, container.id);
  return { startMs, readyMs, cpuMs: cpuNs / 1e6 };
}

async function cleanup(): Promise<void> {
  const filters = { label: [`dev.tenancy.instance=${instance}`] };
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker.getContainer(c.Id).remove({ force: true });
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) await docker.getVolume(v.Name).remove();
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove();
}

const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))] ?? Number.NaN;

async function main(): Promise<void> {
  const boots: Record<Entry, Boot[]> = { bundled: [], unbundled: [] };
  try {
    await createBenchNetwork(docker, network, labels('network'));
    const containers = { bundled: await createTenant('bundled'), unbundled: await createTenant('unbundled') };
    for (const entry of Object.keys(containers) as Entry[]) {
      await boot(containers[entry]); // first start: volumes initialised, history created
      await containers[entry].stop({ t: 2 });
    }
    for (let round = 0; round < rounds; round++) {
      const order: Entry[] = round % 2 ? ['unbundled', 'bundled'] : ['bundled', 'unbundled'];
      for (const entry of order) {
        boots[entry].push(await boot(containers[entry]));
        await containers[entry].stop({ t: 2 });
      }
      process.stderr.write(`tenant-boot: round ${round + 1}/${rounds}\n`);
    }
  } finally {
    await cleanup();
  }
  print(
    `tenant boot: ${image}, ${rounds} rounds; ${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, ` +
      `load average ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
  );
  print();
  print('| entry point | start API (median) | first 200 (median) | first 200 (p95) | app CPU to first 200 (median) |');
  print('|---|---|---|---|---|');
  for (const entry of ['unbundled', 'bundled'] as const) {
    const b = boots[entry];
    const col = (key: keyof Boot, q = 0.5) =>
      `${quantile(
        b.map((x) => x[key]),
        q,
      ).toFixed(0)} ms`;
    print(`| ${entry} | ${col('startMs')} | ${col('readyMs')} | ${col('readyMs', 0.95)} | ${col('cpuMs')} |`);
  }
  const ratio = (key: keyof Boot) =>
    (
      quantile(
        boots.unbundled.map((x) => x[key]),
        0.5,
      ) /
      quantile(
        boots.bundled.map((x) => x[key]),
        0.5,
      )
    ).toFixed(2);
  print();
  print(`unbundled / bundled (medians): first 200 ${ratio('readyMs')}x, app CPU ${ratio('cpuMs')}x`);
}

await main();
