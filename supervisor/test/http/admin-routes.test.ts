import { stat } from 'node:fs/promises';
import t from 'tap';
import { InactiveAccounts, inactivityPolicy } from '../../src/accounts/inactive-accounts.js';
import { deriveIdentity } from '../../src/runtime/names.js';
import { TEST_SETTINGS } from '../lifecycle/fakes.js';
import { build, seg, TOKENS } from './build.js';

/** The admin API (what tenancy-admin calls) and its effects on the store. */

const CLOCK = 1_700_000_000_000;
const now = () => CLOCK;
const hashOf = (userId: string) => deriveIdentity(TEST_SETTINGS.namespaceKey, userId).hash;

const FREE_LIMITS = { memoryBytes: 4 * 1024 ** 3, cpus: 2, pids: 512, egress: false, diskBytes: 1024 ** 3 };
const PRO_LIMITS = { memoryBytes: 8192 * 1024 ** 2, cpus: 4, pids: 1024, egress: true, diskBytes: 1024 ** 3 };

/** The admin view of a tenant that one wake at CLOCK brought up, with `overrides`. */
function runningView(userId: string, endpoint: string, overrides: Record<string, unknown> = {}) {
  return {
    userId,
    tenantId: hashOf(userId),
    state: 'running',
    phase: null,
    endpoint,
    plan: 'free',
    lastActivity: CLOCK,
    idleDeadline: CLOCK + 60_000,
    pausedAt: null,
    stopReason: null,
    stopDetail: null,
    wakeCount: 1,
    failureCount: 0,
    lastWakeStartedAt: CLOCK,
    lastWakeReadyAt: CLOCK,
    lastWakeMs: 0,
    lastSeenAt: CLOCK,
    deletionDueAt: null,
    inactiveWarning: null,
    limits: FREE_LIMITS,
    ...overrides,
  };
}

const tenantNotFound = (userId: string) => ({
  statusCode: 404,
  code: 'SUP_ERR_TENANT_NOT_FOUND',
  error: 'Not Found',
  message: `no tenant for user ${JSON.stringify(userId)}`,
});
const userNotFound = (userId: string) => ({
  statusCode: 404,
  code: 'SUP_ERR_USER_NOT_FOUND',
  error: 'Not Found',
  message: `no user ${JSON.stringify(userId)}`,
});

t.test('list pages through tenants in user id order, filtered by state; get shows one', async (t) => {
  const { request, store, controller, tenantApp, control } = await build(t, { now });
  t.strictSame((await request('GET', '/v1/tenants')).json(), { items: [] });
  for (const user of ['carol', 'ada', 'bob']) store.addUser(user, user === 'bob' ? 'pro' : undefined);
  for (const user of ['carol', 'ada', 'bob']) await controller.wake(user, { wait: true });
  await controller.stop('carol', 'admin');

  const first = await request('GET', '/v1/tenants?limit=2');
  t.strictSame(first.json(), {
    items: [runningView('ada', tenantApp.url), runningView('bob', tenantApp.url, { plan: 'pro', limits: PRO_LIMITS })],
    next: 'bob',
  });
  const second = await request('GET', '/v1/tenants?limit=2&after=bob');
  t.strictSame(
    second.json().items.map((item: { userId: string }) => item.userId),
    ['carol'],
  );
  t.equal(second.json().next, undefined, 'no next on the last page');
  t.strictSame(
    (await request('GET', '/v1/tenants?state=asleep')).json().items.map((item: { userId: string }) => item.userId),
    ['carol'],
  );
  // Search: user ids that contain the text, in any case.
  t.strictSame(
    (await request('GET', '/v1/tenants?q=AR')).json().items.map((item: { userId: string }) => item.userId),
    ['carol'],
  );

  // The detail adds the tenant's disk, as the runtime reports it, and its usage (none reported yet).
  control.diskUsage = { sizeBytes: 1_000_000, usedBytes: 250_000 };
  const ada = await request('GET', '/v1/tenants/ada');
  t.strictSame(
    [ada.statusCode, ada.json()],
    [200, { ...runningView('ada', tenantApp.url), disk: { sizeBytes: 1_000_000, usedBytes: 250_000 }, usage: null }],
  );
  control.diskUsage = undefined;
  const carol = await request('GET', '/v1/tenants/carol');
  t.strictSame(carol.json(), {
    ...runningView('carol', tenantApp.url, {
      state: 'asleep',
      endpoint: null,
      stopReason: 'admin',
    }),
    disk: null,
    usage: null,
  });
  const missing = await request('GET', '/v1/tenants/nobody');
  t.strictSame([missing.statusCode, missing.json()], [404, tenantNotFound('nobody')]);
});

t.test('logs come from the runtime as plain text, for the tenant’s own container', async (t) => {
  const { request, store, controller, control, logRequests } = await build(t);
  store.addUser('ada');
  await controller.wake('ada', { wait: true });
  control.logs = 'listening on 8080\n';
  const res = await request('GET', '/v1/tenants/ada/logs?tail=50');
  t.strictSame(
    [res.statusCode, res.headers['content-type'], res.body],
    [200, 'text/plain; charset=utf-8', control.logs],
  );
  await request('GET', '/v1/tenants/ada/logs');
  const container = controller.namesFor('ada').container;
  t.strictSame(logRequests, [
    { container, tail: 50 },
    { container, tail: 200 },
  ]);
  const missing = await request('GET', '/v1/tenants/nobody/logs');
  t.strictSame([missing.statusCode, missing.json()], [404, tenantNotFound('nobody')]);
  t.equal(logRequests.length, 2, 'the runtime was not asked about an unknown tenant');
});

t.test('start wakes and waits; stop and pause put to sleep; each is audited as the admin', async (t) => {
  const { request, store, calls, tenantApp } = await build(t, { now, settings: { pauseTimeoutMs: 60_000 } });
  store.addUser('ada');
  const started = await request('POST', '/v1/tenants/ada/start');
  t.strictSame([started.statusCode, started.json()], [200, runningView('ada', tenantApp.url)]);

  const paused = await request('POST', '/v1/tenants/ada/pause');
  t.strictSame(
    [paused.statusCode, paused.json()],
    [200, runningView('ada', tenantApp.url, { state: 'paused', pausedAt: CLOCK })],
  );
  t.equal(calls.pause, 1);
  t.equal(store.tenants.get('ada')?.state, 'paused');

  const stopped = await request('POST', '/v1/tenants/ada/stop');
  const asleep = runningView('ada', tenantApp.url, { state: 'asleep', endpoint: null, stopReason: 'admin' });
  t.strictSame([stopped.statusCode, stopped.json()], [200, asleep]);
  t.equal(calls.stop, 1);
  const again = await request('POST', '/v1/tenants/ada/stop');
  t.strictSame([again.statusCode, again.json()], [200, asleep], 'stop is idempotent');
  const pauseAsleep = await request('POST', '/v1/tenants/ada/pause');
  t.strictSame(
    [pauseAsleep.statusCode, pauseAsleep.json()],
    [200, asleep],
    'pausing a sleeping tenant changes nothing',
  );
  t.equal(calls.pause, 1);

  t.match(
    store.audits().map(({ actor, action, target, result, detail }) => ({ actor, action, target, result, detail })),
    [
      { actor: 'bootstrap', action: 'tenant.wake', target: 'ada', result: 'ok', detail: { resume: false } },
      { actor: 'bootstrap', action: 'tenant.pause', target: 'ada', result: 'ok', detail: { reason: 'admin' } },
      { actor: 'bootstrap', action: 'tenant.stop', target: 'ada', result: 'ok', detail: { reason: 'admin' } },
    ],
  );
  t.equal(store.audits().length, 3, 'the repeated stop and the no-op pause add nothing');

  for (const action of ['stop', 'pause']) {
    const res = await request('POST', `/v1/tenants/nobody/${action}`);
    t.strictSame([res.statusCode, res.json()], [404, tenantNotFound('nobody')], action);
  }
  const unknown = await request('POST', '/v1/tenants/nobody/start');
  t.strictSame([unknown.statusCode, unknown.json()], [404, userNotFound('nobody')]);
});

t.test('delete needs the user id repeated, removes container and volumes, forgets the tenant', async (t) => {
  const { request, store, controller, calls } = await build(t);
  store.addUser('ada');
  await controller.wake('ada', { wait: true });

  const wrong = await request('DELETE', '/v1/tenants/ada?confirm=bob');
  t.strictSame(
    [wrong.statusCode, wrong.json()],
    [
      400,
      {
        statusCode: 400,
        code: 'SUP_ERR_CONFIRM_MISMATCH',
        error: 'Bad Request',
        message: 'confirm must repeat the user id',
      },
    ],
  );
  t.equal(store.tenants.get('ada')?.state, 'running', 'nothing happened');

  const deleted = await request('DELETE', '/v1/tenants/ada?confirm=ada');
  t.strictSame([deleted.statusCode, deleted.body], [204, '']);
  t.equal(store.tenants.get('ada'), undefined, 'the record is gone');
  t.ok(store.users.get('ada'), 'the user stays');
  t.strictSame([calls.stop, calls.remove], [1, 1], 'stopped, then removed');
  t.match(store.audits().slice(-2), [
    { actor: 'bootstrap', action: 'tenant.stop', target: 'ada' },
    { actor: 'bootstrap', action: 'tenant.delete', target: 'ada', result: 'ok' },
  ]);

  const again = await request('DELETE', '/v1/tenants/ada?confirm=ada');
  t.strictSame([again.statusCode, again.body], [204, ''], 'delete is idempotent');
  t.equal((await request('GET', '/v1/tenants/ada')).statusCode, 404);

  const email = 'eve@example.com';
  const unknown = await request('DELETE', `/v1/tenants/${seg(email)}?confirm=${seg(email)}`);
  t.strictSame([unknown.statusCode, unknown.json()], [404, userNotFound(email)]);
});

t.test('summary push is stored; /v1/summary totals tenants by state and usage', async (t) => {
  const { request, store, controller } = await build(t);
  t.strictSame((await request('GET', '/v1/summary')).json(), {
    tenants: {},
    usage: { tenants: 0, messages: 0, replies: 0, tokensUsed: 0, bytesStored: 0 },
    capacity: { maxRunning: 10, wakeConcurrency: 4, startQueue: 0 },
  });
  for (const user of ['ada', 'bob']) {
    store.addUser(user);
    await controller.wake(user, { wait: true });
  }
  await controller.stop('bob', 'admin');
  const figures = { messages: 3, replies: 2, tokensUsed: 120, bytesStored: 2048, lastActivity: CLOCK };
  const pushed = await request('POST', '/v1/tenants/ada/summary', { body: figures });
  t.strictSame([pushed.statusCode, pushed.body], [204, '']);
  t.match(store.summaries.get('ada'), figures);
  await request('POST', '/v1/tenants/bob/summary', { body: { ...figures, lastActivity: null, future: 'ignored' } });
  t.strictSame((await request('GET', '/v1/summary')).json(), {
    tenants: { asleep: 1, running: 1 },
    usage: { tenants: 2, messages: 6, replies: 4, tokensUsed: 240, bytesStored: 4096 },
    capacity: { maxRunning: 10, wakeConcurrency: 4, startQueue: 0 },
  });
  t.match((await request('GET', '/v1/tenants/ada')).json().usage, { ...figures, receivedAt: Number });
  const missing = await request('POST', '/v1/tenants/nobody/summary', { body: figures });
  t.strictSame([missing.statusCode, missing.json()], [404, tenantNotFound('nobody')]);
});

t.test('a summary pushed with lastActivity null is stored as null, not coerced to 0', async (t) => {
  const { request, store, controller } = await build(t);
  store.addUser('ada');
  await controller.wake('ada', { wait: true });
  const figures = { messages: 1, replies: 1, tokensUsed: 0, bytesStored: 0, lastActivity: null };
  t.equal((await request('POST', '/v1/tenants/ada/summary', { body: figures })).statusCode, 204);
  t.strictSame(store.summaries.get('ada')?.lastActivity, null);
});

t.test('disable stops the tenant and refuses wakes until enable; both audited', async (t) => {
  const { request, store, controller } = await build(t);
  store.addUser('ada');
  await controller.wake('ada', { wait: true });
  const disabled = await request('POST', '/v1/users/ada/disable');
  t.strictSame(
    [disabled.statusCode, disabled.json()],
    [200, { userId: 'ada', email: null, plan: 'free', onboardingCompleted: false, disabled: true }],
  );
  t.match(store.tenants.get('ada'), { state: 'asleep', stopReason: 'admin' }, 'stopped at once');
  const refused = await request('POST', '/v1/tenants/ada/start');
  t.strictSame([refused.statusCode, refused.json().code], [403, 'SUP_ERR_USER_DISABLED']);

  const enabled = await request('POST', '/v1/users/ada/enable');
  t.strictSame([enabled.statusCode, enabled.json().disabled], [200, false]);
  t.equal(store.tenants.get('ada')?.state, 'asleep', 'enable does not wake');
  t.equal((await request('POST', '/v1/tenants/ada/start')).json().state, 'running');

  store.addUser('bob');
  t.equal((await request('POST', '/v1/users/bob/disable')).json().disabled, true, 'a user without a tenant too');
  t.strictSame(
    store
      .audits()
      .filter((entry) => entry.action.startsWith('user.'))
      .map(({ actor, action, target, result }) => [actor, action, target, result]),
    [
      ['bootstrap', 'user.disable', 'ada', 'ok'],
      ['bootstrap', 'user.enable', 'ada', 'ok'],
      ['bootstrap', 'user.disable', 'bob', 'ok'],
    ],
  );
  for (const action of ['disable', 'enable']) {
    const res = await request('POST', `/v1/users/nobody/${action}`);
    t.strictSame([res.statusCode, res.json()], [404, userNotFound('nobody')], action);
  }
});

t.test('backup writes an online copy into BACKUP_DIR and audits it', async (t) => {
  const { request, store, backupDir } = await build(t);
  store.addUser('ada');
  const res = await request('POST', '/v1/backup');
  t.equal(res.statusCode, 200);
  const { path, bytes, ms } = res.json();
  t.match(path, new RegExp(`^${backupDir}/tenancy-\\d{4}-\\d{2}-\\d{2}T[\\d-]+Z\\.db$`));
  t.equal((await stat(path)).size, bytes, 'the file is as large as reported');
  t.ok(Number.isInteger(ms) && ms >= 0);
  t.match(store.audits().at(-1), {
    actor: 'bootstrap',
    action: 'store.backup',
    target: null,
    result: 'ok',
    detail: { path, bytes },
  });
});

t.test('audit lists newest first, pages with before, filters by target and action', async (t) => {
  const { request, store } = await build(t);
  for (const [target, action] of [
    ['ada', 'user.login'],
    ['bob', 'user.login'],
    ['ada', 'tenant.wake'],
    ['ada', 'tenant.stop'],
  ]) {
    store.audit.append({ actor: 'gateway', action: action as string, target: target as string, result: 'ok' });
  }
  const all = store.audit.list({ limit: 100 });
  t.strictSame((await request('GET', '/v1/audit')).json(), { items: all });
  t.strictSame(
    all.map((entry) => entry.action),
    ['tenant.stop', 'tenant.wake', 'user.login', 'user.login'],
  );
  const page = await request('GET', '/v1/audit?limit=2');
  t.strictSame(page.json(), { items: all.slice(0, 2) });
  t.strictSame((await request('GET', `/v1/audit?limit=2&before=${all[1]?.id}`)).json(), { items: all.slice(2) });
  t.strictSame(
    (await request('GET', '/v1/audit?target=bob')).json().items.map((entry: { target: string }) => entry.target),
    ['bob'],
  );
  t.strictSame(
    (await request('GET', '/v1/audit?target=ada&action=user.login'))
      .json()
      .items.map((entry: { id: number }) => entry.id),
    [all[3]?.id],
  );
});

t.test('the inactivity warning shows in the tenants list and the tenant, and goes with a sign-in', async (t) => {
  const DAY = 24 * 3600_000;
  let clock = CLOCK;
  const env = { INACTIVE_TENANT_DAYS: '30', INACTIVE_WARNING_DAYS: '7' };
  const { request, store, controller, tenantApp, log } = await build(t, { now: () => clock, env });
  store.addUser('ada');
  store.addUser('bob');
  for (const user of ['ada', 'bob']) await controller.wake(user, { wait: true });
  const sweeper = new InactiveAccounts({
    store,
    deletion: { request: async () => ({ deletionDueAt: 0 }) },
    policy: inactivityPolicy(30, 7) as NonNullable<ReturnType<typeof inactivityPolicy>>,
    log,
    now: () => clock,
  });
  clock = CLOCK + 10 * DAY;
  store.addUser('bob');
  clock = CLOCK + 23 * DAY;
  t.strictSame(await sweeper.sweep(), { warned: 1, cleared: 0, deletionsAsked: 0 });

  const warning = { warnedAt: CLOCK + 23 * DAY, deletionAt: CLOCK + 30 * DAY };
  const list = await request('GET', '/v1/tenants');
  t.strictSame(list.json().items, [
    runningView('ada', tenantApp.url, { inactiveWarning: warning }),
    runningView('bob', tenantApp.url, { lastSeenAt: CLOCK + 10 * DAY }),
  ]);
  const ada = await request('GET', '/v1/tenants/ada');
  t.strictSame(ada.json().inactiveWarning, warning, 'and on the tenant');

  // Signing in (the gateway's upsert) clears it at once, and says so in the audit log.
  clock = CLOCK + 24 * DAY;
  const login = await request('PUT', '/internal/v1/users/ada', { body: {}, token: TOKENS.internal });
  t.equal(login.statusCode, 200);
  const after = (await request('GET', '/v1/tenants/ada')).json();
  t.strictSame([after.inactiveWarning, after.lastSeenAt], [null, CLOCK + 24 * DAY]);
  t.strictSame(
    store
      .audits()
      .filter((entry) => entry.target === 'ada' && entry.action.startsWith('user.'))
      .map(({ actor, action, detail }) => ({ actor, action, detail })),
    [
      {
        actor: 'system',
        action: 'user.inactive-warning',
        detail: {
          policy: 'INACTIVE_TENANT_DAYS',
          days: 30,
          lastSeenAt: new Date(CLOCK).toISOString(),
          deletionAt: new Date(CLOCK + 30 * DAY).toISOString(),
        },
      },
      { actor: 'gateway', action: 'user.login', detail: null },
      { actor: 'gateway', action: 'user.inactive-warning-cleared', detail: { by: 'sign-in' } },
    ],
  );
});

t.test('with the policy off, no warning is shown (not even one left from when it was on)', async (t) => {
  const { request, store, controller, tenantApp } = await build(t, { now });
  store.addUser('ada');
  await controller.wake('ada', { wait: true });
  t.ok(store.inactivity.warn('ada', CLOCK));
  t.strictSame((await request('GET', '/v1/tenants/ada')).json(), {
    ...runningView('ada', tenantApp.url),
    disk: null,
    usage: null,
  });
});
