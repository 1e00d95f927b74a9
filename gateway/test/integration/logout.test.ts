import { startRedisServer } from '@tenancy/test-support';
import t from 'tap';
import { echoTenant, fakeSupervisor, startGateway, until } from '../harness.js';
import { startRedisProxy } from '../redis-proxy.js';

const NOT_RECORDED = {
  statusCode: 503,
  code: 'GW_ERR_LOGOUT_NOT_RECORDED',
  error: 'Service Unavailable',
  message:
    'the sign-out could not be recorded: this browser is signed out, but the session stays valid until it expires; sign in and log out of all sessions once the service is back',
};

/** The session cookie cleared: empty value, expired in 1970. */
const CLEARED = /^tenancy_session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/;

t.test('Redis down: logout and logout-all answer 503 and clear the cookie, never a 200 that is not true', async (t) => {
  const redis = await startRedisServer(t, { persistence: true });
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const one = await gw.login('leaving');
  const all = await gw.login('leaving-everywhere');

  await redis.stop();
  await until('the revocation view is no longer trusted', async () => !(await gw.revocationViewTrusted()));
  const logout = await fetch(`${gw.url}/auth/logout`, { method: 'POST', headers: { cookie: one } });
  t.equal(logout.status, 503);
  t.strictSame(await logout.json(), NOT_RECORDED);
  t.match(logout.headers.getSetCookie(), [CLEARED], 'the browser is signed out all the same');
  const logoutAll = await fetch(`${gw.url}/auth/logout-all`, { method: 'POST', headers: { cookie: all } });
  t.equal(logoutAll.status, 503);
  t.strictSame(await logoutAll.json(), NOT_RECORDED);
  t.match(logoutAll.headers.getSetCookie(), [CLEARED]);

  await redis.start();
  await until('the revocation view is trusted again', () => gw.revocationViewTrusted());
  // The 503 was the truth: nothing was revoked, so the old cookie still works.
  t.equal((await fetch(`${gw.url}/x`, { headers: { cookie: one } })).status, 200);
  // Redis back: the same logout is recorded, and the cookie is refused from then on.
  const again = await fetch(`${gw.url}/auth/logout`, { method: 'POST', headers: { cookie: one } });
  t.equal(again.status, 200);
  t.strictSame(await again.json(), { logged_out: true });
  t.equal((await fetch(`${gw.url}/x`, { headers: { cookie: one } })).status, 401);
});

t.test('a revocation Redis refuses while the view is trusted: 503, and the session is not revoked', async (t) => {
  const redis = await startRedisServer(t);
  const proxy = await startRedisProxy(t, redis.port);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: proxy.url, supervisor: fakeSupervisor(tenant.url).client });
  await until('the revocation view is trusted', () => gw.revocationViewTrusted());
  const cookie = await gw.login('refused-revocation');
  // A session's revocation is a SET; a user's a script that keeps the latest time.
  proxy.refuse('set');
  proxy.refuse('eval');

  for (const path of ['/auth/logout', '/auth/logout-all']) {
    const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { cookie } });
    t.equal(res.status, 503, path);
    t.strictSame(await res.json(), NOT_RECORDED, path);
    t.match(res.headers.getSetCookie(), [CLEARED], path);
  }
  t.strictSame(
    [proxy.refused('set'), proxy.refused('eval')],
    [1, 1],
    'both revocations reached Redis and were refused',
  );
  t.equal(
    (await fetch(`${gw.url}/x`, { headers: { cookie } })).status,
    200,
    'the session is still on, as the 503 said',
  );
});
