import { testRedisUrl } from '@tenancy/test-support';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import t from 'tap';
import { errors } from '../../src/errors.js';
import { echoTenant, fakeSupervisor, startGateway } from '../harness.js';
import { cookieJar, frontDoor, throughProvider } from '../oidc/by-hand.js';
import { CLIENT } from '../oidc/provider.js';
import { oidcGateway, problem } from '../oidc/setup.js';

/**
 * AUTH_MODE=oidc against a real OpenID provider (oidc-provider) on 127.0.0.1, walked through by
 * hand as curl with a cookie jar would: every step of the flow is a request the test makes, so
 * it can alter or replay any of them.
 */

t.test('sign in: the provider names the user, the session is the platform’s own, next is kept', async (t) => {
  const { url, idp, tenant, supervisor } = await oidcGateway(t);
  // Watch what the provider hands out, to show none of it travels further.
  const issued: string[] = [];
  idp.setTamper(async (idToken) => {
    issued.push(idToken);
    return idToken;
  });
  const jar = cookieJar();
  const callback = await throughProvider(jar, url, 'alice', '/files/?x=1');
  const params = new URL(callback).searchParams;
  t.ok(params.get('code') && params.get('state'), 'the provider answered with a code and the state');

  const done = await jar.fetch(callback);
  t.equal(done.status, 303);
  t.equal(done.headers.get('location'), '/files/?x=1', 'on to the page asked for');
  t.equal(done.headers.get('cache-control'), 'no-store');
  const setCookies = done.headers.getSetCookie();
  t.match(
    setCookies.find((c) => c.startsWith('tenancy_oidc=')),
    /Max-Age=0|Expires=Thu, 01 Jan 1970/,
  );
  t.match(
    setCookies.find((c) => c.startsWith('tenancy_session=')),
    /HttpOnly/,
  );
  t.notOk(jar.cookies.has('tenancy_oidc'), 'the transaction is spent');

  const session = await jar.fetch(`${url}/auth/session`);
  t.match(await session.json(), { user_id: 'alice', email: 'alice@example.com', plan: 'free' });
  t.strictSame(supervisor.users.get('alice')?.email, 'alice@example.com', 'the login reached the supervisor');

  // The session works like any other: the tenant is reached, and nothing of the provider's goes with it.
  const page = await jar.fetch(`${url}/files/?x=1`);
  t.equal(page.status, 200);
  const seen = tenant.received.at(-1);
  t.equal(seen?.headers['x-tenancy-user-id'], 'alice');
  t.equal(issued.length, 1);
  const sent = JSON.stringify(seen?.headers);
  t.notOk(sent.includes(issued[0] ?? '-'), 'the ID token never reaches the tenant');
  const sessionToken = jar.cookies.get('tenancy_session') ?? '';
  t.notOk(JSON.stringify(decodeJwt(sessionToken)).includes(issued[0]?.slice(-20) ?? '-'), 'nor the session');

  // An email the provider does not vouch for is not recorded.
  const carol = cookieJar();
  t.equal((await carol.fetch(await throughProvider(carol, url, 'carol'))).status, 303);
  t.match(await (await carol.fetch(`${url}/auth/session`)).json(), { user_id: 'carol', email: null });
});

t.test('the answer must belong to this browser’s sign-in: wrong state, no or altered transaction', async (t) => {
  const { url, idp } = await oidcGateway(t);
  const jar = cookieJar();
  const callback = new URL(await throughProvider(jar, url, 'alice'));
  const wrongState = new URL(callback);
  wrongState.searchParams.set('state', 'not-the-state');
  const before = idp.stats.tokenRequests;
  const res = await jar.fetch(wrongState.href);
  t.strictSame([res.status, await res.json()], [400, problem(errors.oidcStateMismatch, 'Bad Request')]);
  t.equal(idp.stats.tokenRequests, before, 'the code was not spent on it');
  t.notOk(jar.cookies.has('tenancy_session'), 'no session');
  const again = await jar.fetch(callback.href);
  t.strictSame(
    [again.status, await again.json()],
    [400, problem(errors.oidcTransactionInvalid, 'Bad Request')],
    'one attempt per transaction: the right answer afterwards is refused too',
  );

  // A callback in a browser that never started a sign-in (login CSRF: someone else's code).
  const other = cookieJar();
  const mine = await throughProvider(other, url, 'eve');
  const victim = cookieJar();
  const forced = await victim.fetch(mine);
  t.strictSame([forced.status, await forced.json()], [400, problem(errors.oidcTransactionInvalid, 'Bad Request')]);

  // A transaction cookie altered by one character.
  const altered = cookieJar();
  const target = await throughProvider(altered, url, 'alice');
  const sealed = altered.cookies.get('tenancy_oidc') ?? '';
  altered.cookies.set('tenancy_oidc', `${sealed.slice(0, -2)}${sealed.endsWith('AA') ? 'BB' : 'AA'}`);
  const res3 = await altered.fetch(target);
  t.strictSame([res3.status, await res3.json()], [400, problem(errors.oidcTransactionInvalid, 'Bad Request')]);
});

t.test('a replayed code is refused by the provider, and so by the gateway', async (t) => {
  const { url } = await oidcGateway(t);
  const jar = cookieJar();
  const callback = await throughProvider(jar, url, 'alice');
  const transaction = jar.cookies.get('tenancy_oidc') ?? '';
  t.equal((await jar.fetch(callback)).status, 303, 'the first use signs in');
  // Whoever replays it holds the transaction cookie too: the code itself is what is refused.
  const attacker = cookieJar();
  attacker.cookies.set('tenancy_oidc', transaction);
  const replay = await attacker.fetch(callback);
  t.strictSame([replay.status, await replay.json()], [401, problem(errors.oidcCodeRejected, 'Unauthorized')]);
  t.notOk(attacker.cookies.has('tenancy_session'));
});

t.test('ID tokens the provider would never send are refused: audience, expiry, signature', async (t) => {
  const { url, idp } = await oidcGateway(t);
  const now = Math.floor(Date.now() / 1000);
  const outsider = await idp.newSigningKey();
  const cases: [string, (idToken: string) => Promise<string>][] = [
    ['wrong audience', (tok) => idp.resign(tok, (c) => ({ ...c, aud: 'someone-else' }))],
    ['expired', (tok) => idp.resign(tok, (c) => ({ ...c, iat: now - 900, exp: now - 600 }))],
    ['another issuer', (tok) => idp.resign(tok, (c) => ({ ...c, iss: 'http://127.0.0.1:1' }))],
    // Same kid as the provider's key, so only the signature itself can tell.
    [
      'signed by another key under the provider’s kid',
      (tok) => idp.resign(tok, (c) => c, { ...outsider, jwk: { ...outsider.jwk, kid: idp.kid } }),
    ],
    ['signed by a key the provider never published', (tok) => idp.resign(tok, (c) => c, outsider)],
  ];
  for (const [what, tamper] of cases) {
    idp.setTamper(tamper);
    const jar = cookieJar();
    const res = await jar.fetch(await throughProvider(jar, url, 'alice'));
    t.strictSame([res.status, await res.json()], [401, problem(errors.oidcIdTokenInvalid, 'Unauthorized')], what);
    t.notOk(jar.cookies.has('tenancy_session'), `${what}: no session`);
  }
  idp.setTamper(undefined);
  const jar = cookieJar();
  t.equal((await jar.fetch(await throughProvider(jar, url, 'alice'))).status, 303, 'untouched, it signs in');
});

t.test('the provider rotates its signing key: the next sign-in fetches the new key and works', async (t) => {
  const { url, idp } = await oidcGateway(t);
  const kids: string[] = [];
  idp.setTamper(async (idToken) => {
    kids.push(String(decodeProtectedHeader(idToken).kid));
    return idToken;
  });
  const first = cookieJar();
  t.equal((await first.fetch(await throughProvider(first, url, 'alice'))).status, 303);
  t.equal(idp.stats.jwksFetches, 1, 'keys fetched once');
  const second = cookieJar();
  t.equal((await second.fetch(await throughProvider(second, url, 'alice'))).status, 303);
  t.equal(idp.stats.jwksFetches, 1, 'and then served from the cache');

  const oldKid = idp.kid;
  const newKid = await idp.rotate();
  const third = cookieJar();
  const res = await third.fetch(await throughProvider(third, url, 'alice'));
  t.equal(res.status, 303, 'a sign-in after the rotation works');
  t.strictSame(kids, [oldKid, oldKid, newKid], 'signed with the new key');
  t.equal(idp.stats.jwksFetches, 2, 'the unknown key made the gateway fetch the keys again');
  t.match(await (await third.fetch(`${url}/auth/session`)).json(), { user_id: 'alice' });
});

t.test('allow-lists: email domains (verified only) and groups', async (t) => {
  const { url, supervisor } = await oidcGateway(t, {
    OIDC_ALLOWED_DOMAINS: 'Example.com, other.test',
    OIDC_ALLOWED_GROUPS: 'staff',
  });
  const signIn = async (account: string) => {
    const jar = cookieJar();
    const res = await jar.fetch(await throughProvider(jar, url, account));
    return { res, jar };
  };
  const alice = await signIn('alice');
  t.equal(alice.res.status, 303, 'a verified address in an allowed domain, in an allowed group');
  for (const [account, kind] of [
    ['eve', errors.oidcDomainNotAllowed],
    ['carol', errors.oidcEmailUnverified],
    ['bob', errors.oidcGroupNotAllowed],
  ] as const) {
    const { res, jar } = await signIn(account);
    t.strictSame([res.status, await res.json()], [403, problem(kind, 'Forbidden')], account);
    t.notOk(jar.cookies.has('tenancy_session'), `${account}: no session`);
    t.notOk(supervisor.users.has(account), `${account}: never reported to the supervisor`);
  }
});

t.test('the sign-in page offers the provider; next stays same-origin; POST /auth/login is closed', async (t) => {
  const { url } = await oidcGateway(t, { OIDC_PROVIDER_NAME: 'Example <SSO>' });
  const page = await fetch(`${url}/auth/login?next=%2Fchat`);
  const html = await page.text();
  t.match(html, '<a id="provider" class="button" href="/auth/oidc/start">Sign in with Example &#60;SSO&#62;</a>');
  t.match(html, 'data-mode="oidc"');
  const script = await (await fetch(`${url}/auth/login.js`)).text();
  t.match(script, "'/auth/oidc/start?next=' + encodeURIComponent(next)");

  // A page load without a session goes to the sign-in page, which keeps where it was going.
  const load = await fetch(`${url}/chat?a=1`, { redirect: 'manual', headers: { accept: 'text/html' } });
  t.equal(load.headers.get('location'), '/auth/login?next=%2Fchat%3Fa%3D1');

  for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example']) {
    const res = await fetch(`${url}/auth/oidc/start?next=${encodeURIComponent(next)}`, { redirect: 'manual' });
    t.equal(res.status, 400, `next=${next} is refused`);
    t.equal(((await res.json()) as { code: string }).code, 'GW_ERR_REQUEST_INVALID');
  }
  const login = await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: 'alice' }),
  });
  t.strictSame([login.status, await login.json()], [401, problem(errors.oidcLoginElsewhere, 'Unauthorized')]);
});

t.test('a provider that cannot be reached: 503, and the gateway keeps running', async (t) => {
  const front = await frontDoor(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, {
    redisUrl: testRedisUrl(),
    supervisor: fakeSupervisor(tenant.url).client,
    env: {
      AUTH_MODE: 'oidc',
      DEV_AUTH_ENABLED: 'false',
      PUBLIC_BASE_URL: front.url,
      // The discard port: nothing listens there, the connection is refused at once.
      OIDC_ISSUER: 'http://127.0.0.1:9',
      OIDC_CLIENT_ID: CLIENT.id,
    },
  });
  front.open(gw.port);
  const res = await fetch(`${front.url}/auth/oidc/start`, { redirect: 'manual' });
  t.strictSame([res.status, await res.json()], [503, problem(errors.oidcUnavailable, 'Service Unavailable')]);
  t.equal((await fetch(`${front.url}/health`)).status, 200);
});

t.test('a user disabled in Tenancy is refused after the provider said yes, as in every login mode', async (t) => {
  const { url, supervisor } = await oidcGateway(t);
  supervisor.users.set('alice', {
    userId: 'alice',
    email: 'alice@example.com',
    plan: 'free',
    onboardingCompleted: false,
    disabled: true,
  });
  const jar = cookieJar();
  const res = await jar.fetch(await throughProvider(jar, url, 'alice'));
  t.strictSame([res.status, await res.json()], [403, problem(errors.userDisabled, 'Forbidden')]);
  t.notOk(jar.cookies.has('tenancy_session'));
  t.equal(supervisor.calls.wake, 0, 'and nothing is woken');
});
