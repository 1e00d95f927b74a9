import type { Readable } from 'node:stream';
import { serverSentEvents } from '@tenancy/shared';
import t from 'tap';
import { deriveIdentity } from '../../src/runtime/names.js';
import { TEST_SETTINGS, until } from '../lifecycle/fakes.js';
import { build, TOKENS } from './build.js';

/** The internal API as the gateway meets it: user upserts, wakes, routes, activity and both event streams. */

const CLOCK = 1_700_000_000_000;
const now = () => CLOCK;
const internal = { token: TOKENS.internal };
const secretOf = (userId: string) => deriveIdentity(TEST_SETTINGS.namespaceKey, userId).secret;

/** A promise to hold fake ensures on, and the function that lets them go. */
function gated(): { gate: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { gate, open };
}

t.test('PUT user records a login: created with defaults, updated field by field, audited', async (t) => {
  const { request, store } = await build(t);
  const created = await request('PUT', '/internal/v1/users/ada', { ...internal, body: { email: 'ada@example.com' } });
  t.equal(created.statusCode, 200);
  t.strictSame(created.json(), {
    userId: 'ada',
    email: 'ada@example.com',
    plan: 'free',
    onboardingCompleted: false,
    disabled: false,
  });
  const updated = await request('PUT', '/internal/v1/users/ada', {
    ...internal,
    body: { plan: 'pro', onboardingCompleted: true },
  });
  t.strictSame(
    updated.json(),
    { userId: 'ada', email: 'ada@example.com', plan: 'pro', onboardingCompleted: true, disabled: false },
    'omitted fields keep their value',
  );
  t.strictSame(store.users.get('ada'), updated.json(), 'the store holds what the answer says');
  t.match(store.audits(), [
    { actor: 'gateway', action: 'user.login', target: 'ada', result: 'ok' },
    { actor: 'gateway', action: 'user.login', target: 'ada', result: 'ok' },
  ]);
  t.equal(store.audits().length, 2);

  const odd = await request('PUT', `/internal/v1/users/${encodeURIComponent('eve@example.com/x y')}`, {
    ...internal,
    body: {},
  });
  t.equal(odd.json().userId, 'eve@example.com/x y', 'the user id is one percent-decoded path segment');
});

t.test('wake without wait answers at once with where the wake stands; with wait, once it runs', async (t) => {
  const { request, store, tenantApp, calls, control } = await build(t, { now });
  const { gate, open } = gated();
  control.ensureGate = gate;
  store.addUser('ada');
  const early = await request('POST', '/internal/v1/tenants/ada/wake', { ...internal, body: { wait: false } });
  t.equal(early.statusCode, 200);
  t.equal(early.json().state, 'waking', 'answered before the tenant runs');
  await until(() => calls.ensure === 1, 'the wake to reach the engine');
  const waking = { state: 'waking', phase: 'creating', retryAfterSeconds: 1, plan: 'free' };
  t.strictSame(
    (await request('POST', '/internal/v1/tenants/ada/wake', { ...internal, body: { wait: false } })).json(),
    waking,
    'a second caller shares the wake in flight',
  );
  t.strictSame((await request('GET', '/internal/v1/tenants/ada/route', internal)).json(), waking);
  control.ensureGate = undefined;
  open();
  await until(() => store.tenants.get('ada')?.state === 'running', 'the wake to finish');

  const running = {
    state: 'running',
    endpoint: { url: tenantApp.url, secret: secretOf('ada') },
    idleDeadline: CLOCK + 60_000,
    plan: 'free',
  };
  const again = await request('POST', '/internal/v1/tenants/ada/wake', { ...internal, body: { wait: true } });
  t.strictSame([again.statusCode, again.json()], [200, running], 'a running tenant answers at once');
  t.equal(calls.start, 1, 'one start');

  store.addUser('bob');
  const waited = await request('POST', '/internal/v1/tenants/bob/wake', { ...internal, body: { wait: true } });
  t.strictSame(
    [waited.statusCode, waited.json()],
    [200, { ...running, endpoint: { url: tenantApp.url, secret: secretOf('bob') } }],
  );
  t.match(store.audits(), [
    { action: 'tenant.wake', target: 'ada', actor: 'gateway', result: 'ok' },
    { action: 'tenant.wake', target: 'bob', actor: 'gateway', result: 'ok' },
  ]);
  t.equal(store.audits().length, 2);
});

t.test('a wake without a body is a wake without wait', async (t) => {
  const { request, store, control } = await build(t);
  // The start is held: an answer that waited for it would never come.
  const { gate, open } = gated();
  control.ensureGate = gate;
  store.addUser('ada');
  const res = await request('POST', '/internal/v1/tenants/ada/wake', internal);
  t.strictSame([res.statusCode, res.json().state], [200, 'waking']);
  open();
});

t.test('wake of a paused tenant is awaited even without wait: it thaws in tens of milliseconds', async (t) => {
  const { request, store, controller, calls, tenantApp } = await build(t, {
    now,
    settings: { pauseTimeoutMs: 60_000 },
  });
  store.addUser('ada');
  await controller.wake('ada', { wait: true });
  await controller.pause('ada', 'idle');
  t.strictSame((await request('GET', '/internal/v1/tenants/ada/route', internal)).json(), {
    state: 'paused',
    plan: 'free',
  });
  const res = await request('POST', '/internal/v1/tenants/ada/wake', { ...internal, body: { wait: false } });
  t.strictSame(res.json(), {
    state: 'running',
    endpoint: { url: tenantApp.url, secret: secretOf('ada') },
    idleDeadline: CLOCK + 60_000,
    plan: 'free',
  });
  t.equal(calls.unpause, 1);
  t.equal(calls.start, 1, 'thawed, not started again');
});

t.test('a full start queue answers 503 SUP_ERR_WAKE_PENDING with Retry-After while the wake goes on', async (t) => {
  const { request, store, control, calls } = await build(t, { now, settings: { wakeConcurrency: 1 } });
  const { gate, open } = gated();
  control.ensureGate = gate;
  store.addUser('first');
  store.addUser('second');
  await request('POST', '/internal/v1/tenants/first/wake', { ...internal, body: { wait: false } });
  await until(() => calls.ensure === 1, 'the first start to hold the only slot');

  const queued = await request('POST', '/internal/v1/tenants/second/wake', { ...internal, body: { wait: false } });
  t.strictSame(queued.json(), { state: 'waking', phase: 'queued', position: 1, retryAfterSeconds: 2, plan: 'free' });
  t.strictSame((await request('GET', '/internal/v1/tenants/second/route', internal)).json(), queued.json());

  const pending = await request('POST', '/internal/v1/tenants/second/wake', {
    ...internal,
    body: { wait: true, timeoutMs: 20 },
  });
  t.equal(pending.statusCode, 503);
  t.equal(pending.headers['retry-after'], '2');
  t.strictSame(pending.json(), {
    retryAfterSeconds: 2,
    statusCode: 503,
    code: 'SUP_ERR_WAKE_PENDING',
    error: 'Service Unavailable',
    message: 'your container is number 1 in line to start',
  });

  control.ensureGate = undefined;
  open();
  await until(() => store.tenants.get('second')?.state === 'running', 'the queued wake to go on and finish');
  t.equal(store.tenants.get('first')?.state, 'running');
});

t.test('wake refusals: unknown user 404, disabled 403 (audited), no capacity 429 with Retry-After', async (t) => {
  const { request, store } = await build(t, { settings: { maxRunning: 1 } });
  const unknown = await request('POST', '/internal/v1/tenants/nobody/wake', { ...internal, body: { wait: true } });
  t.strictSame(
    [unknown.statusCode, unknown.json()],
    [404, { statusCode: 404, code: 'SUP_ERR_USER_NOT_FOUND', error: 'Not Found', message: 'unknown user' }],
  );

  store.addUser('mallory');
  store.users.setDisabled('mallory', true);
  const disabled = await request('POST', '/internal/v1/tenants/mallory/wake', { ...internal, body: { wait: true } });
  t.strictSame(
    [disabled.statusCode, disabled.json()],
    [403, { statusCode: 403, code: 'SUP_ERR_USER_DISABLED', error: 'Forbidden', message: 'this user is disabled' }],
  );
  t.match(store.audits().at(-1), {
    actor: 'gateway',
    action: 'tenant.wake',
    target: 'mallory',
    result: 'denied',
    detail: { reason: 'user disabled' },
  });
  t.equal(store.tenants.get('mallory'), undefined, 'no tenant record for a refused wake');

  store.addUser('first');
  store.addUser('second');
  t.equal(
    (await request('POST', '/internal/v1/tenants/first/wake', { ...internal, body: { wait: true } })).statusCode,
    200,
  );
  const full = await request('POST', '/internal/v1/tenants/second/wake', { ...internal, body: { wait: true } });
  t.equal(full.statusCode, 429);
  t.equal(full.headers['retry-after'], '30');
  t.strictSame(full.json(), {
    retryAfterSeconds: 30,
    statusCode: 429,
    code: 'SUP_ERR_CAPACITY_FULL',
    error: 'Too Many Requests',
    message: 'no capacity to start another tenant, retry later',
  });
});

t.test('a failed wake answers 502 SUP_ERR_WAKE_FAILED without the engine’s words; a timeout 503', async (t) => {
  const { request, store, control, tenantApp } = await build(t, { settings: { warmupTimeoutMs: 300 } });
  store.addUser('ada');
  control.failEnsure = new Error('engine detail: /var/run/docker.sock refused');
  const failed = await request('POST', '/internal/v1/tenants/ada/wake', { ...internal, body: { wait: true } });
  t.strictSame(
    [failed.statusCode, failed.json()],
    [
      502,
      { statusCode: 502, code: 'SUP_ERR_WAKE_FAILED', error: 'Bad Gateway', message: 'the tenant failed to start' },
    ],
  );
  t.match(store.tenants.get('ada'), { state: 'failed', stopReason: 'failed-start', failureCount: 1 });

  control.failEnsure = undefined;
  tenantApp.healthy.value = false;
  const timedOut = await request('POST', '/internal/v1/tenants/ada/wake', { ...internal, body: { wait: true } });
  t.equal(timedOut.statusCode, 503);
  const body = timedOut.json();
  t.equal(timedOut.headers['retry-after'], String(body.retryAfterSeconds), 'Retry-After repeats the body');
  t.strictSame(body, {
    retryAfterSeconds: body.retryAfterSeconds,
    statusCode: 503,
    code: 'SUP_ERR_WAKE_TIMEOUT',
    error: 'Service Unavailable',
    message: 'the tenant did not become ready within 300 ms',
  });
  t.ok(Number.isInteger(body.retryAfterSeconds) && body.retryAfterSeconds >= 1);
});

t.test('a stop during a waited wake answers 409 SUP_ERR_WAKE_CANCELLED', async (t) => {
  const { request, store, control, calls } = await build(t);
  const { gate, open } = gated();
  control.ensureGate = gate;
  store.addUser('ada');
  const waiting = request('POST', '/internal/v1/tenants/ada/wake', { ...internal, body: { wait: true } });
  await until(() => calls.ensure === 1, 'the wake to reach the engine');
  // The stop aborts the wake at once, though the engine call it was in has not returned.
  const stopped = await request('POST', '/v1/tenants/ada/stop');
  t.match(stopped.json(), { state: 'asleep', stopReason: 'admin' });
  const cancelled = await waiting;
  open();
  t.strictSame(
    [cancelled.statusCode, cancelled.json()],
    [
      409,
      {
        statusCode: 409,
        code: 'SUP_ERR_WAKE_CANCELLED',
        error: 'Conflict',
        message: 'the wake was cancelled by a stop',
      },
    ],
  );
  t.equal(calls.start, 0, 'never started');
});

t.test('GET route never wakes: asleep without a record, running with its endpoint, with the user’s plan', async (t) => {
  const { request, store, controller, calls, tenantApp } = await build(t, { now });
  store.addUser('ada');
  const asleep = { state: 'asleep', plan: 'free' };
  t.strictSame((await request('GET', '/internal/v1/tenants/ada/route', internal)).json(), asleep);
  t.strictSame(
    (await request('GET', '/internal/v1/tenants/nobody/route', internal)).json(),
    { state: 'asleep' },
    'an unknown user has no plan',
  );
  t.equal(calls.ensure, 0, 'nothing was started');
  await controller.wake('ada', { wait: true });
  t.strictSame((await request('GET', '/internal/v1/tenants/ada/route', internal)).json(), {
    state: 'running',
    endpoint: { url: tenantApp.url, secret: secretOf('ada') },
    idleDeadline: CLOCK + 60_000,
    plan: 'free',
  });
  await controller.stop('ada', 'admin');
  t.strictSame((await request('GET', '/internal/v1/tenants/ada/route', internal)).json(), asleep);
});

t.test(
  'GET route refuses a disabled user with 403, so a replica that missed the revocation refuses them too',
  async (t) => {
    const { request, store } = await build(t);
    store.addUser('ada');
    t.equal((await request('POST', '/v1/users/ada/disable')).statusCode, 200);
    const res = await request('GET', '/internal/v1/tenants/ada/route', internal);
    t.strictSame(
      [res.statusCode, res.json()],
      [403, { statusCode: 403, code: 'SUP_ERR_USER_DISABLED', error: 'Forbidden', message: 'this user is disabled' }],
    );
    t.equal((await request('POST', '/v1/users/ada/enable')).statusCode, 200);
    t.equal((await request('GET', '/internal/v1/tenants/ada/route', internal)).statusCode, 200, 'enabled again');
  },
);

t.test('POST activity moves idle deadlines forward only, and never past now', async (t) => {
  let clock = CLOCK;
  const { request, store, controller } = await build(t, { now: () => clock });
  store.addUser('ada');
  await controller.wake('ada', { wait: true });
  clock += 10_000;
  const item = (lastActivity: number) => ({ userId: 'ada', lastActivity, requests: 3, wsFrames: 0, streamMs: 0 });
  const res = await request('POST', '/internal/v1/activity', {
    ...internal,
    body: { items: [item(clock - 1_000), { ...item(clock), userId: 'nobody' }] },
  });
  t.strictSame([res.statusCode, res.body], [204, ''], 'an unknown user in the batch is ignored');
  t.match(store.tenants.get('ada'), { lastActivity: clock - 1_000, idleDeadline: clock - 1_000 + 60_000 });

  await request('POST', '/internal/v1/activity', { ...internal, body: { items: [item(CLOCK)] } });
  t.equal(store.tenants.get('ada')?.idleDeadline, clock - 1_000 + 60_000, 'old activity does not move it back');
  await request('POST', '/internal/v1/activity', { ...internal, body: { items: [item(clock + 3_600_000)] } });
  t.match(store.tenants.get('ada'), { lastActivity: clock, idleDeadline: clock + 60_000 }, 'the future counts as now');
});

t.test('wake events stream progress as SSE until ready, starting the wake', async (t) => {
  const { request, store } = await build(t, { now });
  store.addUser('ada');
  const res = await request('GET', '/internal/v1/tenants/ada/wake/events', internal);
  t.equal(res.statusCode, 200);
  t.match(res.headers, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
  });
  const events = parseEvents(res.body);
  t.ok(
    events.every((event) => event.event === 'progress'),
    'only progress events',
  );
  const phases = events.map((event) => event.data.phase).filter((phase, i, all) => phase !== all[i - 1]);
  t.strictSame(phases, ['creating', 'starting', 'waiting-health', 'ready']);
  t.strictSame(events.at(-1)?.data, { phase: 'ready', percent: 100, message: 'ready', elapsedMs: 0 });
  t.equal(store.tenants.get('ada')?.state, 'running');

  const late = await request('GET', '/internal/v1/tenants/ada/wake/events', internal);
  t.strictSame(
    parseEvents(late.body).map((event) => event.data),
    [{ phase: 'ready', percent: 100, message: 'ready', elapsedMs: 0 }],
    'a running tenant reports ready at once',
  );
});

t.test('wake events: a failed wake ends the stream with its code; errors before it are JSON', async (t) => {
  const { request, store, control } = await build(t, { now });
  const unknown = await request('GET', '/internal/v1/tenants/nobody/wake/events', internal);
  t.strictSame(
    [unknown.statusCode, unknown.headers['content-type'], unknown.json().code],
    [404, 'application/json; charset=utf-8', 'SUP_ERR_USER_NOT_FOUND'],
  );
  store.addUser('ada');
  control.failEnsure = new Error('engine said no');
  const res = await request('GET', '/internal/v1/tenants/ada/wake/events', internal);
  t.equal(res.statusCode, 200);
  t.strictSame(parseEvents(res.body).at(-1)?.data, {
    phase: 'failed',
    percent: 100,
    message: 'the tenant failed to start',
    elapsedMs: 0,
    code: 'SUP_ERR_WAKE_FAILED',
  });
});

t.test(
  'route events: hello at once, unroute when a tenant stops answering, ended when the server closes',
  async (t) => {
    const { app, store, controller } = await build(t);
    store.addUser('ada');
    await controller.wake('ada', { wait: true });
    const res = await app.inject({
      method: 'GET',
      url: '/internal/v1/events',
      headers: { authorization: `Bearer ${TOKENS.internal}` },
      payloadAsStream: true,
    });
    t.equal(res.statusCode, 200);
    t.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
    const events = serverSentEvents(res.stream() as Readable as unknown as ReadableStream<Uint8Array>);
    t.strictSame((await events.next()).value, { event: 'hello', data: '{}' });

    await controller.stop('ada', 'admin');
    t.strictSame((await events.next()).value, { event: 'unroute', data: '{"userId":"ada"}' });

    await app.close();
    t.strictSame(await events.next(), { done: true, value: undefined }, 'the stream ended with the server');
  },
);

t.test(
  'route events: disabling a user announces revoke before the stop; a login with another plan announces unroute',
  async (t) => {
    const { app, store, controller, request } = await build(t);
    store.addUser('ada');
    store.addUser('bob');
    await controller.wake('ada', { wait: true });
    const res = await app.inject({
      method: 'GET',
      url: '/internal/v1/events',
      headers: { authorization: `Bearer ${TOKENS.internal}` },
      payloadAsStream: true,
    });
    const events = serverSentEvents(res.stream() as Readable as unknown as ReadableStream<Uint8Array>);
    t.strictSame((await events.next()).value, { event: 'hello', data: '{}' });

    t.equal((await request('POST', '/v1/users/ada/disable')).statusCode, 200);
    t.strictSame((await events.next()).value, { event: 'revoke', data: '{"userId":"ada"}' }, 'revoke first');
    t.strictSame((await events.next()).value, { event: 'unroute', data: '{"userId":"ada"}' }, 'then the stop');

    // The same plan again is no change; another one is, and so is a user without a tenant.
    const login = (plan: string) => request('PUT', '/internal/v1/users/bob', { ...internal, body: { plan } });
    t.equal((await login('free')).statusCode, 200);
    t.equal((await login('pro')).json().plan, 'pro');
    t.strictSame((await events.next()).value, { event: 'unroute', data: '{"userId":"bob"}' }, 'plan free → pro');
    // Enabling announces nothing: the user signs in again.
    t.equal((await request('POST', '/v1/users/ada/enable')).statusCode, 200);

    await app.close();
    t.strictSame(await events.next(), { done: true, value: undefined }, 'nothing else was announced');
  },
);

/** The events of a finished SSE body, with JSON data parsed. */
function parseEvents(body: string): { event: string; data: Record<string, unknown> }[] {
  return body
    .split('\n\n')
    .filter((block) => block.startsWith('event:'))
    .map((block) => {
      const [eventLine = '', dataLine = ''] = block.split('\n');
      return { event: eventLine.slice('event: '.length), data: JSON.parse(dataLine.slice('data: '.length)) };
    });
}
