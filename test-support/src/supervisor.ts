import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Teardown, testDocker } from './docker.js';
import { freePort } from './redis.js';
import { testImages, testRunId } from './run.js';
import { type ServiceProcess, startServiceProcess } from './service-process.js';

const SERVER = join(import.meta.dirname, '../../supervisor/src/server.ts');

/** A real supervisor process (src/server.ts through tsx) on a free 127.0.0.1 port. */
export interface SupervisorProcess {
  url: string;
  adminToken: string;
  internalToken: string;
  namespaceKey: string;
  instance: string;
  databasePath: string;
  /** Starts (or restarts) the process and waits for /health. */
  start(): Promise<void>;
  /** Sends a signal and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** The running process's id (for its memory and CPU in /proc), if it runs. */
  pid(): number | undefined;
  /** Calls the API: `token` is `admin` (default), `internal`, or a raw token. */
  api(method: string, path: string, body?: unknown, token?: 'admin' | 'internal' | string): Promise<Response>;
  /** Log lines the process printed (JSON). */
  output: string[];
}

export async function startSupervisor(t: Teardown, env: Record<string, string> = {}): Promise<SupervisorProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'supervisor-test-'));
  const port = await freePort();
  const instance = `s${randomBytes(4).toString('hex')}`;
  const secrets = {
    adminToken: randomBytes(24).toString('base64url'),
    internalToken: randomBytes(24).toString('base64url'),
    namespaceKey: randomBytes(24).toString('base64url'),
  };
  // A /16 per test process out of 10.20–10.199, so parallel test files rarely share one (and when
  // they do, the supervisor's own allocation steps around the other's networks). Kept clear of
  // the default pool (10.201/16) and the fixed test ranges (10.213–10.215/16).
  const slice = (process.pid % 180) + 20;
  const fullEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    SUPERVISOR_HOST: '127.0.0.1',
    SUPERVISOR_PORT: String(port),
    ADMIN_TOKEN: secrets.adminToken,
    SUPERVISOR_TOKEN: secrets.internalToken,
    TENANT_NAMESPACE_KEY: secrets.namespaceKey,
    DATABASE_PATH: join(dir, 'tenancy.db'),
    BACKUP_DIR: join(dir, 'backups'),
    // Tenant disks (loop-mounted images) in the test's own folder, unmounted at teardown.
    TENANT_DISK_DIR: join(dir, 'disks'),
    TENANCY_INSTANCE: instance,
    TENANT_IMAGE: testImages.tenant,
    TENANT_SUBNET_POOL: `10.${slice}.0.0/16`,
    TENANT_LABELS: `dev.tenancy.test-run=${testRunId}`,
    STOP_GRACE: '3s',
    LOG_LEVEL: 'info',
    ...env,
  };
  let service: ServiceProcess | undefined;
  const output: string[] = [];
  const tokenFor = (token: string) =>
    token === 'admin' ? secrets.adminToken : token === 'internal' ? secrets.internalToken : token;

  const supervisor: SupervisorProcess = {
    url: `http://127.0.0.1:${port}`,
    ...secrets,
    instance,
    databasePath: fullEnv.DATABASE_PATH ?? '',
    output,
    async start() {
      service = await startServiceProcess('supervisor', SERVER, fullEnv, `${supervisor.url}/health`, output);
    },
    async kill(signal) {
      await service?.kill(signal);
    },
    pid: () => service?.child.pid,
    async api(method, path, body, token = 'admin') {
      return fetch(`${supervisor.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${tokenFor(token)}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    },
  };

  t.teardown(async () => {
    await supervisor.kill('SIGKILL');
    const docker = testDocker();
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
    unmountDisksUnder(join(dir, 'disks'));
    removeNetworkFilterOf(instance);
    await rm(dir, { recursive: true, force: true });
  });
  await supervisor.start();
  return supervisor;
}

/**
 * Removes the iptables rules a supervisor installed for its instance (they outlive it on
 * purpose): the jumps, found by their comment `tenancy <instance> ...`, then the chains they
 * jump to. Nothing to do without iptables (or without root).
 */
export function removeNetworkFilterOf(instance: string): void {
  let rules: string;
  try {
    rules = execFileSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return;
  }
  const chains = new Set<string>();
  for (const rule of rules.split('\n')) {
    if (!rule.startsWith('-A ') || !rule.includes(`"tenancy ${instance} `)) continue;
    const target = / -j (\S+)/.exec(rule)?.[1];
    if (target) chains.add(target);
    // The rule as iptables-save prints it, quotes and all: the shell splits it back into arguments.
    execFileSync('sh', ['-c', `iptables -w -D ${rule.slice(3)}`]);
  }
  for (const chain of chains) {
    execFileSync('iptables', ['-w', '-F', chain]);
    execFileSync('iptables', ['-w', '-X', chain]);
  }
}

/**
 * Unmounts the tenant filesystems a supervisor left mounted below `dir` (one killed with SIGKILL
 * removes nothing) and detaches their loop devices.
 */
export function unmountDisksUnder(dir: string): void {
  if (!existsSync(dir)) return;
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(`${dir}/`));
  for (const point of mounts.reverse()) execFileSync('umount', ['--lazy', point]);
  const loops = execFileSync('losetup', ['-n', '-O', 'NAME,BACK-FILE', '-l'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, file]) => file?.startsWith(`${dir}/`));
  for (const [device] of loops) if (device) execFileSync('losetup', ['-d', device]);
}

/** Percent-encodes a user id as one path segment. */
export const seg = (userId: string) => encodeURIComponent(userId);

/** A parsed JSON response body; its shape is what the assertions check. */
// biome-ignore lint/suspicious/noExplicitAny: test bodies are checked by assertions, not by types
export type JsonBody = any;

/** Status and parsed JSON body of a response. */
export async function json(res: Response): Promise<{ status: number; body: JsonBody }> {
  return { status: res.status, body: await res.json() };
}

/** The parsed JSON body of a response. */
export function readJson(res: Response): Promise<JsonBody> {
  return res.json();
}
