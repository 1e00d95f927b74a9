import { startRedisServer } from '@tenancy/test-support';
import t from 'tap';
import { echoTenant, fakeSupervisor, startGateway } from '../harness.js';

const MIN = 60_000;

t.test('sliding refresh in the second half of the window, and the absolute cap', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  let clock = Date.now();
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: fakeSupervisor(tenant.url).client,
    env: { SESSION_TTL: '30m', SESSION_MAX_AGE: '1h' },
    now: () => clock,
  });
  let cookie = await gw.login('slider');
  /** A request with the current cookie, keeping whatever cookie comes back, as a browser does. */
  const get = async () => {
    const res = await fetch(`${gw.url}/x`, { headers: { cookie } });
    const set = res.headers.getSetCookie()[0];
    if (set) cookie = set.split(';')[0] ?? '';
    return res;
  };

  clock += 10 * MIN;
  const early = await get();
  t.equal(early.status, 200);
  t.same(early.headers.getSetCookie(), [], 'first half of the window: no new cookie');

  clock += 10 * MIN;
  const late = await get();
  t.equal(late.status, 200);
  const fresh = late.headers.getSetCookie()[0] ?? '';
  t.match(fresh, /^tenancy_session=/, 'second half: a fresh cookie');
  t.match(fresh, /HttpOnly/);
  t.match(fresh, /SameSite=Lax/);
  t.match(fresh, /Path=\//);
  t.notMatch(fresh, /Secure/, 'plain http: not Secure');

  clock += 25 * MIN;
  t.equal((await get()).status, 200, '45 min after login the refreshed session is still on');
  clock += 14 * MIN;
  t.equal((await get()).status, 200, '59 min after login');
  clock += 2 * MIN;
  const capped = await get();
  t.equal(capped.status, 401, 'one hour after login the session ends, however active');
  t.match(capped.headers.getSetCookie()[0] ?? '', /^tenancy_session=;/, 'and the cookie is cleared');

  clock += 31 * MIN;
  const idle = await gw.login('idler');
  clock += 31 * MIN;
  t.equal((await fetch(`${gw.url}/x`, { headers: { cookie: idle } })).status, 401, 'unused for longer than the window');
});

t.test('over https the cookie is Secure with the __Host- prefix', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: fakeSupervisor(tenant.url).client,
    // Dev login on a public origin: refused unless the operator insists, as this test does.
    env: { PUBLIC_BASE_URL: 'https://tenancy.example', ALLOW_DEV_LOGIN_ON_PUBLIC_URL: 'yes-i-understand' },
  });
  const res = await fetch(`${gw.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: 'secure-user' }),
  });
  const cookie = res.headers.getSetCookie()[0] ?? '';
  t.match(cookie, /^__Host-tenancy_session=/);
  t.match(cookie, /; Secure/);
  t.match(cookie, /; Path=\//);
  t.notMatch(cookie, /Domain=/i, '__Host- cookies have no Domain');
});

t.test('logout revokes one session; logout-all revokes every session of the user', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const status = async (cookie: string) => (await fetch(`${gw.url}/x`, { headers: { cookie } })).status;
  const [a, b, c] = [await gw.login('multi'), await gw.login('multi'), await gw.login('multi')];
  const other = await gw.login('someone-else');

  const out = await fetch(`${gw.url}/auth/logout`, { method: 'POST', headers: { cookie: a } });
  t.match(
    out.headers.getSetCookie()[0] ?? '',
    /^tenancy_session=; Max-Age=0|^tenancy_session=; .*Expires=Thu, 01 Jan 1970/,
  );
  t.same([await status(a), await status(b), await status(c)], [401, 200, 200], 'only that session ended');

  await fetch(`${gw.url}/auth/logout-all`, { method: 'POST', headers: { cookie: b } });
  t.same([await status(b), await status(c)], [401, 401], 'every session of the user ended');
  t.equal(await status(other), 200, 'other users are untouched');
  t.equal(await status(await gw.login('multi')), 200, 'a new login works again');

  const redirect = await fetch(`${gw.url}/auth/logout?next=//evil.example`, { method: 'POST', redirect: 'manual' });
  t.equal(redirect.status, 400, 'redirects go to same-origin paths only');
  const local = await fetch(`${gw.url}/auth/logout?next=/bye`, { method: 'POST', redirect: 'manual' });
  t.same([local.status, local.headers.get('location')], [303, '/bye']);
});
