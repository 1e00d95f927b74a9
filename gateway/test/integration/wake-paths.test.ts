import type { TenantRoute } from '@tenancy/shared';
import { startRedisServer } from '@tenancy/test-support';
import t from 'tap';
import { echoTenant, fakeSupervisor, openWebSocket, startGateway } from '../harness.js';

/**
 * A gateway whose supervisor reports the tenant as `state` until the gateway waits for a wake:
 * then it is running. `pending` is what a wake without waiting answers (the start queue's view);
 * a paused tenant is thawed even then, as the supervisor does.
 */
async function gatewayWithTenant(t: Parameters<typeof startRedisServer>[0], state: TenantRoute, pending: TenantRoute) {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const fake = fakeSupervisor(tenant.url);
  const running: TenantRoute = { state: 'running', endpoint: { url: tenant.url, secret: 'tenant-secret-1' } };
  const waits: boolean[] = [];
  fake.client.route = async () => state;
  fake.client.wake = async (_userId, { wait }) => {
    waits.push(wait);
    return wait || state.state === 'paused' ? running : pending;
  };
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fake.client });
  return { gw, waits, tenant };
}

const queued: TenantRoute = { state: 'waking', phase: 'queued', position: 7, retryAfterSeconds: 9 };

t.test('a queued wake: Retry-After and the place in line come from the start queue', async (t) => {
  const { gw, waits } = await gatewayWithTenant(t, { state: 'asleep' }, queued);
  const cookie = await gw.login('queued-user');
  waits.length = 0; // the login's own early wake

  const api = await fetch(`${gw.url}/data`, { headers: { cookie, prefer: 'respond-async' } });
  t.equal(api.status, 503);
  t.equal(api.headers.get('retry-after'), '9');
  t.match(await api.json(), { code: 'GW_ERR_TENANT_WARMING', retryAfterSeconds: 9 });

  const page = await fetch(`${gw.url}/`, { headers: { cookie, accept: 'text/html' } });
  t.equal(page.status, 503);
  t.equal(page.headers.get('retry-after'), '9');
  t.match(await page.text(), /Starting your workspace/);

  const warmup = await fetch(`${gw.url}/warmup`, {
    method: 'POST',
    headers: { cookie, prefer: 'respond-async', 'content-type': 'application/json' },
    body: '{}',
  });
  t.equal(warmup.status, 503);
  t.equal(warmup.headers.get('retry-after'), '9');
  t.match(await warmup.json(), {
    code: 'GW_ERR_TENANT_WARMING',
    message: 'your container is number 7 in line to start',
    position: 7,
  });
  t.strictSame(waits, [false, false, false], 'nobody was held');
});

t.test('a paused tenant is thawed in the one call the request makes, even a page load: no waiting page', async (t) => {
  const { gw, waits, tenant } = await gatewayWithTenant(t, { state: 'paused' }, queued);
  const cookie = await gw.login('paused-user');
  waits.length = 0; // the login's own early wake
  const page = await fetch(`${gw.url}/notes`, { headers: { cookie, accept: 'text/html' } });
  t.equal(page.status, 200);
  t.match(await page.json(), { url: '/notes' });
  t.strictSame(waits, [false], 'one call, which the supervisor answers once thawed');
  t.equal(tenant.received.length, 1, 'the request reached the tenant');
});

t.test('a wait that runs out while the wake goes on is 503 GW_ERR_TENANT_WAKE_PENDING with Retry-After', async (t) => {
  const redis = await startRedisServer(t);
  const fake = fakeSupervisor('http://127.0.0.1:9');
  const { errors } = await import('../../src/errors.js');
  fake.client.route = async () => ({ state: 'asleep' });
  fake.client.wake = async () => {
    throw errors.wakePending('your container is number 3 in line to start', { details: { retryAfterSeconds: 4 } });
  };
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fake.client });
  const cookie = await gw.login('patient-user');
  for (const res of [
    await fetch(`${gw.url}/warmup`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: '{}',
    }),
    await fetch(`${gw.url}/api/data`, { headers: { cookie } }),
  ]) {
    t.equal(res.status, 503);
    t.equal(res.headers.get('retry-after'), '4');
    t.match(await res.json(), { code: 'GW_ERR_TENANT_WAKE_PENDING', retryAfterSeconds: 4 });
  }
});

t.test('a WebSocket to a sleeping tenant wakes it and is held until it is ready, then tunnelled', async (t) => {
  const { gw, waits, tenant } = await gatewayWithTenant(t, { state: 'asleep' }, queued);
  const cookie = await gw.login('socket-user');
  waits.length = 0; // the login's own early wake
  const { status, socket } = await openWebSocket(gw, cookie);
  t.equal(status, 101, 'upgraded once the container is up');
  t.strictSame(waits, [true], 'one wake, held until ready');
  t.teardown(() => socket?.destroy());
  const echoed = new Promise<string>((resolve) => socket?.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  socket?.write('ping');
  t.equal(await echoed, 'echo:ping');
  t.equal(tenant.received.at(-1)?.url, '/ws');
});

t.test('a WebSocket whose wake fails is refused with the wake’s own answer', async (t) => {
  const redis = await startRedisServer(t);
  const fake = fakeSupervisor('http://127.0.0.1:9');
  const { errors } = await import('../../src/errors.js');
  fake.client.wake = async () => {
    throw errors.capacity();
  };
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fake.client });
  const cookie = await gw.login('crowded-user').catch(() => '');
  t.equal((await openWebSocket(gw, cookie)).status, 429);
});
