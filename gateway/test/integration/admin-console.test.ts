import { readJson, seg, startSupervisor, testRedisUrl } from '@tenancy/test-support';
import t from 'tap';
import { createSupervisorClient } from '../../src/supervisor/client.js';
import { startGateway } from '../harness.js';

/**
 * The admin console's session against the real supervisor (its admin API decides which tokens
 * are admins) and real Redis: refused without a valid admin token, the token never in a page, a
 * URL, the cookie or Redis in the clear, state changes refused from other sites, and a revoked
 * token ends the session.
 */
t.test('the admin console session: token checked by the supervisor, held server-side, CSRF refused', async (t) => {
  const supervisor = await startSupervisor(t);
  const gw = await startGateway(t, {
    redisUrl: testRedisUrl(),
    supervisor: createSupervisorClient(supervisor.url, supervisor.internalToken),
    env: { SUPERVISOR_URL: supervisor.url, SUPERVISOR_TOKEN: supervisor.internalToken },
  });
  const created = await supervisor.api('POST', '/v1/admins', { name: `console-${process.pid}` });
  t.equal(created.status, 201);
  const { token, name } = await readJson(created);
  const user = `console-user-${process.pid}`;
  t.equal((await supervisor.api('PUT', `/internal/v1/users/${seg(user)}`, {}, 'internal')).status, 200);

  const html = { accept: 'text/html' };
  const sameOrigin = { 'sec-fetch-site': 'same-origin' };
  const signIn = (body: string, headers: Record<string, string> = sameOrigin) =>
    fetch(`${gw.url}/_tenancy/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });

  // Without a session: pages lead to the sign-in form, the API answers 401.
  const page = await fetch(`${gw.url}/_tenancy/admin`, { headers: html, redirect: 'manual' });
  t.equal(page.status, 303);
  t.equal(page.headers.get('location'), '/_tenancy/admin/login');
  const anonymous = await fetch(`${gw.url}/_tenancy/admin/api/summary`);
  t.equal(anonymous.status, 401);
  t.equal((await readJson(anonymous)).code, 'GW_ERR_ADMIN_SESSION_MISSING');
  const form = await fetch(`${gw.url}/_tenancy/admin/login`);
  t.equal(form.status, 200);
  t.match(form.headers.get('content-security-policy'), /script-src 'self'/);
  t.notMatch(await form.text(), /<script/, 'the sign-in page runs no script that could read the field');

  // Refused: a wrong token, the gateway's own SUPERVISOR_TOKEN (not an admin credential), a made-up cookie.
  for (const wrong of ['not-a-token', supervisor.internalToken, `tnya_${'0'.repeat(12)}_${'x'.repeat(43)}`]) {
    const refused = await signIn(new URLSearchParams({ token: wrong }).toString());
    t.equal(refused.status, 401, 'refused token');
    t.equal(refused.headers.getSetCookie().length, 0, 'no cookie for a refused token');
    t.notMatch(await refused.text(), wrong, 'the refused token is not echoed');
  }
  const forged = await fetch(`${gw.url}/_tenancy/admin/api/summary`, {
    headers: { cookie: `tenancy_admin=${'A'.repeat(43)}` },
  });
  t.equal(forged.status, 401);
  await forged.arrayBuffer();

  // A sign-in posted by another site's page is refused before the token is even checked.
  const crossSignIn = await signIn(new URLSearchParams({ token }).toString(), { 'sec-fetch-site': 'cross-site' });
  t.equal(crossSignIn.status, 403);
  t.equal((await readJson(crossSignIn)).code, 'GW_ERR_CROSS_SITE_REFUSED');

  // Signed in: an HttpOnly, SameSite=Strict, host-only cookie that is not the token.
  const signedIn = await signIn(new URLSearchParams({ token }).toString());
  t.equal(signedIn.status, 303);
  t.equal(signedIn.headers.get('location'), '/_tenancy/admin');
  const [setCookie] = signedIn.headers.getSetCookie();
  t.match(setCookie, /^tenancy_admin=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
  t.notMatch(setCookie, token);
  t.notMatch(setCookie, /Domain=/i);
  const cookie = (setCookie ?? '').split(';')[0] ?? '';
  const stored = await gw.redis.keys('tenancy:admin:*');
  t.equal(stored.length >= 1, true, 'the session is in Redis');
  for (const key of stored) t.notMatch((await gw.redis.get(key)) ?? '', token, 'Redis holds no token in the clear');

  const consolePage = await fetch(`${gw.url}/_tenancy/admin`, { headers: { ...html, cookie } });
  t.equal(consolePage.status, 200);
  const text = await consolePage.text();
  t.notMatch(text, token, 'the token is not in the page');
  t.match(text, `admin:${name}`, 'the page names the acting identity');
  t.match(
    consolePage.headers.get('content-security-policy'),
    "default-src 'none'; script-src 'self'; style-src 'self'",
  );
  const summary = await fetch(`${gw.url}/_tenancy/admin/api/summary`, { headers: { cookie } });
  t.equal(summary.status, 200);
  t.match(await readJson(summary), { capacity: { maxRunning: Number, startQueue: 0 } });

  // Only the calls the console makes reach the supervisor, with no way around the list.
  for (const path of ['/admins', '/tenants/../admins', '/tenants/%2e%2e/admins', '/backup']) {
    const res = await fetch(`${gw.url}/_tenancy/admin/api${path}`, { headers: { cookie } });
    t.equal(res.status, 404, `GET ${path} is not relayed`);
    await res.arrayBuffer();
  }

  // A state change from another site (or another origin) is refused, and nothing happens.
  const disable = (headers: Record<string, string>) =>
    fetch(`${gw.url}/_tenancy/admin/api/users/${seg(user)}/disable`, {
      method: 'POST',
      headers: { cookie, ...headers },
    });
  for (const headers of <Record<string, string>[]>[
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
    { origin: 'http://evil.example' },
  ]) {
    const refused = await disable(headers);
    t.equal(refused.status, 403, `refused with ${JSON.stringify(headers)}`);
    t.equal((await readJson(refused)).code, 'GW_ERR_CROSS_SITE_REFUSED');
  }
  const audit = async () =>
    readJson(await supervisor.api('GET', `/v1/audit?target=${encodeURIComponent(user)}&action=user.disable`));
  t.same((await audit()).items, [], 'no disable happened');
  const done = await disable(sameOrigin);
  t.equal(done.status, 200);
  t.match(await readJson(done), { userId: user, disabled: true });
  t.match((await audit()).items, [{ actor: `admin:${name}`, action: 'user.disable' }], 'audited as the admin');

  // Revoking the token ends the console session at its next request.
  const id = token.slice('tnya_'.length, 'tnya_'.length + 12);
  t.equal((await supervisor.api('DELETE', `/v1/admins/${id}`)).status, 200);
  const revoked = await fetch(`${gw.url}/_tenancy/admin/api/summary`, { headers: { cookie } });
  t.equal(revoked.status, 401);
  t.equal((await readJson(revoked)).code, 'GW_ERR_ADMIN_SESSION_MISSING');
  t.match(revoked.headers.getSetCookie()[0], /^tenancy_admin=;/, 'the cookie is cleared');
  t.same(await gw.redis.keys('tenancy:admin:*').then((keys) => keys.filter((key) => stored.includes(key))), []);

  // A path under /_tenancy/ that is no page is the gateway's 404, never the tenant's.
  const unknown = await fetch(`${gw.url}/_tenancy/nothing-here`);
  t.equal(unknown.status, 404);
  t.equal((await readJson(unknown)).code, 'GW_ERR_ROUTE_NOT_FOUND');
});
