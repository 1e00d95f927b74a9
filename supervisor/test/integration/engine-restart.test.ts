import { json, seg, startSupervisor, waitForHttp } from '@tenancy/test-support';
import t from 'tap';
import { deriveIdentity } from '../../src/runtime/names.js';
import { startOwnEngine } from './own-engine.js';

const isRoot = process.getuid?.() === 0;
// Kept clear of the default pool (10.201/16), test-support's (10.20-10.199) and the fixed test ranges.
const POOL = '10.216.0.0/16';

/**
 * Restarting dockerd (an upgrade, a crash) without live-restore stops every container. The
 * supervisor must notice (its event stream breaks; it reconnects and reconciles), record the
 * running tenant as crashed, and the next request must wake it with its data. The engine
 * restarted is a second one of the test's own, never the shared one.
 */
t.test(
  'a Docker engine restart stops a running tenant; the supervisor records it crashed and the next wake brings it back with its data',
  { skip: isRoot ? false : 'starting dockerd needs root' },
  async (t) => {
    const engine = await startOwnEngine(t);
    const supervisor = await startSupervisor(t, { DOCKER_HOST: engine.dockerHost, TENANT_SUBNET_POOL: POOL });
    const userId = 'engine-restart';
    t.equal((await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, {}, 'internal')).status, 200);
    const wake = () =>
      supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal').then(json);

    const first = await wake();
    t.equal(first.status, 200, JSON.stringify(first.body));
    const secret = deriveIdentity(supervisor.namespaceKey, userId).secret;
    const headers = { 'x-tenancy-tenant-secret': secret };
    const put = await fetch(`${first.body.endpoint.url}/files/notes.txt`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'text/plain' },
      body: 'written before the engine restart',
    });
    t.equal(put.status, 200);
    await put.arrayBuffer();

    await engine.restart();
    t.same(
      (await engine.docker.listContainers({ filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] } }))
        .length,
      0,
      'the restart stopped the tenant container',
    );

    // The supervisor learns it from the engine (events, or reconciling once the stream is back).
    let tenant = (await json(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`))).body;
    while (tenant.state === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 100));
      tenant = (await json(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`))).body;
    }
    t.match(tenant, { state: 'asleep', stopReason: 'crashed' });
    const route = await json(
      await supervisor.api('GET', `/internal/v1/tenants/${seg(userId)}/route`, undefined, 'internal'),
    );
    t.same(route.body, { state: 'asleep', plan: 'free' }, 'no route to the stopped container');

    const again = await wake();
    t.equal(again.status, 200, JSON.stringify(again.body));
    t.match(again.body, { state: 'running' });
    await waitForHttp(`${again.body.endpoint.url}/health`);
    const read = await fetch(`${again.body.endpoint.url}/files/notes.txt`, { headers });
    t.equal(read.status, 200);
    t.equal(await read.text(), 'written before the engine restart', 'its data survived');
  },
);

/**
 * With `live-restore` (docs/operations.md) the same restart leaves containers running: the
 * tenant keeps answering at its endpoint and the supervisor, once its event stream is back,
 * keeps it as it was.
 */
t.test(
  'with live-restore an engine restart leaves a running tenant running and reachable at the same endpoint',
  { skip: isRoot ? false : 'starting dockerd needs root' },
  async (t) => {
    const engine = await startOwnEngine(t, ['--live-restore']);
    const supervisor = await startSupervisor(t, { DOCKER_HOST: engine.dockerHost, TENANT_SUBNET_POOL: POOL });
    const userId = 'live-restore';
    t.equal((await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, {}, 'internal')).status, 200);
    const wake = () =>
      supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal').then(json);
    const first = await wake();
    t.equal(first.status, 200, JSON.stringify(first.body));

    const lost = supervisor.output.length;
    await engine.restart();
    const running = await engine.docker.listContainers({
      filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
    });
    t.equal(running.length, 1, 'the tenant container kept running through the restart');
    t.equal((await fetch(`${first.body.endpoint.url}/health`)).status, 200, 'and answers');

    // The supervisor saw its event stream break; once it is back, the tenant is still running.
    while (!supervisor.output.slice(lost).some((line) => line.includes('docker event stream lost'))) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const again = await wake();
    t.equal(again.status, 200);
    t.equal(again.body.endpoint.url, first.body.endpoint.url, 'same container, same endpoint');
    const tenant = (await json(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`))).body;
    t.match(tenant, { state: 'running', stopReason: null, wakeCount: 1 });
  },
);
