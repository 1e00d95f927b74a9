import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  freePort,
  readJson,
  seg,
  TEST_RUN_LABEL,
  testImages,
  testRunId,
  unmountDisksUnder,
} from '@tenancy/test-support';
import t from 'tap';
import { composeCommand } from './compose.js';
import { curlWithJar } from './curl.js';
import { reachFromTenant } from './reach.js';
import { chatAgainAndCheckHistory, loginWarmupHello } from './seed-steps.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const USER = 'e2e-compose-user';

/**
 * The platform the way a user brings it up: `./setup.sh --non-interactive` starts the real compose
 * stack (nginx, api, supervisor, redis from the images the test run built offline), then the seed
 * flow runs through the stack's nginx with curl and a cookie jar.
 */
t.test('setup.sh brings up the compose stack and the seed flow works through its nginx', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tenancy-compose-'));
  const envFile = join(dir, '.env');
  const diskDir = join(dir, 'disks');
  const project = `e2e${randomBytes(4).toString('hex')}`;
  const instance = `c${randomBytes(4).toString('hex')}`;
  const edgePort = await freePort();
  const adminPort = await freePort();
  // A private slice of the address space per process, as test-support's supervisor does.
  const slice = (process.pid % 180) + 20;
  const label = `${TEST_RUN_LABEL}=${testRunId}`;
  // setup.sh keeps what an existing .env says and adds the secrets and derived settings.
  writeFileSync(
    envFile,
    Object.entries({
      EDGE_PORT: edgePort,
      ADMIN_PORT: adminPort,
      PUBLIC_BASE_URL: `http://127.0.0.1:${edgePort}`,
      AUTH_MODE: 'dev',
      DEV_AUTH_ENABLED: 'true',
      TENANCY_IMAGES: 'local',
      TENANT_IMAGE: testImages.tenant,
      TENANCY_INSTANCE: instance,
      TENANT_SUBNET_POOL: `10.${slice}.0.0/16`,
      TUNNEL_SUBNET: `10.${slice}.255.248/29`,
      // Every object of the stack and every tenant object carries the run's label, so the
      // harness removes them even if this file crashes before its teardown.
      STACK_LABEL: label,
      TENANT_LABELS: label,
      // Short enough to watch the container pause, then stop, inside a test; long enough that it
      // does not pause under the `docker exec` probes below on a busy machine.
      IDLE_TIMEOUT: '15s',
      PAUSE_TIMEOUT: '1s',
      REAPER_INTERVAL: '250ms',
      STOP_GRACE: '3s',
      ACTIVITY_FLUSH_INTERVAL: '500ms',
      // Tenant filesystems of this stack, in the test's own folder (setup.sh makes it a shared mount).
      TENANT_DISK_DIR: diskDir,
    })
      .map(([key, value]) => `${key}=${value}`)
      .join('\n'),
  );
  const env = { ...process.env, TENANCY_ENV_FILE: envFile, COMPOSE_PROJECT_NAME: project };
  const compose = await composeCommand();

  t.teardown(async () => {
    const byInstance = `label=dev.tenancy.instance=${instance}`;
    const docker = (...args: string[]) => run('docker', args).then(({ stdout }) => stdout.split('\n').filter(Boolean));
    // Tenants first: their networks cannot go while the api and supervisor are attached.
    const tenants = await docker('ps', '-aq', '--filter', byInstance);
    if (tenants.length > 0) await docker('rm', '-f', '-v', ...tenants);
    await run(compose[0] ?? 'docker', [...compose.slice(1), '--env-file', envFile, '-p', project, 'down', '-v'], {
      cwd: ROOT,
      env,
    });
    const networks = await docker('network', 'ls', '-q', '--filter', byInstance);
    if (networks.length > 0) await docker('network', 'rm', ...networks);
    const volumes = await docker('volume', 'ls', '-q', '--filter', byInstance);
    if (volumes.length > 0) await docker('volume', 'rm', '-f', ...volumes);
    // The tenant filesystems the stack mounted, then setup.sh's bind of their folder onto itself.
    unmountDisksUnder(diskDir);
    await run('umount', ['--lazy', diskDir]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  // The harness built every image just before the tests; rebuilding here would only repeat it.
  const setup = await run(join(ROOT, 'setup.sh'), ['--non-interactive', '--skip-build'], {
    cwd: ROOT,
    env,
    timeout: 240_000,
  }).catch((err: { stdout?: string; stderr?: string }) => {
    throw new Error(`setup.sh failed:\n${err.stdout}\n${err.stderr}`);
  });
  t.match(setup.stdout, `Tenancy is running at http://127.0.0.1:${edgePort}`);
  t.match(setup.stderr, 'AUTH_MODE=dev', 'the dev login mode is announced');
  const written = readFileSync(envFile, 'utf8');
  t.match(written, /^COOKIE_JWT_SECRET=[0-9a-f]{64}$/m, 'secrets were generated');
  t.notMatch(setup.stdout + setup.stderr, secretOf(written, 'COOKIE_JWT_SECRET'), 'and never printed');

  // Only nginx is published for users, and only on loopback; the admin API only on loopback.
  const published = await publishedPorts(project);
  t.same(published, {
    gateway: [`127.0.0.1:${edgePort}->8080/tcp`],
    supervisor: [`127.0.0.1:${adminPort}->4010/tcp`],
    api: [],
    redis: [],
  });

  const curl = curlWithJar(t, `http://127.0.0.1:${edgePort}`);
  // The reply comes from the user's own container: the api container reaches it on the tenant
  // network the supervisor attached it to.
  await loginWarmupHello(t, curl, USER);
  const tenants = await run('docker', ['ps', '-q', '--filter', `label=dev.tenancy.instance=${instance}`]);
  t.equal(tenants.stdout.trim().split('\n').length, 1, 'one tenant container');
  const labelled = await run('docker', [
    'ps',
    '-q',
    '--filter',
    `label=${label}`,
    '--filter',
    `label=dev.tenancy.instance=${instance}`,
  ]);
  t.equal(labelled.stdout.trim().split('\n').length, 1, 'carrying the test run label');

  // Its volumes live on a filesystem of its own, of the free plan's size (1 GiB, less what ext4
  // keeps), mounted on the host by the helper and seen by the supervisor in its container.
  const detail = await readJson(
    await fetch(`http://127.0.0.1:${adminPort}/v1/tenants/${seg(USER)}`, {
      headers: { authorization: `Bearer ${secretOf(written, 'ADMIN_TOKEN')}` },
    }),
  );
  t.ok(
    detail.disk && detail.disk.sizeBytes > 900 * 1024 ** 2 && detail.disk.sizeBytes <= 1024 ** 3,
    `disk ${JSON.stringify(detail.disk)}`,
  );

  // The api and the supervisor share the tenant's network (to reach it), but the tenant cannot
  // reach them back: both cut connections that come from the tenant address pool.
  const tenantId = tenants.stdout.trim();
  const tenantNetwork = (
    await inspect(tenantId, '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}')
  ).split('\n')[0];
  for (const [service, port] of [
    ['supervisor', 4010],
    ['api', 3000],
  ] as const) {
    const { stdout: id } = await run('docker', [
      'ps',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--filter',
      `label=com.docker.compose.service=${service}`,
    ]);
    const ip = await inspect(
      id.trim().split('\n')[0] ?? '',
      `{{(index .NetworkSettings.Networks "${tenantNetwork}").IPAddress}}`,
    );
    t.match(ip, /^\d+\.\d+\.\d+\.\d+$/, `the ${service} is attached to the tenant network`);
    const probe = await reachFromTenant(tenantId, ip, port);
    t.match(probe, /^refused /, `the tenant cannot reach the ${service} (${probe})`);
  }

  // Nor the host: a service listening on all of its addresses, through the address the host would
  // have on the tenant's bridge (the network's gateway). Under compose the bridge gives it none.
  const hostService = createServer((_req, res) => res.end('host'));
  hostService.listen(0, '0.0.0.0');
  await once(hostService, 'listening');
  t.teardown(() => new Promise((resolve) => hostService.close(resolve)));
  const hostPort = (hostService.address() as AddressInfo).port;
  const bridgeGateway = await inspect(tenantId, `{{(index .NetworkSettings.Networks "${tenantNetwork}").Gateway}}`);
  t.match(bridgeGateway, /^\d+\.\d+\.\d+\.\d+$/);
  t.equal(await (await fetch(`http://127.0.0.1:${hostPort}/`)).text(), 'host', 'control: the host service answers');
  const hostProbe = await reachFromTenant(tenantId, bridgeGateway, hostPort);
  t.match(hostProbe, /^refused /, `the tenant cannot reach a host service through its bridge (${hostProbe})`);

  // It is paused, then stopped, when idle, and the next message wakes it with its history intact.
  const admin = (path: string) =>
    fetch(`http://127.0.0.1:${adminPort}${path}`, {
      headers: { authorization: `Bearer ${secretOf(written, 'ADMIN_TOKEN')}` },
    });
  const asleep = await waitFor(async () => {
    const tenant = await readJson(await admin(`/v1/tenants/${seg(USER)}`));
    return tenant.state === 'asleep' ? tenant : undefined;
  }, 45_000);
  t.match(asleep, { state: 'asleep', stopReason: 'idle' });
  await chatAgainAndCheckHistory(t, curl, USER);

  // The api replica follows the supervisor's feed of stopped tenants across the backend network.
  const { stdout: apiId } = await run('docker', [
    'ps',
    '-q',
    '--filter',
    `label=com.docker.compose.project=${project}`,
    '--filter',
    'label=com.docker.compose.service=api',
  ]);
  const apiLogs = await run('docker', ['logs', apiId.trim().split('\n')[0] ?? '']);
  t.match(apiLogs.stdout + apiLogs.stderr, /"msg":"following tenant stops"/, 'the api follows tenant stops');
});

/** One field of `docker inspect` for a container. */
async function inspect(id: string, format: string): Promise<string> {
  return (await run('docker', ['inspect', '--format', format, id])).stdout.trim();
}

function secretOf(envText: string, key: string): string {
  return new RegExp(`^${key}=(.*)$`, 'm').exec(envText)?.[1] ?? '';
}

/** Published ports of the project's services, by compose service name. */
async function publishedPorts(project: string): Promise<Record<string, string[]>> {
  const { stdout } = await run('docker', [
    'ps',
    '--filter',
    `label=com.docker.compose.project=${project}`,
    '--format',
    '{{.Label "com.docker.compose.service"}}\t{{.Ports}}',
  ]);
  const ports: Record<string, string[]> = {};
  for (const line of stdout.trim().split('\n')) {
    const [service = '', list = ''] = line.split('\t');
    ports[service] = list
      .split(', ')
      .filter((port) => port.includes('->'))
      .sort();
  }
  return ports;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`not done after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
