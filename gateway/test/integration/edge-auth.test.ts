import { request } from 'node:http';
import { startRedisServer } from '@tenancy/test-support';
import t, { type Test } from 'tap';
import { echoTenant, fakeSupervisor, startGateway } from '../harness.js';

/**
 * The edge's fast path (src/proxy/edge-auth-route.ts): the gateway's per-request decision, asked
 * the way nginx's auth_request asks it. nginx's side is tested in nginx/test/integration/edge.test.ts,
 * both together through the whole platform in e2e/.
 */
/** Asks for a decision as nginx does (node:http: fetch refuses an Upgrade header). */
function ask(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Headers }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/_tenancy/edge-auth`, { headers }, (res) => {
      res.resume();
      const out = new Headers();
      for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') out.set(name, value);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: out }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function setup(t: Test, env: Record<string, string> = {}) {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const supervisor = fakeSupervisor(tenant.url);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: supervisor.client, env });
  const decide = (headers: Record<string, string>, uri = '/page') => ask(gw.url, { 'x-original-uri': uri, ...headers });
  return { gw, tenant, supervisor, decide };
}

t.test('a running tenant’s request is allowed with its route and the headers the tenant gets', async (t) => {
  const { gw, tenant, decide } = await setup(t);
  const cookie = await gw.login('fast-user', { email: 'fast@example.com' });
  const before = await decide({ cookie });
  t.equal(before.status, 401, 'the route is not known yet: the gateway’s way (it wakes and caches)');

  // One request the gateway's way resolves and caches the route.
  const first = await fetch(`${gw.url}/page`, { headers: { cookie } });
  await first.arrayBuffer();
  t.equal(first.status, 200);

  const res = await decide({ cookie: `${cookie}; theme=dark; CF_Authorization=edge-jwt` });
  t.equal(res.status, 204);
  t.equal(res.headers.get('x-tenancy-upstream'), new URL(tenant.url).host);
  t.equal(res.headers.get('x-tenancy-tenant-secret'), 'tenant-secret-1');
  t.equal(res.headers.get('x-tenancy-user-id'), 'fast-user');
  t.equal(res.headers.get('x-tenancy-user-email'), 'fast@example.com');
  t.equal(res.headers.get('x-tenancy-user-plan'), 'free');
  t.equal(res.headers.get('x-tenancy-cookie'), 'theme=dark', 'platform and edge cookies removed');
  t.equal(res.headers.get('cache-control'), 'no-store');

  const none = await decide({ cookie });
  t.equal(none.headers.get('x-tenancy-cookie'), null, 'no cookie header when nothing is left');
});

t.test('everything but the plain case goes the gateway’s way', async (t) => {
  const { gw, decide } = await setup(t, { LOGIN_TOKEN: 'l'.repeat(32) });
  const cookie = await gw.login('slow-user');
  await (await fetch(`${gw.url}/page`, { headers: { cookie } })).arrayBuffer();
  t.equal((await decide({ cookie })).status, 204, 'the plain case');

  const token = cookie.split('=').slice(1).join('=');
  const cases: [string, Record<string, string>, string?][] = [
    ['no session', {}],
    ['a forged session', { cookie: 'tenancy_session=forged' }],
    // Without `Connection: Upgrade`, which would make it an upgrade of the decision itself.
    ['a WebSocket upgrade', { cookie, upgrade: 'websocket' }],
    ['an event stream', { cookie, accept: 'text/event-stream' }],
    ['an identity header to strip', { cookie, 'x-user-id': 'admin' }],
    ['a Cloudflare Access header to strip', { cookie, 'cf-access-client-secret': 'x' }],
    ['the session token in Authorization', { cookie, authorization: `Bearer ${token}` }],
    ['the login token in Authorization', { cookie, authorization: `Bearer ${'l'.repeat(32)}` }],
    ['a gateway route', { cookie }, '/warmup'],
    ['a gateway route with a query', { cookie }, '/auth/session?x=1'],
    ['the reserved prefix', { cookie }, '/_tenancy/console'],
  ];
  for (const [what, headers, uri] of cases) {
    const res = await decide(headers, uri);
    t.equal(res.status, 401, what);
    t.equal(res.headers.get('x-tenancy-upstream'), null, `${what}: no route given`);
  }
  const noUri = await ask(gw.url, { cookie });
  t.equal(noUri.status, 401, 'a decision without the original URI');
});

t.test('a revoked session is refused on the next decision', async (t) => {
  const { gw, decide } = await setup(t);
  const cookie = await gw.login('revoked-user');
  await (await fetch(`${gw.url}/page`, { headers: { cookie } })).arrayBuffer();
  t.equal((await decide({ cookie })).status, 204);
  const logout = await fetch(`${gw.url}/auth/logout`, { method: 'POST', headers: { cookie } });
  await logout.arrayBuffer();
  t.equal(logout.status, 200);
  t.equal((await decide({ cookie })).status, 401);
});

t.test('a session due for a fresh cookie goes the gateway’s way, which sets it', async (t) => {
  let clock = Date.now();
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: fakeSupervisor(tenant.url).client,
    env: { SESSION_TTL: '1h', ROUTE_CACHE_TTL: '2h' },
    now: () => clock,
  });
  const cookie = await gw.login('refresh-user');
  await (await fetch(`${gw.url}/page`, { headers: { cookie } })).arrayBuffer();
  const decide = () => ask(gw.url, { cookie, 'x-original-uri': '/page' });
  t.equal((await decide()).status, 204);
  clock += 40 * 60_000;
  t.equal((await decide()).status, 401, 'in the second half of its window');
  const res = await fetch(`${gw.url}/page`, { headers: { cookie } });
  await res.arrayBuffer();
  t.match(res.headers.getSetCookie()[0] ?? '', /^tenancy_session=/, 'the gateway’s way refreshes the cookie');
});

t.test('the gateway never proxies the reserved prefix to a tenant', async (t) => {
  const { gw, tenant } = await setup(t);
  const cookie = await gw.login('reserved-user');
  const res = await fetch(`${gw.url}/_tenancy/anything`, { headers: { cookie } });
  t.equal(res.status, 404);
  t.equal(((await res.json()) as { code: string }).code, 'GW_ERR_ROUTE_NOT_FOUND');
  t.equal(tenant.received.length, 0);
});
