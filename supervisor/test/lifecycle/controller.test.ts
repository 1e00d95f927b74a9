import { isTenancyError } from '@tenancy/shared';
import type { Teardown } from '@tenancy/test-support';
import { pino } from 'pino';
import t from 'tap';
import { type ControllerSettings, TenantController } from '../../src/lifecycle/controller.js';
import { createPlanTable } from '../../src/plans.js';
import { deriveIdentity } from '../../src/runtime/names.js';
import type { RuntimeCapabilities } from '../../src/runtime/types.js';
import { fakeRuntime, fakeTenantApp, memoryStore, TEST_SETTINGS, until } from './fakes.js';

async function setup(
  t: Teardown,
  settings: Partial<ControllerSettings> = {},
  now?: () => number,
  capabilities: Partial<RuntimeCapabilities> = {},
) {
  const app = await fakeTenantApp(t);
  const fake = fakeRuntime(app.url, capabilities);
  const store = memoryStore(t);
  const controller = new TenantController({
    runtime: fake.runtime,
    store,
    plans: createPlanTable(''),
    settings: { ...TEST_SETTINGS, ...settings },
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
  t.equal(store.audits().filter((entry) => entry.action === 'tenant.wake').length, 1);
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
  t.match(store.audits().at(-1), { action: 'tenant.wake', result: 'error' });
});

t.test('a failed wake answers before its clean-up ends; the next waiting wake starts once it has', async (t) => {
  const { controller, store, calls, app, control } = await setup(t, { warmupTimeoutMs: 300 });
  store.addUser('erin');
  app.healthy.value = false;
  const { gate, open } = gated();
  control.stopGate = gate;
  const error = await controller.wake('erin', { wait: true }).catch((err: unknown) => err);
  t.ok(isTenancyError(error) && error.code === 'SUP_ERR_WAKE_TIMEOUT', String(error));
  t.equal(calls.stop, 1, 'the clean-up stop is under way');
  t.match(store.tenants.get('erin'), { state: 'failed', stopReason: 'failed-start' });
  t.same(controller.route('erin'), { state: 'failed' }, 'the route says failed while the container stops');
  t.same(await controller.wake('erin', { wait: false }), { state: 'failed' }, 'so does a wake that does not wait');

  app.healthy.value = true;
  const again = controller.wake('erin', { wait: true });
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(calls.ensure, 1, 'no new wake while the clean-up runs');
  open();
  t.match(await again, { state: 'running' });
  t.equal(calls.ensure, 2, 'then a fresh one');
});

t.test('a stop during a wake cancels it: waiters get cancelled, the tenant sleeps', async (t) => {
  const { controller, store, calls, control } = await setup(t);
  store.addUser('dave');
  const { gate, open } = gated();
  control.ensureGate = gate;
  const waiting = controller.wake('dave', { wait: true }).catch((err: unknown) => err);
  await until(() => calls.ensure === 1);
  t.equal(store.tenants.get('dave')?.state, 'waking');
  setImmediate(open);
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

t.test('a batch of activity moves every deadline in one call; activity from the future counts as now', async (t) => {
  let clock = 2_000_000;
  const { controller, store } = await setup(t, { idleTimeoutMs: 10_000 }, () => clock);
  for (const user of ['a', 'b']) {
    store.addUser(user);
    await controller.wake(user, { wait: true });
  }
  clock += 5_000;
  controller.recordActivities([
    { userId: 'a', lastActivity: clock - 1_000 },
    { userId: 'b', lastActivity: clock + 3_600_000 },
    { userId: 'nobody', lastActivity: clock },
  ]);
  t.equal(store.tenants.get('a')?.idleDeadline, clock - 1_000 + 10_000);
  t.equal(store.tenants.get('b')?.idleDeadline, clock + 10_000, 'capped at now');
  t.equal(store.tenants.get('nobody'), undefined, 'an unknown user is skipped');
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
  store.users.setDisabled('mallory', true);
  const disabled = await controller.wake('mallory', { wait: true }).catch((err: unknown) => err);
  t.ok(isTenancyError(disabled) && disabled.code === 'SUP_ERR_USER_DISABLED');
});

t.test('before a stop, the tenant’s usage summary is read and recorded; bad answers are ignored', async (t) => {
  const { controller, store, app } = await setup(t);
  const secret = deriveIdentity(TEST_SETTINGS.namespaceKey, 'dana').secret;
  const figures = { messages: 3, replies: 3, tokensUsed: 42, bytesStored: 1024, lastActivity: 1_700_000_000_000 };
  app.summary.secret = secret;
  app.summary.body = JSON.stringify(figures);
  store.addUser('dana');
  await controller.wake('dana', { wait: true });
  await controller.stop('dana', 'idle');
  t.equal(app.summary.requests, 1);
  t.match(store.summaries.get('dana'), figures);

  for (const garbage of [
    'not json',
    '{"messages":-1,"replies":0,"tokensUsed":0,"bytesStored":0,"lastActivity":null}',
  ]) {
    app.summary.body = garbage;
    await controller.wake('dana', { wait: true });
    await controller.stop('dana', 'admin');
    t.match(store.summaries.get('dana'), figures, `ignored: ${garbage.slice(0, 20)}`);
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
  const identity = deriveIdentity(TEST_SETTINGS.namespaceKey, 'eve@example.com');
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
  const { controller, calls, control, runtime } = await setup(t);
  // The reconcile probes half-woken tenants on their networks: a supervisor in a container (a
  // peer too) must be back on them first, or its probes fail for the whole wake budget.
  const list = runtime.list.bind(runtime);
  let attachedBeforeReconcile: boolean | undefined;
  runtime.list = async () => {
    attachedBeforeReconcile ??= calls.reattach === 1;
    return list();
  };
  await controller.start();
  t.equal(calls.reattach, 1, 'once at start');
  t.equal(attachedBeforeReconcile, true, 'before reconciling');
  control.emit?.({ type: 'peer-start', tenantHash: '', containerId: 'replica-2', exitCode: undefined, at: Date.now() });
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(calls.reattach, 2, 'again when a peer starts');
});

t.test('50 first wakes of distinct users at once all succeed, each with its own subnet', async (t) => {
  const { controller, store, specs } = await setup(t, {
    maxRunning: 100,
    wakeConcurrency: 4,
    subnetPool: '10.214.0.0/20',
  });
  const users = Array.from({ length: 50 }, (_, i) => `user-${String(i).padStart(2, '0')}`);
  for (const user of users) store.addUser(user);
  const results = await Promise.allSettled(users.map((user) => controller.wake(user, { wait: true })));
  t.equal(results.filter((result) => result.status === 'fulfilled').length, 50, 'no failures');
  const subnets = users.map((user) => store.tenants.get(user)?.subnet);
  t.equal(new Set(subnets).size, 50, 'no duplicate subnet');
  t.strictSame(
    specs.map((spec) => spec.names.container),
    users.map((user) => controller.namesFor(user).container),
    'admitted first come, first served',
  );
});

t.test('starts queue in order: followers hear their place, and it moves as slots free up', async (t) => {
  const { controller, store, control, calls } = await setup(t, { wakeConcurrency: 1 });
  const { gate, open } = gated();
  control.ensureGate = gate;
  for (const user of ['q1', 'q2', 'q3']) store.addUser(user);
  const wakes = ['q1', 'q2', 'q3'].map((user) => controller.wake(user, { wait: true }));
  await until(() => calls.ensure === 1);
  t.match(controller.route('q1'), { state: 'waking', phase: 'creating' });
  t.match(controller.route('q2'), { state: 'waking', phase: 'queued', position: 1 });
  t.match(controller.route('q3'), { state: 'waking', phase: 'queued', position: 2 });
  t.equal(controller.queueLength, 2);
  const heard: (number | undefined)[] = [];
  const unsubscribe = await controller.followWake('q3', (event) => heard.push(event.position));

  const pending = await controller.wake('q3', { wait: true, timeoutMs: 20 }).catch((err: unknown) => err);
  t.ok(isTenancyError(pending) && pending.code === 'SUP_ERR_WAKE_PENDING' && pending.statusCode === 503);
  t.ok(isTenancyError(pending) && Number(pending.details?.retryAfterSeconds) >= 1, 'with a time to retry');

  control.ensureGate = undefined;
  open();
  const routes = await Promise.all(wakes);
  unsubscribe();
  t.ok(
    routes.every((route) => route.state === 'running'),
    'the wake went on after the pending answer',
  );
  t.strictSame(heard.slice(0, 2), [2, 1], 'q3 heard its place move from 2 to 1');
  t.equal(controller.queueLength, 0);
});

t.test('a subnet the engine refuses is given back and another is taken', async (t) => {
  const { controller, store, control } = await setup(t);
  control.engineSubnets = ['10.214.0.0/28'];
  control.conflictingSubnets.add('10.214.0.16/28');
  store.addUser('frank');
  const route = await controller.wake('frank', { wait: true });
  t.equal(route.state, 'running');
  t.equal(store.tenants.get('frank')?.subnet, '10.214.0.32/28', 'skipped the engine’s and the refused one');
});

t.test('two wakes can never both take the last start slot', async (t) => {
  const { controller, store } = await setup(t, { maxRunning: 1 });
  store.addUser('left');
  store.addUser('right');
  const results = await Promise.allSettled([
    controller.wake('left', { wait: true }),
    controller.wake('right', { wait: true }),
  ]);
  t.strictSame(
    results.map((result) => result.status),
    ['fulfilled', 'rejected'],
  );
  t.equal(store.tenants.countByState().running, 1);
});

t.test('two-stage sleep: idle tenants pause, wake by thawing, and stop after PAUSE_TIMEOUT', async (t) => {
  let clock = 2_000_000;
  const { controller, store, calls } = await setup(
    t,
    { idleTimeoutMs: 10_000, pauseTimeoutMs: 60_000, maxRunning: 1 },
    () => clock,
  );
  const unrouted: string[] = [];
  controller.onUnroute((userId) => unrouted.push(userId));
  store.addUser('gina');
  store.addUser('hal');
  await controller.wake('gina', { wait: true });
  clock += 11_000;
  await controller.reap();
  t.match(store.tenants.get('gina'), { state: 'paused', pausedAt: clock });
  t.equal(calls.pause, 1);
  t.strictSame(unrouted, ['gina'], 'gateways drop the route at the pause');
  t.strictSame(controller.route('gina'), { state: 'paused' });

  await controller.wake('hal', { wait: true });
  t.equal(store.tenants.get('hal')?.state, 'running', 'a paused tenant holds no start slot');
  await controller.stop('hal', 'admin');

  const route = await controller.wake('gina', { wait: true });
  t.equal(route.state, 'running');
  t.equal(calls.unpause, 1, 'thawed');
  t.equal(calls.start, 2, 'not started again (one start for each tenant)');
  t.match(store.tenants.get('gina'), { pausedAt: null, wakeCount: 2 });
  t.match(store.audits().at(-1), { action: 'tenant.wake', result: 'ok', detail: { resume: true } });

  clock += 11_000;
  await controller.reap();
  t.equal(store.tenants.get('gina')?.state, 'paused');
  clock += 59_000;
  await controller.reap();
  t.equal(store.tenants.get('gina')?.state, 'paused', 'not yet: the pause has lasted 59 s');
  clock += 1_000;
  await controller.reap();
  t.match(store.tenants.get('gina'), { state: 'asleep', stopReason: 'idle', pausedAt: null });
});

t.test('low memory stops paused tenants, least recently active first, until the reserve is back', async (t) => {
  let clock = 3_000_000;
  let available = 100;
  const { controller, store, control } = await setup(
    t,
    { idleTimeoutMs: 1_000, pauseTimeoutMs: 3_600_000, memoryReserveBytes: 120 },
    () => clock,
  );
  // One node, as the Docker runtime has: its tenants need not say where they are.
  control.memory = () => [{ node: 'local', totalBytes: 10_000, availableBytes: available }];
  for (const user of ['old', 'mid', 'new']) {
    store.addUser(user);
    await controller.wake(user, { wait: true });
    clock += 100;
  }
  clock += 5_000;
  available = 1_000;
  await controller.reap();
  t.strictSame(
    ['old', 'mid', 'new'].map((user) => store.tenants.get(user)?.state),
    ['paused', 'paused', 'paused'],
    'plenty of memory: paused, not stopped',
  );
  // Memory gets scarce; each stop gives some back.
  available = 100;
  const original = store.tenants.update.bind(store.tenants);
  store.tenants.update = (userId, patch) => {
    if (patch.state === 'asleep') available += 15;
    return original(userId, patch);
  };
  let reads = 0;
  control.memory = () => {
    reads++;
    return [{ node: 'local', totalBytes: 10_000, availableBytes: available }];
  };
  await controller.reap();
  t.strictSame(
    ['old', 'mid', 'new'].map((user) => store.tenants.get(user)?.state),
    ['asleep', 'asleep', 'paused'],
    'the two least recently active were stopped; then the reserve was met',
  );
  // Each read can cost an exec per node (a swarm): once for the pass, then once after each stop.
  t.equal(reads, 3, 'memory read once, then after each of the two stops');
  t.equal(store.tenants.get('old')?.stopReason, 'memory');
});

t.test('low memory on one node stops the paused tenants on that node only', async (t) => {
  let clock = 3_000_000;
  const available = new Map([
    ['node-a', 1_000],
    ['node-b', 1_000],
  ]);
  const { controller, store, control, runtime } = await setup(
    t,
    { idleTimeoutMs: 1_000, pauseTimeoutMs: 3_600_000, memoryReserveBytes: 120 },
    () => clock,
  );
  control.memory = () => [...available].map(([node, availableBytes]) => ({ node, totalBytes: 10_000, availableBytes }));
  const asked: (string | undefined)[] = [];
  const memory = runtime.memory.bind(runtime);
  runtime.memory = (node) => {
    asked.push(node);
    return memory(node);
  };
  // The least recently active tenant of all is on node b, which has memory to spare.
  const placed = [
    ['b-old', 'node-b'],
    ['a-mid', 'node-a'],
    ['a-new', 'node-a'],
    ['b-new', 'node-b'],
  ] as const;
  for (const [user, node] of placed) {
    store.addUser(user);
    control.nodes.set(controller.namesFor(user).container, node);
    await controller.wake(user, { wait: true });
    clock += 100;
  }
  clock += 5_000;
  await controller.reap();
  t.strictSame(
    placed.map(([user]) => store.tenants.get(user)?.state),
    ['paused', 'paused', 'paused', 'paused'],
  );
  // Node a runs short, and stays short after one stop; node b keeps plenty.
  available.set('node-a', 50);
  const original = store.tenants.update.bind(store.tenants);
  store.tenants.update = (userId, patch) => {
    if (patch.state === 'asleep' && userId.startsWith('a-'))
      available.set('node-a', (available.get('node-a') ?? 0) + 40);
    return original(userId, patch);
  };
  await controller.reap();
  t.strictSame(
    placed.map(([user]) => store.tenants.get(user)?.state),
    ['paused', 'asleep', 'asleep', 'paused'],
    'both paused tenants of node a stopped, least recently active first; node b’s kept',
  );
  t.strictSame(
    asked.slice(-3),
    [undefined, 'node-a', 'node-a'],
    'every node once for the pass, then only node a after each of its stops',
  );
  t.strictSame(
    store
      .audits()
      .filter((entry) => entry.action === 'tenant.stop')
      .map((entry) => [entry.target, entry.detail]),
    [
      ['a-mid', { reason: 'memory' }],
      ['a-new', { reason: 'memory' }],
    ],
  );
});

t.test('the reaper timer never runs a pass beside a slow one, and close waits for it', async (t) => {
  let clock = 3_000_000;
  const { controller, store, control } = await setup(
    t,
    { idleTimeoutMs: 1_000, pauseTimeoutMs: 3_600_000, memoryReserveBytes: 120, reaperIntervalMs: 2 },
    () => clock,
  );
  store.addUser('paused');
  await controller.wake('paused', { wait: true });
  clock += 5_000;
  await controller.reap();
  t.equal(store.tenants.get('paused')?.state, 'paused');
  // A paused tenant makes every pass read the nodes' memory; this read takes until released.
  let reads = 0;
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  control.memory = async () => {
    reads++;
    await held;
    return [{ node: 'local', totalBytes: 10_000, availableBytes: 1_000 }];
  };
  await controller.start();
  await until(() => reads === 1, 'the first pass to read memory');
  // Many ticks of a 2 ms timer go by while the read is held: none starts a second pass.
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(reads, 1, 'one pass at a time');
  let closed = false;
  const closing = controller.close().then(() => {
    closed = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(closed, 'close waits for the pass in flight');
  release();
  await closing;
  t.equal(reads, 1);
});

t.test('holdStill freezes a running tenant until released; stops and wakes wait for it', async (t) => {
  let clock = 3_000_000;
  const { controller, store, calls, paused, running } = await setup(t, { idleTimeoutMs: 1_000 }, () => clock);
  for (const user of ['held', 'sleeper']) {
    store.addUser(user);
    await controller.wake(user, { wait: true });
  }
  await controller.stop('sleeper', 'admin');
  const sleeperStarts = calls.start;

  const release = await controller.holdStill('held');
  t.equal(calls.pause, 1, 'frozen on the runtime');
  t.ok(paused.has(controller.namesFor('held').container));
  t.equal(store.tenants.get('held')?.state, 'running', 'its state stays running');
  // The reaper leaves it alone even past its idle deadline.
  clock += 5_000;
  await controller.reap();
  t.equal(store.tenants.get('held')?.state, 'running', 'not put to sleep while held');
  let stopped = false;
  const stopping = controller.stop('held', 'admin').then(() => {
    stopped = true;
  });
  const sleeperHold = await controller.holdStill('sleeper');
  t.equal(calls.pause, 1, 'a stopped tenant is held, not paused');
  let woke = false;
  const waking = controller.wake('sleeper', { wait: true }).then(() => {
    woke = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(stopped, 'a stop waits for the hold');
  t.notOk(woke, 'a wake waits for the hold');
  t.equal(calls.start, sleeperStarts, 'nothing started while held');

  await release();
  await release();
  t.equal(calls.unpause, 1, 'thawed once');
  await stopping;
  t.equal(store.tenants.get('held')?.state, 'asleep', 'the stop ran once released');
  await sleeperHold();
  await waking;
  t.ok(woke);
  t.equal(store.tenants.get('sleeper')?.state, 'running', 'the wake ran once released');

  // Dead a moment ago, its state not yet told: held without a freeze, never thawed.
  running.set(controller.namesFor('sleeper').container, false);
  const deadHold = await controller.holdStill('sleeper');
  await deadHold();
  t.strictSame([calls.pause, calls.unpause], [2, 1], 'one pause tried (refused), no thaw');
});

t.test('a runtime that cannot pause: idle tenants are stopped at once, pause is never called', async (t) => {
  let clock = 3_000_000;
  const { controller, store, calls } = await setup(
    t,
    { idleTimeoutMs: 1_000, pauseTimeoutMs: 3_600_000 },
    () => clock,
    { pause: false },
  );
  for (const user of ['idle', 'admin']) {
    store.addUser(user);
    await controller.wake(user, { wait: true });
  }
  clock += 5_000;
  controller.recordActivity('admin', clock);
  await controller.reap();
  t.match(store.tenants.get('idle'), { state: 'asleep', stopReason: 'idle', pausedAt: null });
  // An admin's pause puts it to sleep the only way the runtime has.
  await controller.pause('admin', 'admin', 'admin');
  t.match(store.tenants.get('admin'), { state: 'asleep', stopReason: 'admin', pausedAt: null });
  await controller.wake('idle', { wait: true });
  t.equal(store.tenants.get('idle')?.state, 'running');
  t.strictSame([calls.pause, calls.unpause, calls.stop, calls.start], [0, 0, 2, 3]);
});

t.test('a runtime without subnets: wakes allocate none, the spec carries none', async (t) => {
  // A pool with room for one tenant: with subnets, the second wake would exhaust it.
  const { controller, store, calls, specs } = await setup(t, { subnetPool: '10.214.0.0/28' }, undefined, {
    subnets: false,
  });
  for (const user of ['ann', 'ben']) {
    store.addUser(user);
    t.equal((await controller.wake(user, { wait: true })).state, 'running');
  }
  t.equal(calls.usedSubnets, 0, 'the engine’s subnets were never asked for');
  t.strictSame(
    specs.map((spec) => 'subnet' in spec),
    [false, false],
  );
  t.strictSame(
    ['ann', 'ben'].map((user) => store.tenants.get(user)?.subnet),
    [null, null],
  );
});

t.test('a stop of a paused tenant thaws it first, so its summary is read and it shuts down cleanly', async (t) => {
  const { controller, store, calls, app } = await setup(t, { pauseTimeoutMs: 60_000 });
  app.summary.secret = deriveIdentity(TEST_SETTINGS.namespaceKey, 'ivy').secret;
  app.summary.body = JSON.stringify({ messages: 1, replies: 1, tokensUsed: 1, bytesStored: 1, lastActivity: null });
  store.addUser('ivy');
  await controller.wake('ivy', { wait: true });
  await controller.pause('ivy', 'admin', 'admin');
  t.equal(store.tenants.get('ivy')?.state, 'paused');
  await controller.stop('ivy', 'admin', 'admin');
  t.equal(calls.unpause, 1);
  t.equal(app.summary.requests, 1);
  t.match(store.tenants.get('ivy'), { state: 'asleep', stopReason: 'admin' });
});

/** A promise to hold fake ensures on, and the function that lets them go. */
function gated(): { gate: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { gate, open };
}

t.test('an engine call that never returns cannot hold a start slot past the wake budget', async (t) => {
  const { controller, store, control, calls } = await setup(t, { wakeConcurrency: 1, warmupTimeoutMs: 200 });
  const { gate } = gated(); // never opened: the engine hangs on this tenant's create
  control.ensureGate = gate;
  store.addUser('stuck');
  store.addUser('next');
  const stuck = controller.wake('stuck', { wait: true }).catch((err: unknown) => err);
  await until(() => calls.ensure === 1);
  control.ensureGate = undefined; // only the first create hangs
  t.match(await controller.wake('next', { wait: false }), { state: 'waking', position: 1 });
  const error = await stuck;
  t.ok(isTenancyError(error) && error.code === 'SUP_ERR_WAKE_TIMEOUT' && error.statusCode === 503, String(error));
  await until(() => store.tenants.get('next')?.state === 'running', 'the next tenant to run');
  t.pass('the slot was given back');
});

t.test('after a crash mid-wake, a running container is adopted only once its app answers', async (t) => {
  const { controller, store, running, app, calls } = await setup(t, { warmupTimeoutMs: 300 });
  store.addUser('halfway');
  store.tenants.ensure('halfway', controller.namesFor('halfway').container.split('-').pop() ?? '');
  store.tenants.update('halfway', { state: 'waking', phase: 'queued' });
  running.set(controller.namesFor('halfway').container, true);

  app.healthy.value = false;
  await controller.reconcile();
  t.match(store.tenants.get('halfway'), { state: 'asleep', stopReason: 'failed-start', endpointUrl: null });
  t.equal(calls.stop, 1, 'the container that never answered was stopped');

  store.tenants.update('halfway', { state: 'waking', phase: 'queued' });
  running.set(controller.namesFor('halfway').container, true);
  app.healthy.value = true;
  await controller.reconcile();
  t.match(store.tenants.get('halfway'), { state: 'running', endpointUrl: app.url });
});

t.test('a stop the engine reports late does not fail the next wake; a death after the start does', async (t) => {
  const { controller, store, control, app } = await setup(t);
  await controller.start();
  store.addUser('lara');
  const hash = deriveIdentity(TEST_SETTINGS.namespaceKey, 'lara').hash;
  const die = (at: number) =>
    control.emit?.({ type: 'die', tenantHash: hash, containerId: `c-${hash}`, exitCode: 0, at });

  // The wake is held before it starts the container; the die of its previous life arrives now.
  let open!: () => void;
  control.ensureGate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const stoppedAt = Date.now() - 1_000;
  const first = controller.wake('lara', { wait: true });
  await until(() => controller.phaseOf('lara') === 'creating', 'the wake to begin');
  die(stoppedAt);
  open();
  const route = await first;
  t.equal(route.state, 'running', 'the late die of the previous life is not this wake’s');

  // A container that dies after this wake started it fails the wake at once.
  await controller.stop('lara', 'admin');
  control.ensureGate = undefined;
  app.healthy.value = false;
  const second = controller.wake('lara', { wait: true });
  await until(() => controller.phaseOf('lara') === 'waiting-health', 'the wake to wait for health');
  die(Date.now());
  await t.rejects(second, { code: 'SUP_ERR_WAKE_FAILED' });
  t.equal(store.tenants.get('lara')?.state, 'failed');
});

t.test('a pool with room for 2 tenants serves 6 users over time: sleepers give their subnets back', async (t) => {
  const { controller, store, calls } = await setup(t, { subnetPool: '10.214.0.0/27', maxRunning: 10 });
  const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
  for (const user of users) store.addUser(user);
  for (const user of users) {
    const route = await controller.wake(user, { wait: true });
    t.equal(route.state, 'running', `${user} woke`);
    await controller.stop(user, 'admin');
  }
  const holding = users.filter((user) => store.tenants.get(user)?.subnet);
  t.equal(holding.length, 2, 'two sleepers still hold a subnet');
  t.same(holding, ['u5', 'u6'], 'the most recently active ones');
  t.equal(
    store.audits().filter((entry) => entry.action === 'tenant.network-released').length,
    4,
    'four sleepers gave theirs back, oldest first',
  );
  t.equal(calls.remove, 4, 'their containers and networks were removed (volumes kept)');

  // The first user comes back: it gets a subnet again (from the least recently active sleeper).
  const again = await controller.wake('u1', { wait: true });
  t.equal(again.state, 'running');
  t.ok(store.tenants.get('u1')?.subnet);
  t.equal(store.tenants.get('u5')?.subnet, null, 'u5, now the oldest sleeper, gave its subnet');
});

t.test('a full pool with every tenant awake still answers SUP_ERR_SUBNET_POOL_EXHAUSTED', async (t) => {
  const { controller, store } = await setup(t, { subnetPool: '10.214.0.0/27', maxRunning: 10 });
  for (const user of ['r1', 'r2', 'r3']) store.addUser(user);
  await controller.wake('r1', { wait: true });
  await controller.wake('r2', { wait: true });
  await t.rejects(controller.wake('r3', { wait: true }), { code: 'SUP_ERR_SUBNET_POOL_EXHAUSTED' });
});
