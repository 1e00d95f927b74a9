import { startRedisServer } from '@tenancy/test-support';
import t from 'tap';
import { echoTenant, fakeSupervisor, startGateway } from '../harness.js';

const REFUSED = {
  statusCode: 403,
  code: 'GW_ERR_CROSS_SITE_REFUSED',
  error: 'Forbidden',
  message: 'this request came from another site: sign-in, sign-out and wake requests are accepted only from this site',
};

t.test('cross-site requests cannot sign in, sign out or wake; same-origin and curl-like ones can', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const supervisor = fakeSupervisor(tenant.url);
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: supervisor.client,
    // Dev login on a public origin: refused unless the operator insists, as this test does.
    env: { PUBLIC_BASE_URL: 'https://tenancy.example.com', ALLOW_DEV_LOGIN_ON_PUBLIC_URL: 'yes-i-understand' },
  });
  // The cookie is __Host- and Secure over https; fetch sends whatever it is given, as nginx would.
  const cookie = await gw.login('cross-site-victim');
  const post = (path: string, headers: Record<string, string>, body?: unknown) =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  const crossSite: Record<string, string>[] = [
    { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    { 'sec-fetch-site': 'same-site', origin: 'https://other.tenancy.example.com' },
    { origin: 'https://evil.example' },
    { origin: 'null' },
  ];
  const wakes = supervisor.calls.wake;
  const upserts = supervisor.calls.upsert;
  for (const headers of crossSite) {
    for (const [path, body] of [
      ['/auth/logout', undefined],
      ['/auth/logout-all', undefined],
      ['/warmup', {}],
      ['/auth/login', { user_id: 'attacker' }],
    ] as const) {
      const res = await post(path, headers, body);
      t.equal(res.status, 403, `${path} ${JSON.stringify(headers)}`);
      t.strictSame(await res.json(), REFUSED);
      t.strictSame(res.headers.getSetCookie(), [], 'no cookie set or cleared');
    }
  }
  t.equal(supervisor.calls.wake, wakes, 'no wake was started');
  t.equal(supervisor.calls.upsert, upserts, 'no login was recorded');
  t.equal((await fetch(`${gw.url}/x`, { headers: { cookie } })).status, 200, 'the session is still on');

  const sameOrigin = await post(
    '/warmup',
    { 'sec-fetch-site': 'same-origin', origin: 'https://tenancy.example.com' },
    {},
  );
  t.equal(sameOrigin.status, 200, 'same origin, as the browser says');
  const publicOrigin = await post('/warmup', { origin: 'https://tenancy.example.com' }, {});
  t.equal(publicOrigin.status, 200, 'Origin is PUBLIC_BASE_URL');
  const curl = await post('/warmup', {}, {});
  t.equal(curl.status, 200, 'no Origin, no Sec-Fetch-Site: curl');
  const bearer = await post(
    '/auth/login',
    { origin: 'https://evil.example', authorization: 'Bearer x' },
    {
      user_id: 'backend-user',
    },
  );
  t.equal(bearer.status, 200, 'a bearer client is not a browser page');
  const logout = await post('/auth/logout', { 'sec-fetch-site': 'same-origin' });
  t.equal(logout.status, 200);
  t.strictSame(await logout.json(), { logged_out: true });
  t.equal((await fetch(`${gw.url}/x`, { headers: { cookie } })).status, 401, 'a same-origin logout still works');
});
