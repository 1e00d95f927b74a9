import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Teardown, testRedisUrl } from '@tenancy/test-support';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import t from 'tap';
import { loadGatewayConfig } from '../../src/config.js';
import { echoTenant, fakeSupervisor, startGateway } from '../harness.js';

const TEAM = 'team.example.com';
const AUD = 'tenancy-app-aud-0123';

/** A Cloudflare Access stand-in: serves a JWKS on 127.0.0.1 and counts how often it is fetched. */
async function accessKeys(t: Teardown) {
  const keys: JWK[] = [];
  const stats = { fetches: 0 };
  const server = createServer((_req, res) => {
    stats.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  /** A new RS256 signing key, published in the JWKS; returns a signer for assertions. */
  const addKey = async (kid: string, publish = true) => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    if (publish) keys.push({ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' });
    return (claims: { sub?: string; email?: string; aud?: string; iss?: string; exp?: string }) =>
      new SignJWT({ ...(claims.email ? { email: claims.email } : {}) })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setSubject(claims.sub ?? 'access-user-1')
        .setAudience(claims.aud ?? AUD)
        .setIssuer(claims.iss ?? `https://${TEAM}`)
        .setIssuedAt()
        .setExpirationTime(claims.exp ?? '5m')
        .sign(privateKey);
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cdn-cgi/access/certs`, stats, addKey };
}

t.test('access mode: the Cloudflare Access assertion names the user; the client chooses nothing', async (t) => {
  const access = await accessKeys(t);
  const signA = await access.addKey('key-a');
  const tenant = await echoTenant(t);
  const supervisor = fakeSupervisor(tenant.url);
  const gw = await startGateway(t, {
    redisUrl: testRedisUrl(),
    supervisor: supervisor.client,
    env: {
      AUTH_MODE: 'access',
      DEV_AUTH_ENABLED: 'false',
      ACCESS_TEAM_DOMAIN: TEAM,
      ACCESS_AUD: AUD,
      ACCESS_JWKS_URL: access.url,
      ACCESS_JWKS_COOLDOWN: '200ms',
    },
  });
  const login = (assertion: string | undefined, body: unknown = {}) =>
    fetch(`${gw.url}/auth/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(assertion === undefined ? {} : { 'cf-access-jwt-assertion': assertion }),
      },
      body: JSON.stringify(body),
    });

  const ok = await login(await signA({ sub: 'access-user-1', email: 'a@example.com' }), {
    user_id: 'someone-else',
    plan: 'enterprise',
  });
  t.equal(ok.status, 200);
  t.match(await ok.json(), { user_id: 'access-user-1', email: 'a@example.com', plan: 'free' });
  t.match(ok.headers.getSetCookie()[0] ?? '', /^tenancy_session=/);
  t.equal(supervisor.users.get('someone-else'), undefined, 'the body could not pick the user');

  const refused: [string, string | undefined][] = [
    ['no assertion', undefined],
    ['another audience', await signA({ aud: 'another-app' })],
    ['another team', await signA({ iss: 'https://evil.example.com' })],
    ['expired', await signA({ exp: '-1m' })],
    ['not a JWT', 'not.a.jwt'],
    ['a key Access never published', await (await access.addKey('rogue', false))({})],
  ];
  for (const [why, assertion] of refused) {
    const res = await login(assertion);
    t.equal(res.status, 401, why);
    t.equal(((await res.json()) as { code: string }).code, 'GW_ERR_LOGIN_FORBIDDEN', why);
  }

  // Access rotates its keys: a token naming a new key id makes the gateway fetch the keys again.
  const fetchesBefore = access.stats.fetches;
  const signB = await access.addKey('key-b');
  await new Promise((resolve) => setTimeout(resolve, 300)); // past the cooldown
  const rotated = await login(await signB({ sub: 'access-user-2' }));
  t.equal(rotated.status, 200, 'the new key is accepted');
  t.ok(access.stats.fetches > fetchesBefore, 'after fetching the keys again');
});

t.test('token mode: a backend with LOGIN_TOKEN signs users in and chooses plan and onboarding', async (t) => {
  const tenant = await echoTenant(t);
  const supervisor = fakeSupervisor(tenant.url);
  const loginToken = 'login-token-'.padEnd(40, 'x');
  const gw = await startGateway(t, {
    redisUrl: testRedisUrl(),
    supervisor: supervisor.client,
    env: { AUTH_MODE: 'token', DEV_AUTH_ENABLED: 'false', LOGIN_TOKEN: loginToken },
  });
  const body = { user_id: 'backend-user', email: 'b@example.com', plan: 'pro', onboarding_completed: true };
  const login = (authorization?: string) =>
    fetch(`${gw.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(body),
    });

  const ok = await login(`Bearer ${loginToken}`);
  t.equal(ok.status, 200);
  t.match(await ok.json(), { user_id: 'backend-user', plan: 'pro', onboarding_completed: true });
  for (const authorization of [undefined, 'Bearer wrong', `Basic ${loginToken}`, `Bearer ${loginToken}x`]) {
    const res = await login(authorization);
    t.equal(res.status, 401, String(authorization).slice(0, 12));
    t.equal(((await res.json()) as { code: string }).code, 'GW_ERR_LOGIN_FORBIDDEN');
  }
  t.equal(supervisor.calls.upsert, 1, 'only the authorised login reached the supervisor');
});

t.test(
  'token mode: a backend signs many users in from one address; failed checks are limited per client',
  async (t) => {
    const tenant = await echoTenant(t);
    const supervisor = fakeSupervisor(tenant.url);
    const loginToken = 'login-token-'.padEnd(40, 'y');
    const gw = await startGateway(t, {
      redisUrl: testRedisUrl(),
      supervisor: supervisor.client,
      env: { AUTH_MODE: 'token', DEV_AUTH_ENABLED: 'false', LOGIN_TOKEN: loginToken },
    });
    const login = (token: string, client: string, userId = 'someone') =>
      fetch(`${gw.url}/auth/login`, {
        method: 'POST',
        // X-Real-IP as nginx sets it: the client behind the edge.
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-real-ip': client },
        body: JSON.stringify({ user_id: userId }),
      });

    // The backend: 30 users signed in within a moment, far past nginx's 10 a minute for browsers.
    const backend: number[] = [];
    for (let i = 0; i < 30; i++) backend.push((await login(loginToken, '198.51.100.10', `user-${i}`)).status);
    t.strictSame(backend, Array(30).fill(200), 'a backend that knows the token is never held back');

    // Someone guessing: 10 failures, then refused (even with the right token) until the window ends.
    const guesses: number[] = [];
    for (let i = 0; i < 10; i++) guesses.push((await login(`guess-${i}`, '203.0.113.66')).status);
    t.strictSame(guesses, Array(10).fill(401));
    const refused = await login(loginToken, '203.0.113.66');
    t.equal(refused.status, 429);
    t.ok(Number(refused.headers.get('retry-after')) >= 1, 'with Retry-After');
    t.equal(((await refused.json()) as { code: string }).code, 'GW_ERR_LOGIN_RATE_LIMITED');
    t.equal((await login(loginToken, '198.51.100.10', 'late-user')).status, 200, 'other clients are not affected');
  },
);

t.test('dev mode refuses to start unless explicitly enabled', async (t) => {
  const base = { COOKIE_JWT_SECRET: 'c'.repeat(40), SUPERVISOR_TOKEN: 's'.repeat(40), AUTH_MODE: 'dev' };
  t.throws(() => loadGatewayConfig(base), /DEV_AUTH_ENABLED/);
  t.throws(() => loadGatewayConfig({ ...base, DEV_AUTH_ENABLED: 'false' }), /DEV_AUTH_ENABLED/);
  t.equal(loadGatewayConfig({ ...base, DEV_AUTH_ENABLED: 'true' }).AUTH_MODE, 'dev');
});
