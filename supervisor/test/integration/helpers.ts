import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Teardown, testDocker, testImages, testLabels, unmountDisksUnder } from '@tenancy/test-support';
import type Docker from 'dockerode';
import { DEFAULT_PLAN, type PlanLimits } from '../../src/plans.js';
import { TENANT_USER } from '../../src/runtime/container-spec.js';
import { createDockerRuntime } from '../../src/runtime/docker-runtime.js';
import { localShell } from '../../src/runtime/host-shell.js';
import { deriveIdentity, objectNames } from '../../src/runtime/names.js';
import { createTenantDisks, type TenantDisks } from '../../src/runtime/tenant-disks.js';
import type { TenantRuntime, TenantSpec } from '../../src/runtime/types.js';

/**
 * Per-tenant filesystems in a fresh folder of their own, run by this process's shell (the tests
 * run as root). Whatever is still mounted there is unmounted at teardown, the folder removed.
 */
export function testDisks(t: Teardown): TenantDisks {
  const dir = mkdtempSync(join(tmpdir(), 'tenancy-disks-'));
  t.teardown(() => {
    unmountDisksUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return createTenantDisks({ dir, shell: localShell(), owner: TENANT_USER });
}

/** A Docker runtime scoped to a fresh instance name, whose objects are removed at teardown. */
export function testRuntime(
  t: Teardown,
  options: { disks?: TenantDisks; instance?: string } = {},
): { runtime: TenantRuntime; instance: string; docker: Docker } {
  const docker = testDocker();
  const instance = options.instance ?? `t${randomBytes(4).toString('hex')}`;
  // These tests look at the objects the runtime makes, not at where tenants can connect (that is
  // egress.test.ts, with the real filter): egress tenants are let through unfiltered here.
  const networkFilter = { ensure: async () => undefined, covers: async () => undefined };
  const runtime = createDockerRuntime({
    docker,
    instance,
    extraLabels: testLabels(),
    port: 8080,
    networkFilter,
    ...(options.disks ? { disks: options.disks } : {}),
  });
  t.teardown(async () => {
    const filters = { label: [`dev.tenancy.instance=${instance}`] };
    for (const c of await docker.listContainers({ all: true, filters })) {
      await docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined);
    }
    for (const n of await docker.listNetworks({ filters }))
      await docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => undefined);
    const { Volumes } = await docker.listVolumes({ filters });
    for (const v of Volumes ?? [])
      await docker
        .getVolume(v.Name)
        .remove({ force: true })
        .catch(() => undefined);
  });
  return { runtime, instance, docker };
}

let subnetCounter = 0;

/**
 * A tenant spec for tests. Subnets come from a range reserved for tests (10.213.0.0/16), one per
 * call in this process, offset by the pid so parallel test files rarely collide.
 */
export function testSpec(instance: string, userId: string, overrides: Partial<TenantSpec> = {}): TenantSpec {
  const hash = deriveIdentity('test-namespace-key-0123456789abcdef', userId).hash;
  const index = (process.pid * 7 + subnetCounter++) % 4096;
  const limits: PlanLimits = { ...DEFAULT_PLAN };
  return {
    names: objectNames(instance, hash),
    tenantHash: hash,
    image: testImages.tenant,
    limits,
    subnet: `10.213.${Math.floor(index / 16)}.${(index % 16) * 16}/28`,
    env: { PORT: '8080', TENANT_SECRET: 'test-secret-0123456789' },
    port: 8080,
    stopGraceMs: 5_000,
    ...overrides,
  };
}

/** Runs a command in a running container and returns its output and exit code. */
export async function exec(
  docker: Docker,
  containerId: string,
  cmd: string[],
  user = '1000:1000',
): Promise<{ output: string; exitCode: number }> {
  const execution = await docker.getContainer(containerId).exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    User: user,
  });
  const stream = await execution.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const info = await execution.inspect();
  const { demuxLogs } = await import('../../src/runtime/docker-runtime.js');
  return { output: demuxLogs(Buffer.concat(chunks)), exitCode: info.ExitCode ?? -1 };
}

/**
 * A Node script to run inside a container (`node -e CONNECT host port`): prints `open`, `timeout`
 * or the error code of a TCP connection to host:port tried for 1.5 s.
 */
export const CONNECT = `
const net = require('net');
const [host, port] = process.argv.slice(1);
const socket = net.connect({ host, port: Number(port), timeout: 1500 });
socket.on('connect', () => { console.log('open'); process.exit(0); });
socket.on('timeout', () => { console.log('timeout'); process.exit(0); });
socket.on('error', (err) => { console.log(err.code); process.exit(0); });`;
