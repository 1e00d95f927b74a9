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
 * The platform deployed the way an operator does it: `scripts/swarm.sh up` (`make swarm-up`) on
 * the real two-node swarm of swarm-lab.ts, with the images loaded on both nodes from the run's
 * engine (no registry). Then the seed flow through the stack's one nginx for users placed on
 * both nodes, and each tenant kept from the api's and supervisor's ports. The
 * nodes' addresses exist only in their network namespaces: curl runs in the edge node's.
 */
// A lab of two engines, the images loaded on both, a deployment and two wakes: longer than
// the default file timeout on a shared machine.
t.setTimeout(900_000);

t.test('swarm.sh deploys the stack on a two-node swarm and the seed flow works on both nodes', async (t) => {
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
      AUTH_MODE: 'dev',
      DEV_AUTH_ENABLED: 'true',
      // The lab's edge address is not loopback: dev login there is this test's own choice.
      ALLOW_DEV_LOGIN_ON_PUBLIC_URL: 'yes-i-understand',
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
  const swarmSh = (action: 'up' | 'down') =>
    run(join(ROOT, 'scripts', 'swarm.sh'), [action], {
      cwd: ROOT,
      timeout: 420_000,
      env: {
        ...process.env,
        TENANCY_ENV_FILE: envFile,
        SWARM_STACK: stack,
        SWARM_WAIT: '150',
        SWARM_MANAGER: lab.manager.engine.dockerHost,
        SWARM_HOSTS: lab.nodes.map((node) => node.engine.dockerHost).join(' '),
        DOCKER_SOCKET: new URL(lab.manager.engine.dockerHost).pathname,
        // The worker's engine: its socket on this machine, bound into the supervisor's container.
        SWARM_NODE_ENGINES: `${lab.worker.id}=${lab.worker.engine.dockerHost}`,
      },
    }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`swarm.sh ${action} failed:\n${err.stdout}\n${err.stderr}`);
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

  const netnsCurl = () => curlWithJar(t, base, undefined, ['ip', 'netns', 'exec', lab.manager.netns]);
  const runningTenantNodes = async () =>
    (await tenantTasks(manager, instance)).filter((task) => task.Status.State === 'running').map((task) => task.NodeID);

  // Each new tenant goes to the node with most memory not held by awake tenants: the second one
  // to the other node than the first.
  const users = ['e2e-swarm-alice', 'e2e-swarm-bob'];
  const curls = users.map(() => netnsCurl());
  for (const [i, user] of users.entries()) await loginWarmupHello(t, curls[i] as Curl, user);
  t.same(sorted(await runningTenantNodes()), sorted(lab.nodes.map((n) => n.id)), 'one tenant on each node');
  for (const [i, user] of users.entries()) await chatAgainAndCheckHistory(t, curls[i] as Curl, user);

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
});

type Curl = ReturnType<typeof curlWithJar>;

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

function sorted(items: string[]): string[] {
  return [...items].sort();
}

function secretOf(envFile: string, key: string): string {
  return new RegExp(`^${key}=(.*)$`, 'm').exec(readFileSync(envFile, 'utf8'))?.[1] ?? '';
}
