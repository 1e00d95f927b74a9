import t from 'tap';
import { deriveIdentity } from '../../src/runtime/names.js';
import { TEST_SETTINGS, until } from '../lifecycle/fakes.js';
import { build } from './build.js';

/** Health, readiness and the Prometheus metrics: what orchestrators and dashboards read. */

t.test('health answers ok; ready answers only while the store and the engine do', async (t) => {
  const { request, control, store } = await build(t);
  t.strictSame((await request('GET', '/health', { token: null })).json(), { status: 'ok' });
  const ready = await request('GET', '/ready', { token: null });
  t.strictSame([ready.statusCode, ready.json()], [200, { status: 'ready' }]);

  control.failPing = new Error('connect ENOENT /var/run/docker.sock');
  const engineDown = await request('GET', '/ready', { token: null });
  t.strictSame(
    [engineDown.statusCode, engineDown.json()],
    [
      503,
      {
        statusCode: 503,
        code: 'SUP_ERR_RUNTIME_UNAVAILABLE',
        error: 'Service Unavailable',
        message: 'connect ENOENT /var/run/docker.sock',
      },
    ],
  );
  control.failPing = undefined;
  t.equal((await request('GET', '/ready', { token: null })).statusCode, 200, 'ready again once the engine answers');

  store.close();
  const storeDown = await request('GET', '/ready', { token: null });
  t.strictSame([storeDown.statusCode, storeDown.json().code], [503, 'SUP_ERR_RUNTIME_UNAVAILABLE']);
  t.strictSame((await request('GET', '/health', { token: null })).json(), { status: 'ok' }, 'alive all the same');
});

t.test('metrics count tenants by state, the start queue, wakes, pauses and stops', async (t) => {
  const { request, store, controller, control, calls } = await build(t, { settings: { wakeConcurrency: 1 } });
  const metrics = async () => {
    const res = await request('GET', '/metrics', { token: null });
    t.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    return res.body;
  };
  const before = await metrics();
  for (const state of ['asleep', 'waking', 'running', 'paused', 'stopping', 'failed']) {
    t.match(before, `tenancy_tenants{state="${state}"} 0\n`, `${state}: 0 before anything`);
  }
  t.match(before, 'tenancy_start_queue_length 0\n');
  t.notMatch(before, 'tenancy_tenant_disk_used_bytes{', 'no disk figures without tenants');

  for (const user of ['ada', 'bob', 'carol', 'dan']) store.addUser(user);
  await controller.wake('ada', { wait: true });
  await controller.wake('bob', { wait: true });
  await controller.pause('ada', 'admin', 'admin');
  await controller.stop('bob', 'idle');
  control.failEnsure = new Error('engine said no');
  await controller.wake('carol', { wait: true }).catch(() => undefined);
  control.failEnsure = undefined;

  // One start holds the only slot, so the next wake waits in line.
  let open: () => void = () => undefined;
  control.ensureGate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const holding = controller.wake('carol', { wait: true });
  await until(() => calls.ensure === 4, 'the start to hold its slot');
  const waiting = controller.wake('dan', { wait: true });
  await until(() => controller.queueLength === 1, 'the next wake to queue');

  const during = await metrics();
  for (const line of [
    'tenancy_tenants{state="paused"} 1',
    'tenancy_tenants{state="asleep"} 1',
    'tenancy_tenants{state="waking"} 2',
    'tenancy_tenants{state="running"} 0',
    'tenancy_start_queue_length 1',
    'tenancy_wakes_total{result="ok"} 2',
    'tenancy_wakes_total{result="failed"} 1',
    'tenancy_wake_duration_seconds_count 2',
    'tenancy_pauses_total{reason="admin"} 1',
    'tenancy_stops_total{reason="idle"} 1',
  ]) {
    t.match(during, `${line}\n`, line);
  }

  control.ensureGate = undefined;
  open();
  await Promise.all([holding, waiting]);
  const after = await metrics();
  t.match(after, 'tenancy_tenants{state="running"} 2\n');
  t.match(after, 'tenancy_start_queue_length 0\n');
  t.match(after, 'tenancy_wakes_total{result="ok"} 4\n');

  // Every tenant's disk, by its hash (never the user id), as its filesystem reports it.
  control.diskUsage = { sizeBytes: 1_000_000, usedBytes: 250_000 };
  const disks = await metrics();
  for (const user of ['ada', 'bob', 'carol', 'dan']) {
    const tenant = deriveIdentity(TEST_SETTINGS.namespaceKey, user).hash;
    t.match(disks, `tenancy_tenant_disk_used_bytes{tenant="${tenant}"} 250000\n`, `${user}: used`);
    t.match(disks, `tenancy_tenant_disk_size_bytes{tenant="${tenant}"} 1000000\n`, `${user}: size`);
  }
  t.notMatch(disks, 'ada', 'no user ids');
});
