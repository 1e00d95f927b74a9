import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { startRedisServer, type Teardown } from '@tenancy/test-support';
import t from 'tap';
import { tenantLabel } from '../../src/origins/tenant-label.js';
import { echoTenant, fakeSupervisor, startGateway, type TestGateway } from '../harness.js';

const PLATFORM = 'localhost:8080';

/** A gateway in subdomain mode: the platform at localhost:8080, tenants at <label>.localhost:8080. */
async function subdomainGateway(t: Teardown) {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const fake = fakeSupervisor(tenant.url);
  const key = randomBytes(32).toString('base64url');
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: fake.client,
    env: {
      PUBLIC_BASE_URL: `http://${PLATFORM}`,
      TENANT_ROUTING: 'subdomain',
      TENANT_DOMAIN: 'localhost',
      TENANT_LABEL_KEY: key,
    },
  });
  const hostOf = (userId: string) => `${tenantLabel(key, userId)}.localhost:8080`;
  return { gw, tenant, fake, redis, hostOf };
}

/** One request to the gateway as the named host, the way nginx passes it on. */
async function call(
  gw: TestGateway,
  host: string,
  url: string,
  options: { cookie?: string; method?: 'GET' | 'POST'; accept?: string } = {},
) {
  const res = await gw.app.inject({
    method: options.method ?? 'GET',
    url,
    headers: {
      host,
      ...(options.cookie ? { cookie: options.cookie } : {}),
      ...(options.accept ? { accept: options.accept } : {}),
    },
  });
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return { status: res.statusCode, headers: res.headers, body: res.body, setCookie, json: () => res.json() };
}

/** Logs in on the platform, and takes the platform's redirect to the user's tenant host. */
async function enter(gw: TestGateway, userId: string, next = '/') {
  const platformCookie = await gw.login(userId);
  const entry = await call(gw, PLATFORM, `/auth/tenant?next=${encodeURIComponent(next)}`, { cookie: platformCookie });
  return { platformCookie, entry, location: new URL(String(entry.headers.location)) };
}

t.test('the platform origin hands a session to the tenant host through a one-time code', async (t) => {
  const { gw, tenant, fake, hostOf } = await subdomainGateway(t);
  const { platformCookie, entry, location } = await enter(gw, 'alice', '/notes?x=1');
  t.equal(entry.status, 303);
  t.equal(entry.headers['cache-control'], 'no-store');
  t.equal(location.host, hostOf('alice'), 'to the user’s own host');
  t.equal(location.pathname, '/_tenancy/exchange');
  t.match(location.searchParams.get('code'), /^[A-Za-z0-9_-]{43}$/, '256 random bits');
  t.notOk(location.href.includes('alice'), 'the user id is nowhere in the address');

  const exchange = await call(gw, location.host, location.pathname + location.search);
  t.equal(exchange.status, 303);
  t.equal(exchange.headers.location, '/notes?x=1', 'on to the page asked for');
  t.equal(exchange.setCookie.length, 1);
  const [cookieSet] = exchange.setCookie;
  t.match(cookieSet, /^tenancy_tenant=[^;]+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
  t.notMatch(cookieSet, /Domain=/i, 'host-only: no other host receives it');
  const tenantCookie = String(cookieSet).split(';')[0] ?? '';

  const page = await call(gw, hostOf('alice'), '/notes?x=1', { cookie: `${tenantCookie}; own=kept` });
  t.equal(page.status, 200);
  const seen = page.json() as { url: string; headers: Record<string, string> };
  t.equal(seen.url, '/notes?x=1');
  t.equal(seen.headers['x-tenancy-user-id'], 'alice');
  t.equal(seen.headers.cookie, 'own=kept', 'the tenant-origin cookie never reaches the tenant');

  // Every path on the tenant host is the tenant's, the platform's own route names included.
  const session = await call(gw, hostOf('alice'), '/auth/session', { cookie: tenantCookie });
  t.equal(session.status, 200);
  t.equal((session.json() as { url: string }).url, '/auth/session', 'answered by the tenant');
  // But not the reserved prefix.
  const reserved = await call(gw, hostOf('alice'), '/_tenancy/anything', { cookie: tenantCookie });
  t.equal(reserved.status, 404);
  t.equal(tenant.received.length, 2, 'the tenant saw its two requests only');

  // The platform cookie is no credential on a tenant host, nor the tenant's on the platform.
  const withPlatformCookie = await call(gw, hostOf('alice'), '/notes', { cookie: platformCookie });
  t.equal(withPlatformCookie.status, 401);
  t.equal(withPlatformCookie.json().code, 'GW_ERR_SESSION_MISSING');
  const swapped = tenantCookie.replace('tenancy_tenant=', 'tenancy_session=');
  const onPlatform = await call(gw, PLATFORM, '/auth/session', { cookie: swapped });
  t.equal(onPlatform.status, 401);
  t.match(onPlatform.json(), { code: 'GW_ERR_SESSION_INVALID', reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
  t.ok(fake.calls.wake >= 1);
});

t.test('a code works once, on its own host only, and never on another', async (t) => {
  const { gw, hostOf } = await subdomainGateway(t);
  const { location } = await enter(gw, 'alice');
  const path = location.pathname + location.search;
  t.equal((await call(gw, location.host, path)).status, 303, 'the first use');
  const replay = await call(gw, location.host, path);
  t.equal(replay.status, 403);
  t.strictSame(replay.json(), {
    statusCode: 403,
    code: 'GW_ERR_CODE_INVALID',
    error: 'Forbidden',
    message: 'this sign-in link is used, expired or for another host: open your container from the platform again',
  });
  t.strictSame(replay.setCookie, [], 'no cookie for a replay');

  // A fresh code taken to someone else's host is refused, and spent by that use.
  const second = await enter(gw, 'alice');
  const secondPath = second.location.pathname + second.location.search;
  await gw.login('bob');
  const elsewhere = await call(gw, hostOf('bob'), secondPath);
  t.equal(elsewhere.status, 403);
  t.equal(elsewhere.json().code, 'GW_ERR_CODE_INVALID');
  t.equal((await call(gw, hostOf('alice'), secondPath)).status, 403, 'spent by the wrong use');
  // Nor on the platform's host, nor with a made-up code.
  const third = await enter(gw, 'alice');
  // The platform origin owns /_tenancy/ for its own pages: no exchange there.
  const onPlatform = await call(gw, PLATFORM, third.location.pathname + third.location.search);
  t.equal(onPlatform.status, 404);
  t.equal(onPlatform.json().code, 'GW_ERR_ROUTE_NOT_FOUND');
  t.equal((await call(gw, hostOf('alice'), '/_tenancy/exchange?code=made-up')).status, 403);
  t.equal((await call(gw, hostOf('alice'), '/_tenancy/exchange')).status, 400, 'no code at all');
});

t.test('someone else’s tenant host is refused with 403, and nothing is woken', async (t) => {
  const { gw, fake, tenant, hostOf } = await subdomainGateway(t);
  const alice = await enter(gw, 'alice');
  const aliceExchange = await call(gw, alice.location.host, alice.location.pathname + alice.location.search);
  const aliceTenantCookie = String(aliceExchange.setCookie[0]).split(';')[0] ?? '';
  await gw.login('bob');
  const wakes = fake.calls.wake;

  // Signed out on bob's host: the browser is sent to the platform, naming the host…
  const page = await call(gw, hostOf('bob'), '/inbox', { accept: 'text/html' });
  t.equal(page.status, 303);
  const bounce = new URL(String(page.headers.location));
  t.equal(bounce.host, PLATFORM);
  t.equal(bounce.pathname, '/auth/tenant');
  t.equal(bounce.searchParams.get('label'), hostOf('bob').split('.')[0]);
  t.equal(bounce.searchParams.get('next'), '/inbox');
  // …which refuses alice a code for it.
  const refused = await call(gw, PLATFORM, bounce.pathname + bounce.search, { cookie: alice.platformCookie });
  t.equal(refused.status, 403);
  t.strictSame(refused.json(), {
    statusCode: 403,
    code: 'GW_ERR_TENANT_FORBIDDEN',
    error: 'Forbidden',
    message: 'this host belongs to another user: your own container is at your own host',
  });
  // Alice's own tenant cookie, carried to bob's host by hand, is refused too.
  const carried = await call(gw, hostOf('bob'), '/inbox', { cookie: aliceTenantCookie });
  t.equal(carried.status, 403);
  t.equal(carried.json().code, 'GW_ERR_TENANT_FORBIDDEN');
  const ws = await upgrade(gw, hostOf('bob'), aliceTenantCookie);
  t.equal(ws.status, 403, 'and its WebSocket');
  t.equal(fake.calls.wake, wakes, 'no wake for any of it');
  t.equal(tenant.received.length, 0, 'nothing reached a tenant');
});

t.test('logging out on the platform ends the tenant-origin session, with no Redis command per request', async (t) => {
  const { gw, redis, hostOf } = await subdomainGateway(t);
  const { platformCookie, location } = await enter(gw, 'alice');
  const exchange = await call(gw, location.host, location.pathname + location.search);
  const tenantCookie = String(exchange.setCookie[0]).split(';')[0] ?? '';
  t.equal((await call(gw, hostOf('alice'), '/x', { cookie: tenantCookie })).status, 200);

  // Steady state: the revocation view answers; Redis is not asked.
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await gw.redis.info('stats'))?.[1]);
  const before = await commands();
  for (let i = 0; i < 20; i++) await call(gw, hostOf('alice'), '/x', { cookie: tenantCookie });
  t.equal((await commands()) - before, 1, '20 requests, 0 Redis commands (the 1 is INFO itself)');

  const { socket } = await upgrade(gw, hostOf('alice'), tenantCookie);
  t.ok(socket, 'a WebSocket is open on the tenant host');
  const closed = new Promise<void>((resolve) => socket?.once('close', () => resolve()));

  const logout = await call(gw, PLATFORM, '/auth/logout', { method: 'POST', cookie: platformCookie });
  t.equal(logout.status, 200);
  const after = await call(gw, hostOf('alice'), '/x', { cookie: tenantCookie });
  t.equal(after.status, 401);
  t.match(after.json(), { code: 'GW_ERR_SESSION_INVALID', reason: 'REVOKED' });
  t.match(after.setCookie, [/^tenancy_tenant=; Max-Age=0;/], 'the tenant host clears its own cookie');
  await closed;
  t.pass('the open WebSocket was closed');
  t.ok(redis);
});

t.test('the platform origin serves no tenant content in subdomain mode', async (t) => {
  const { gw, tenant } = await subdomainGateway(t);
  const cookie = await gw.login('alice');
  const api = await call(gw, PLATFORM, '/chat', { method: 'POST', cookie });
  t.equal(api.status, 421);
  t.equal(api.json().code, 'GW_ERR_TENANT_ON_OWN_ORIGIN');
  const page = await call(gw, PLATFORM, '/chat?x=1', { cookie, accept: 'text/html' });
  t.equal(page.status, 303);
  t.equal(page.headers.location, '/auth/tenant?next=%2Fchat%3Fx%3D1');
  t.equal((await upgrade(gw, PLATFORM, cookie)).status, 421, 'nor a WebSocket');
  // The platform's own routes still answer there, and nowhere under TENANT_DOMAIN but tenants.
  t.equal((await call(gw, PLATFORM, '/auth/session', { cookie })).status, 200);
  const unknown = await call(gw, 'not-a-tenant.localhost:8080', '/auth/session', { cookie });
  t.equal(unknown.status, 404);
  t.equal(unknown.json().code, 'GW_ERR_ROUTE_NOT_FOUND');
  // Signed out, /auth/tenant goes through the sign-in page and back.
  const signedOut = await call(gw, PLATFORM, '/auth/tenant?next=%2F', { accept: 'text/html' });
  t.equal(signedOut.status, 303);
  t.equal(signedOut.headers.location, `/auth/login?next=${encodeURIComponent('/auth/tenant?next=%2F')}`);
  t.equal(tenant.received.length, 0);
});

/** A WebSocket upgrade to the gateway as the named host. */
function upgrade(gw: TestGateway, host: string, cookie: string) {
  return new Promise<{ status: number; socket?: Duplex }>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: gw.port,
      path: '/ws',
      headers: {
        host,
        cookie,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.on('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, socket }));
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end();
  });
}
