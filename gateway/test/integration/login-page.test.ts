import { testRedisUrl } from '@tenancy/test-support';
import t from 'tap';
import { safeNext } from '../../src/http/login-page.js';
import { echoTenant, fakeSupervisor, startGateway } from '../harness.js';

t.test('safeNext keeps same-origin paths and replaces everything else with /', async (t) => {
  const rows: [string, string][] = [
    ['/', '/'],
    ['/chat?x=1', '/chat?x=1'],
    ['/files/a%2Fb', '/files/a%2Fb'],
    ['//evil.example/x', '/'],
    ['/\\evil.example', '/'],
    ['https://evil.example/', '/'],
    ['javascript:alert(1)', '/'],
    ['/a b', '/'],
    ['', '/'],
    [`/${'a'.repeat(2048)}`, '/'],
  ];
  for (const [input, expected] of rows) t.equal(safeNext(input), expected, JSON.stringify(input).slice(0, 40));
});

t.test('a browser without a session is sent to the sign-in page; scripts get 401', async (t) => {
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: testRedisUrl(), supervisor: fakeSupervisor(tenant.url).client });
  const html = { accept: 'text/html,application/xhtml+xml' };

  const page = await fetch(`${gw.url}/files/report?x=1`, { headers: html, redirect: 'manual' });
  t.equal(page.status, 303);
  t.equal(page.headers.get('location'), '/auth/login?next=%2Ffiles%2Freport%3Fx%3D1');

  const forged = await fetch(`${gw.url}/files/x`, {
    headers: { ...html, cookie: 'tenancy_session=not.a.token' },
    redirect: 'manual',
  });
  t.equal(forged.status, 303, 'an invalid cookie too');
  t.match(forged.headers.getSetCookie()[0] ?? '', /^tenancy_session=;/, 'and the bad cookie is cleared');

  const script = await fetch(`${gw.url}/files/report`, { redirect: 'manual' });
  t.equal(script.status, 401);
  t.equal(((await script.json()) as { code: string }).code, 'GW_ERR_SESSION_MISSING');
  t.equal(tenant.received.length, 0, 'nothing reached a tenant');

  const login = await fetch(`${gw.url}/auth/login`);
  t.equal(login.status, 200);
  t.match(login.headers.get('content-type'), /^text\/html/);
  const body = await login.text();
  t.match(body, /<form id="login">/);
  t.notMatch(body, /<script>/, 'no inline script, so a strict CSP holds');
  t.match(login.headers.get('content-security-policy'), /script-src 'self';.*frame-ancestors 'self'/, 'and it has one');
  const js = await fetch(`${gw.url}/auth/login.js`);
  t.match(js.headers.get('content-type'), /^text\/javascript/);
});

t.test('token mode has no sign-in page: a backend signs users in', async (t) => {
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, {
    redisUrl: testRedisUrl(),
    supervisor: fakeSupervisor(tenant.url).client,
    env: { AUTH_MODE: 'token', DEV_AUTH_ENABLED: 'false', LOGIN_TOKEN: 'l'.repeat(40) },
  });
  const page = await fetch(`${gw.url}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
  t.equal(page.status, 401);
  const login = await fetch(`${gw.url}/auth/login`, { headers: { accept: 'text/html' } });
  t.equal(login.status, 401, 'no page to show: sign in first');
});
