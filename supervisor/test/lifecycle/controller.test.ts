import { isTenancyError } from '@tenancy/shared';
import type { Teardown } from '@tenancy/test-support';
import { pino } from 'pino';
import t from 'tap';
import { type ControllerSettings, TenantController } from '../../src/lifecycle/controller.js';
import { createPlanTable } from '../../src/plans.js';
import { deriveIdentity } from '../../src/runtime/names.js';
import { fakeRuntime, fakeTenantApp, memoryStore } from './fakes.js';

const SETTINGS: ControllerSettings = {
  namespaceKey: 'unit-test-namespace-key-0123456789',
  instance: 'unit',
  image: 'tenancy/tenant:local',
  port: 8080,
  healthPath: '/health',
  subnetPool: '10.214.0.0/24',
  subnetPrefix: 28,
  idleTimeoutMs: 60_000,
  warmupTimeoutMs: 2_000,
  stopGraceMs: 1_000,
  probeIntervalMs: 10,
  extraEnv: {},
  reaperIntervalMs: 60_000,
  maxRunning: 10,
  capacityPolicy: 'reject',
  evictMinIdleMs: 60_000,
};

async function setup(t: Teardown, settings: Partial<ControllerSettings> = {}, now?: () => number) {
  const app = await fakeTenantApp(t);
  const fake = fakeRuntime(app.url);
  const store = memoryStore();
  const controller = new TenantController({
    runtime: fake.runtime,
    store,
    plans: createPlanTable(''),
    settings: { ...SETTINGS, ...settings },
    log: pino({ level: 'silent' }),
    ...(now ? { now } : {}),
  });
  t.teardown(() => controller.close());
  return { app, ...fake, store, controller };
}

t.test('50 concurrent wakes of one sleeping tenant make one start and 50 successes', async (t) => {
  const { controller, store, calls, app } = await setup(t);
  store.addUser('alice');
  const results = await Promise.all(Array.from({ length: 50 }, () => controller.wake('alice', { wait: true })));
  t.equal(calls.ensure, 1);
  t.equal(calls.start, 1);
  t.equal(results.length, 50);
  t.ok(results.every((route) => route.state === 'running' && route.endpoint?.url === app.url));
  const tenant = store.tenants.get('alice');
  t.equal(tenant?.state, 'running');
  t.equal(tenant?.wakeCount, 1);
  t.equal(tenant?.subnet, '10.214.0.0/28', 'first subnet of the pool');
  t.equal(store.audits.filter((entry) => entry.action === 'tenant.wake').length, 1);
});

t.test('a failed wake fails every waiter, and the next wake retries fresh', async (t) => {
  const { controller, store, calls, control } = await setup(t);
  store.addUser('bob');
  control.failEnsure = new Error('engine said no');
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => controller.wake('bob', { wait: true })));
  t.equal(calls.ensure, 1, 'one attempt shared by all');
  t.ok(
    results.every(
      (r) => r.status === 'rejected' && isTenancyError(r.reason) && r.reason.code === 'SUP_ERR_WAKE_FAILED',
    ),
  );
  t.equal(store.tenants.get('bob')?.state, 'failed');
  t.equal(store.tenants.get('bob')?.stopReason, 'failed-start');
  t.equal(store.tenants.get('bob')?.failureCount, 1);

  control.failEnsure = undefined;
  const route = await controller.wake('bob', { wait: true });
  t.equal(route.state, 'running');
  t.equal(calls.ensure, 2, 'a fresh attempt');
});

t.test('a tenant that never becomes healthy times out, is stopped, and the failure is recorded', async (t) => {
  const { controller, store, calls, app } = await setup(t, { warmupTimeoutMs: 300 });
  store.addUser('carol');
  app.healthy.value = false;
  const error = await controller.wake('carol', { wait: true }).catch((err: unknown) => err);
  t.ok(isTenancyError(error) && error.code === 'SUP_ERR_WAKE_TIMEOUT', String(error));
  t.equal(calls.stop, 1, 'the container was stopped');
  t.match(store.tenants.get('carol'), { state: 'failed', stopReason: 'failed-start' });
  t.match(store.audits.at(-1), { action: 'tenant.wake', result: 'error' });
});

t.test('a stop during a wake cancels it: waiters get cancelled, the tenant sleeps', async (t) => {
  const { controller, store, calls, control } = await setup(t);
  store.addUser('dave');
  control.ensureDelayMs = 200;
  const waiting = controller.wake('dave', { wait: true }).catch((err: unknown) => err);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(store.tenants.get('dave')?.state, 'waking');
  await controller.stop('dave', 'admin', 'admin');
  const error = await waiting;
  t.ok(isTenancyError(error) && error.code === 'SUP_ERR_WAKE_CANCELLED', String(error));
  t.match(store.tenants.get('dave'), { state: 'asleep', stopReason: 'admin' });
  t.equal(calls.start, 0, 'never started');
});

t.test(
  'wake progress is reported phase by phase (a follower first sees the current phase), and late followers see the end',
  async (t) => {
    const { controller, store } = await setup(t);
    store.addUser('erin');
    const phases: string[] = [];
    await new Promise<void>((resolve) => {
      void controller.followWake('erin', (event) => {
        phases.push(event.phase);
        if (event.phase === 'ready') resolve();
      });
    });
    t.same(
      phases.filter((phase, i) => phase !== phases[i - 1]),
      ['creating', 'starting', 'waiting-health', 'ready'],
    );
    const late: string[] = [];
    await controller.followWake('erin', (event) => late.push(event.phase));
    t.same(late, ['ready'], 'a running tenant reports ready at once');
  },
);

t.test('the reaper stops idle tenants with reason idle; activity keeps others running', async (t) => {
  let clock = 1_000_000;
  const { controller, store } = await setup(t, { idleTimeoutMs: 10_000 }, () => clock);
  store.addUser('idle');
  store.addUser('busy');
  await controller.wake('idle', { wait: true });
  await controller.wake('busy', { wait: true });
  clock += 6_000;
  controller.recordActivity('busy', clock);
  clock += 6_000;
  await controller.reap();
  t.match(store.tenants.get('idle'), { state: 'asleep', stopReason: 'idle' });
  t.match(store.tenants.get('busy'), { state: 'running' });
  t.equal(store.tenants.get('busy')?.idleDeadline, 1_006_000 + 10_000);
  controller.recordActivity('busy', clock - 60_000);
  t.equal(store.tenants.get('busy')?.idleDeadline, 1_016_000, 'old activity never moves the deadline back');
});

t.test(
  'capacity: reject answers 429 with Retry-After; evict stops the least recently active idle tenant',
  async (t) => {
    let clock = 5_000_000;
    const rejecting = await setup(t, { maxRunning: 1 }, () => clock);
    rejecting.store.addUser('first');
    rejecting.store.addUser('second');
    await rejecting.controller.wake('first', { wait: true });
    const error = await rejecting.controller.wake('second', { wait: true }).catch((err: unknown) => err);
    t.ok(isTenancyError(error) && error.code === 'SUP_ERR_CAPACITY_FULL' && error.statusCode === 429);
    t.equal(isTenancyError(error) && error.details?.retryAfterSeconds, 30);

    const evicting = await setup(t, { maxRunning: 2, capacityPolicy: 'evict', evictMinIdleMs: 1_000 }, () => clock);
    for (const user of ['a', 'b', 'c']) evicting.store.addUser(user);
    await evicting.controller.wake('a', { wait: true });
    clock += 100;
    await evicting.controller.wake('b', { wait: true });
    clock += 5_000;
    evicting.controller.recordActivity('a', clock);
    await evicting.controller.wake('c', { wait: true });
    t.match(
      evicting.store.tenants.get('b'),
      { state: 'asleep', stopReason: 'capacity' },
      'b was least recently active',
    );
    t.match(evicting.store.tenants.get('a'), { state: 'running' });
    t.match(evicting.store.tenants.get('c'), { state: 'running' });
  },
);

t.test('reconcile settles interrupted operations and vanished containers, and adopts running ones', async (t) => {
  const { controller, store, running, app } = await setup(t);
  for (const user of ['waking-running', 'waking-gone', 'running-gone', 'asleep-running']) {
    store.addUser(user);
    store.tenants.ensure(user, controller.namesFor(user).container.split('-').pop() ?? '');
  }
  store.tenants.update('waking-running', { state: 'waking', phase: 'starting' });
  store.tenants.update('waking-gone', { state: 'waking', phase: 'creating' });
  store.tenants.update('running-gone', { state: 'running', endpointUrl: app.url });
  running.set(controller.namesFor('waking-running').container, true);
  running.set(controller.namesFor('asleep-running').container, true);

  await controller.reconcile();
  t.match(store.tenants.get('waking-running'), { state: 'running', phase: null, endpointUrl: app.url });
  t.match(store.tenants.get('waking-gone'), { state: 'asleep', stopReason: 'failed-start' });
  t.match(store.tenants.get('running-gone'), { state: 'asleep', stopReason: 'crashed', endpointUrl: null });
  t.match(store.tenants.get('asleep-running'), { state: 'running', endpointUrl: app.url });
});

t.test('unknown and disabled users cannot wake', async (t) => {
  const { controller, store } = await setup(t);
  const unknown = await controller.wake('nobody', { wait: true }).catch((err: unknown) => err);
  t.ok(isTenancyError(unknown) && unknown.code === 'SUP_ERR_USER_NOT_FOUND');
  store.addUser('mallory');
  const user = store.users.get('mallory');
  if (user) user.disabled = true;
  const disabled = await controller.wake('mallory', { wait: true }).catch((err: unknown) => err);
  t.ok(isTenancyError(disabled) && disabled.code === 'SUP_ERR_USER_DISABLED');
});

t.test('before a stop, the tenant’s usage summary is read and recorded; bad answers are ignored', async (t) => {
  const { controller, store, app } = await setup(t);
  const secret = deriveIdentity(SETTINGS.namespaceKey, 'dana').secret;
  const figures = { messages: 3, replies: 3, tokensUsed: 42, bytesStored: 1024, lastActivity: 1_700_000_000_000 };
  app.summary.secret = secret;
  app.summary.body = JSON.stringify(figures);
  store.addUser('dana');
  await controller.wake('dana', { wait: true });
  await controller.stop('dana', 'idle');
  t.equal(app.summary.requests, 1);
  t.same(store.summaries.latest.get('dana'), figures);

  for (const garbage of [
    'not json',
    '{"messages":-1,"replies":0,"tokensUsed":0,"bytesStored":0,"lastActivity":null}',
  ]) {
    app.summary.body = garbage;
    await controller.wake('dana', { wait: true });
    await controller.stop('dana', 'admin');
    t.same(store.summaries.latest.get('dana'), figures, `ignored: ${garbage.slice(0, 20)}`);
    t.equal(store.tenants.get('dana')?.state, 'asleep', 'and the stop went ahead');
  }
});

t.test('tenant apps get the operator’s extra environment, and the summary push target when configured', async (t) => {
  const { controller, store, specs } = await setup(t, {
    extraEnv: { LLM_BASE_URL: 'http://127.0.0.1:9/v1', LLM_MODEL: 'm' },
    summaryUrl: 'http://supervisor:4010/',
  });
  store.addUser('eve@example.com');
  await controller.wake('eve@example.com', { wait: true });
  const identity = deriveIdentity(SETTINGS.namespaceKey, 'eve@example.com');
  t.same(specs.at(-1)?.env, {
    LLM_BASE_URL: 'http://127.0.0.1:9/v1',
    LLM_MODEL: 'm',
    PORT: '8080',
    TENANT_SECRET: identity.secret,
    SUMMARY_URL: 'http://supervisor:4010/v1/tenants/eve%40example.com/summary',
    SUMMARY_TOKEN: identity.summaryToken,
  });
});

t.test('peers get their tenant networks back at start and whenever one starts again', async (t) => {
  const { controller, calls, control } = await setup(t);
  await controller.start();
  t.equal(calls.reattach, 1, 'once at start, after reconciling');
  control.emit?.({ type: 'peer-start', tenantHash: '', containerId: 'replica-2', exitCode: undefined, at: Date.now() });
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(calls.reattach, 2, 'again when a peer starts');
});
