/**
 * Wake latency benchmark against the real engine, printing figures and ratios from one run:
 *
 *   cold   create network, volumes and container, start, first healthy answer
 *   warm   start the stopped container, first healthy answer, probing every 25 ms (ours)
 *   1s     the same warm start, probing every second (a typical polling proxy)
 *
 * Usage (after `make images`): npx tsx --conditions=tenancy-source supervisor/bench/wake.ts [rounds]
 * Traffic goes only to the containers on the networks this script creates; it removes them at the end.
 */
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { DEFAULT_PLAN } from '../src/plans.js';
import { createDockerRuntime } from '../src/runtime/docker-runtime.js';
import { deriveIdentity, objectNames } from '../src/runtime/names.js';
import type { TenantSpec } from '../src/runtime/types.js';

const rounds = Number(process.argv[2] ?? 5);
const image = process.env.TENANT_IMAGE ?? 'tenancy/tenant:local';
const docker = new Docker();
const instance = `bench${randomBytes(3).toString('hex')}`;
const runtime = createDockerRuntime({ docker, instance, port: 8080, extraLabels: { 'dev.tenancy.bench': '1' } });

async function probeUntilHealthy(url: string, intervalMs: number): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not ready yet
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  const cold: number[] = [];
  const warm: number[] = [];
  const slow: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const hash = deriveIdentity('bench-key', `bench-user-${round}`).hash;
      const spec: TenantSpec = {
        names: objectNames(instance, hash),
        tenantHash: hash,
        image,
        limits: DEFAULT_PLAN,
        subnet: `10.215.${round}.0/28`,
        env: { PORT: '8080', TENANT_SECRET: 'bench-secret-0123456789' },
        port: 8080,
        stopGraceMs: 5_000,
      };
      cold.push(
        await timed(async () => {
          await runtime.ensure(spec);
          const { endpointUrl } = await runtime.start(spec.names);
          await probeUntilHealthy(`${endpointUrl}/health`, 25);
        }),
      );
      for (const [samples, interval] of [
        [warm, 25],
        [slow, 1_000],
      ] as const) {
        await runtime.stop(spec.names, 5_000);
        samples.push(
          await timed(async () => {
            const { endpointUrl } = await runtime.start(spec.names);
            await probeUntilHealthy(`${endpointUrl}/health`, interval);
          }),
        );
      }
    }
  } finally {
    const filters = { label: [`dev.tenancy.instance=${instance}`] };
    for (const c of await docker.listContainers({ all: true, filters }))
      await docker.getContainer(c.Id).remove({ force: true });
    for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove();
    for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) await docker.getVolume(v.Name).remove();
  }
  const row = (name: string, samples: number[]) =>
    `${name.padEnd(34)} median ${median(samples).toFixed(0).padStart(5)} ms   min ${Math.min(...samples)
      .toFixed(0)
      .padStart(5)} ms   max ${Math.max(...samples)
      .toFixed(0)
      .padStart(5)} ms`;
  process.stdout.write(
    [
      `wake benchmark: ${rounds} rounds, image ${image}`,
      row('cold (create + start + health)', cold),
      row('warm (start + health, 25 ms probe)', warm),
      row('warm (start + health, 1 s probe)', slow),
      `warm with 25 ms probes is ${(median(slow) / median(warm)).toFixed(1)}x faster than with 1 s probes`,
      '',
    ].join('\n'),
  );
}

await main();
