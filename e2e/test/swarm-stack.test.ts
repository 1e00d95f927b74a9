import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TEST_RUN_LABEL, testImages, testRunId } from '@tenancy/test-support';
import type Docker from 'dockerode';
import t from 'tap';
import { startSwarmLab } from '../../supervisor/test/integration/swarm-lab.js';
import { curlWithJar } from './curl.js';
import { reachFromTenant } from './reach.js';
import { chatAgainAndCheckHistory, loginWarmupHello } from './seed-steps.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
/** nginx's port on the edge node (the manager): inside its network namespace only. */
const EDGE_PORT = 8080;

interface Task {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; ContainerStatus?: { ContainerID?: string } };
}

/**
 * The platform deployed the way an operator does it: `make swarm-up` (scripts/swarm.sh) on
 * the real two-node swarm of swarm-lab.ts, with the images loaded on both nodes from the run's
 * engine (no registry). Then the seed flow through the stack's one nginx for users placed on
 * both nodes, a supervisor killed in the middle of a wake, and `make swarm-down`. The
 * nodes' addresses exist only in their network namespaces: curl runs in the edge node's.
 */
// A lab of two engines, the images loaded on both, a deployment and some twenty wakes: longer than
// the default file timeout on a shared machine.
t.setTimeout(900_000);

t.test('make swarm-up deploys the stack on a two-node swarm and the seed flow works on both nodes', async (t) => {
  const lab = await startSwarmLab(t);
  const manager = lab.manager.engine.docker;
  const dir = mkdtempSync(join(tmpdir(), 'tenancy-swarm-stack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const envFile = join(dir, '.env');
  const instance = `w${randomBytes(3).toString('hex')}`;
  const stack = `e2e${randomBytes(3).toString('hex')}`;
  const base = `http://${lab.manager.address}:${EDGE_PORT}`;
  const label = `${TEST_RUN_LABEL}=${testRunId}`;
  writeFileSync(
    envFile,
    Object.entries({
      EDGE_PORT,
      PUBLIC_BASE_URL: base,
      // The production sign-in: a backend presents LOGIN_TOKEN (swarm.sh generates it). Its
      // logins carry Authorization, which nginx's per-client login limit leaves to the gateway:
      // a class signing in at once from one address is not held back.
      AUTH_MODE: 'token',
      NGINX_IMAGE: 'tenancy/nginx:local',
      REDIS_IMAGE: 'tenancy/redis:local',
      TENANT_IMAGE: testImages.tenant,
      TENANCY_INSTANCE: instance,
      // Inside the lab's namespaces only; apart from the lab's own pool (10.230.0.0/16).
      TENANT_SUBNET_POOL: '10.231.0.0/16',
      API_REPLICAS: 2,
      // The lab's kernel has no IPVS, which Swarm's virtual IPs need.
      SWARM_ENDPOINT_MODE: 'dnsrr',
      STACK_LABEL: label,
      TENANT_LABELS: label,
    })
      .map(([key, value]) => `${key}=${value}`)
      .join('\n'),
  );
  // As an operator runs it: `make swarm-up` / `make swarm-down` (scripts/swarm.sh).
  const swarmSh = (action: 'up' | 'down') =>
    run('make', ['-s', `swarm-${action}`, `ENV_FILE=${envFile}`], {
      cwd: ROOT,
      timeout: 420_000,
      env: {
        ...process.env,
        SWARM_STACK: stack,
        SWARM_WAIT: '150',
        SWARM_MANAGER: lab.manager.engine.dockerHost,
        SWARM_HOSTS: lab.nodes.map((node) => node.engine.dockerHost).join(' '),
        DOCKER_SOCKET: new URL(lab.manager.engine.dockerHost).pathname,
        // The worker's engine: its socket on this machine, bound into the supervisor's container.
        SWARM_NODE_ENGINES: `${lab.worker.id}=${lab.worker.engine.dockerHost}`,
      },
    }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`make swarm-${action} failed:\n${err.stdout}\n${err.stderr}`);
    });

  const up = await swarmSh('up');
  t.match(up.stdout, `Tenancy is running on port ${EDGE_PORT}`);
  t.match(readFileSync(envFile, 'utf8'), /^COOKIE_JWT_SECRET=[0-9a-f]{64}$/m, 'secrets were generated');
  t.notMatch(up.stdout + up.stderr, secretOf(envFile, 'COOKIE_JWT_SECRET'), 'and never printed');

  // One nginx, one supervisor (on the manager), one redis; the api replicas on both nodes.
  const services = await stackServices(manager, stack);
  t.same(
    Object.keys(services).sort(),
    ['api', 'gateway', 'redis', 'supervisor'].map((s) => `${stack}_${s}`),
  );
  const apiTasks = await runningTasks(manager, `${stack}_api`);
  t.equal(apiTasks.length, 2, 'two api replicas');
  t.same(sorted(apiTasks.map((task) => task.NodeID)), sorted(lab.nodes.map((n) => n.id)), 'one on each node');
  t.same(
    (await runningTasks(manager, `${stack}_supervisor`)).map((task) => task.NodeID),
    [lab.manager.id],
    'the supervisor on the manager',
  );
  // The generated secrets reach the services as Swarm secrets, not as variables.
  const apiEnv = (services[`${stack}_api`]?.Spec.TaskTemplate.ContainerSpec.Env ?? []).join('\n');
  t.match(apiEnv, 'COOKIE_JWT_SECRET_FILE=/run/secrets/cookie_jwt_secret');
  t.notMatch(apiEnv, secretOf(envFile, 'COOKIE_JWT_SECRET'));

  const asBackend = { authorization: `Bearer ${secretOf(envFile, 'LOGIN_TOKEN')}` };
  const netnsCurl = () => curlWithJar(t, base, undefined, ['ip', 'netns', 'exec', lab.manager.netns]);
  const runningTenantNodes = async () =>
    (await tenantTasks(manager, instance)).filter((task) => task.Status.State === 'running').map((task) => task.NodeID);

  // Each new tenant goes to the node with most memory not held by awake tenants: the second one
  // to the other node than the first.
  const users = ['e2e-swarm-alice', 'e2e-swarm-bob'];
  const curls = users.map(() => netnsCurl());
  for (const [i, user] of users.entries()) await loginWarmupHello(t, curls[i] as Curl, user, asBackend);
  t.same(sorted(await runningTenantNodes()), sorted(lab.nodes.map((n) => n.id)), 'one tenant on each node');
  // Both sleep (their services scaled to 0: no task runs on either node) and wake on the next
  // message with their history, kept on their node's volumes.
  for (const [i, user] of users.entries()) {
    const stop = await (curls[i] as Curl).call('POST', '/auth/tenant/stop', {});
    t.equal(stop.status, 200, `${user} stops their container (${stop.body})`);
  }
  t.same(await runningTenantNodes(), [], 'both tenants asleep');
  for (const [i, user] of users.entries()) await chatAgainAndCheckHistory(t, curls[i] as Curl, user);
  t.same(sorted(await runningTenantNodes()), sorted(lab.nodes.map((n) => n.id)), 'woken on their own nodes');

  // The api replicas and the supervisor are on every tenant network (to reach the tenants), but
  // no tenant reaches them back: both close connections from the tenant address pool.
  for (const task of await tenantTasks(manager, instance)) {
    if (task.Status.State !== 'running') continue;
    const node = lab.nodes.find((n) => n.id === task.NodeID);
    const tenant = task.Status.ContainerStatus?.ContainerID ?? '';
    if (!node) throw new Error(`tenant task on unknown node ${task.NodeID}`);
    const networks = Object.keys(await containerNetworks(node.engine.docker, tenant));
    t.equal(networks.length, 1, 'the tenant is on its own network only');
    const network = networks[0] ?? '';
    for (const [service, port, engine] of [
      ['api', 3000, node.engine.docker],
      ['supervisor', 4010, manager],
    ] as const) {
      const [peer] = await engine.listContainers({
        filters: { label: [`com.docker.swarm.service.name=${stack}_${service}`] },
      });
      const ip = (await containerNetworks(engine, peer?.Id ?? ''))[network]?.IPAddress ?? '';
      t.match(ip, /^10\.231\./, `the ${service} has an address on the tenant network`);
      const probe = await reachFromTenant(tenant, ip, port, node.engine.dockerHost);
      t.match(probe, /^refused /, `the tenant on node ${node.name} cannot reach the ${service} (${probe})`);
    }
  }

  // A class arrives: many users sign in and wake at once. Each gets a tenant of its own, on its
  // own network, spread over both nodes; every one answers the seed's chat through the one nginx.
  const CLASS = 16;
  // Adding tenants restarts no api replica: the supervisor connects the running ones to each new
  // network (a service update would replace them).
  const apiTasksBefore = (await runningTasks(manager, `${stack}_api`)).map((task) => task.ID).sort();
  const students = Array.from({ length: CLASS }, (_, i) => `e2e-swarm-student-${String(i).padStart(2, '0')}`);
  await Promise.all(
    students.map(async (user) => {
      const curl = netnsCurl();
      const login = await curl.call('POST', '/auth/login', { user_id: user, email: 's@example.com' }, asBackend);
      t.equal(login.status, 200, `${user} signs in (${login.body})`);
      const warmup = await warmupUntilReady(curl);
      t.equal(warmup.status, 200, `${user} is warm (${warmup.body})`);
      const hello = await curl.call('POST', '/chat', { message: 'Hello!' });
      t.equal(hello.status, 200, `${user} chats (${hello.body})`);
      t.equal(hello.json?.user_id, user, `${user} is answered by their own container`);
    }),
  );
  if (t.counts.fail > 0) {
    // What Swarm did with the platform's own tasks meanwhile (replaced, unhealthy?).
    for (const service of ['gateway', 'api', 'supervisor']) {
      const ps = await run('docker', [
        '-H',
        lab.manager.engine.dockerHost,
        'service',
        'ps',
        '--no-trunc',
        `${stack}_${service}`,
      ]);
      t.comment(ps.stdout);
    }
  }
  const classNodes = await runningTenantNodes();
  t.equal(classNodes.length, 2 + CLASS, 'one running task per tenant');
  for (const node of lab.nodes) {
    t.ok(classNodes.filter((id) => id === node.id).length >= CLASS / 4, `node ${node.name} holds a share of the class`);
  }
  const classNetworks = new Set<string>();
  for (const task of await tenantTasks(manager, instance)) {
    if (task.Status.State !== 'running') continue;
    const node = lab.nodes.find((n) => n.id === task.NodeID);
    const networks = await containerNetworks(
      node?.engine.docker ?? manager,
      task.Status.ContainerStatus?.ContainerID ?? '',
    );
    for (const name of Object.keys(networks)) classNetworks.add(name);
  }
  t.equal(classNetworks.size, 2 + CLASS, 'each tenant on a network of its own');
  t.same(
    (await runningTasks(manager, `${stack}_api`)).map((task) => task.ID).sort(),
    apiTasksBefore,
    'the api replicas kept running through it (same tasks)',
  );

  // The supervisor killed in the middle of a wake: Swarm starts a new one, which reconciles the
  // half-woken tenant; the user's next warmup succeeds and exactly one task of the tenant runs.
  const carol = netnsCurl();
  const login = await carol.call(
    'POST',
    '/auth/login',
    { user_id: 'e2e-swarm-carol', email: 'c@example.com' },
    asBackend,
  );
  t.equal(login.status, 200, login.body);
  const before = new Set((await tenantServices(manager, instance)).map((s) => s.ID));
  let settled = false;
  const firstWarmup = carol.call('POST', '/warmup', { user_id: 'e2e-swarm-carol' }).finally(() => {
    settled = true;
  });
  await eventually('carol’s service is scaled to 1', async () =>
    (await tenantServices(manager, instance)).some((s) => !before.has(s.ID) && s.Spec.Mode?.Replicated?.Replicas === 1),
  );
  const [supervisorTask] = await runningTasks(manager, `${stack}_supervisor`);
  t.equal(settled, false, 'the wake is still going on');
  await manager.getContainer(supervisorTask?.Status.ContainerStatus?.ContainerID ?? '').kill();
  const first = await firstWarmup;
  t.ok(first.status > 0, `the interrupted warmup got an answer (${first.status})`);
  await eventually('a new supervisor task runs', async () => {
    const tasks = await runningTasks(manager, `${stack}_supervisor`);
    return tasks.length === 1 && tasks[0]?.ID !== supervisorTask?.ID;
  }).catch(async (err) => {
    const cli = ['-H', lab.manager.engine.dockerHost, 'service'];
    const ps = await run('docker', [...cli, 'ps', '--no-trunc', `${stack}_supervisor`]).catch((e) => e);
    const logs = await run('docker', [...cli, 'logs', '--raw', '--tail', '40', `${stack}_supervisor`]).catch((e) => e);
    throw new Error(`${err.message}\n${ps.stdout}\n${logs.stdout}\n${logs.stderr}`);
  });
  const again = await carol.call('POST', '/warmup', { user_id: 'e2e-swarm-carol' });
  t.equal(again.status, 200, again.body);
  t.match(again.json, { user_id: 'e2e-swarm-carol', state: 'running', ready: true });
  const hello = await carol.call('POST', '/chat', { message: 'Hello!' });
  t.equal(hello.status, 200, hello.body);
  t.equal(hello.json.user_id, 'e2e-swarm-carol');
  const carolServices = (await tenantServices(manager, instance)).filter((s) => !before.has(s.ID));
  t.equal(carolServices.length, 1, 'one service for carol');
  const carolTasks = await runningTasks(manager, carolServices[0]?.ID ?? '');
  t.equal(carolTasks.length, 1, 'one running task for carol');
  t.equal((await runningTenantNodes()).length, 3 + CLASS, 'and the other tenants still run');

  const down = await swarmSh('down');
  t.match(down.stderr, `stack ${stack} removed`);
  t.same(await stackServices(manager, stack), {}, 'the stack is gone');
  t.equal((await tenantServices(manager, instance)).length, 3 + CLASS, 'the tenants are kept');
});

type Curl = ReturnType<typeof curlWithJar>;

/**
 * `POST /warmup` as a client following the protocol does: a 503 (the wake is queued or still
 * going on after `WARMUP_TIMEOUT`) is asked again, a bounded number of times.
 */
async function warmupUntilReady(curl: Curl): Promise<Awaited<ReturnType<Curl['call']>>> {
  for (let attempt = 1; ; attempt++) {
    const warmup = await curl.call('POST', '/warmup', {});
    if (warmup.status !== 503 || attempt === 5) return warmup;
  }
}

interface ServiceInfo {
  ID: string;
  Spec: {
    Name: string;
    Mode?: { Replicated?: { Replicas?: number } };
    TaskTemplate: { ContainerSpec: { Env?: string[] } };
  };
}

async function stackServices(docker: Docker, stack: string): Promise<Record<string, ServiceInfo>> {
  const list = (await docker.listServices({
    filters: { label: [`com.docker.stack.namespace=${stack}`] },
  })) as unknown as ServiceInfo[];
  return Object.fromEntries(list.map((s) => [s.Spec.Name, s]));
}

async function tenantServices(docker: Docker, instance: string): Promise<ServiceInfo[]> {
  return (await docker.listServices({
    filters: { label: [`dev.tenancy.instance=${instance}`, 'dev.tenancy.role=tenant'] },
  })) as unknown as ServiceInfo[];
}

async function tenantTasks(docker: Docker, instance: string): Promise<Task[]> {
  const tasks: Task[] = [];
  for (const service of await tenantServices(docker, instance)) {
    tasks.push(...((await docker.listTasks({ filters: { service: [service.ID] } })) as Task[]));
  }
  return tasks;
}

async function containerNetworks(docker: Docker, id: string): Promise<Record<string, { IPAddress?: string }>> {
  const info = (await docker.getContainer(id).inspect()) as {
    NetworkSettings: { Networks: Record<string, { IPAddress?: string }> };
  };
  return info.NetworkSettings.Networks;
}

async function runningTasks(docker: Docker, service: string): Promise<Task[]> {
  const tasks = (await docker.listTasks({ filters: { service: [service], 'desired-state': ['running'] } })) as Task[];
  return tasks.filter((task) => task.Status.State === 'running');
}

/** Resolves once `check` holds (Swarm converges in the background); fails after two minutes. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function sorted(items: string[]): string[] {
  return [...items].sort();
}

function secretOf(envFile: string, key: string): string {
  return new RegExp(`^${key}=(.*)$`, 'm').exec(readFileSync(envFile, 'utf8'))?.[1] ?? '';
}
