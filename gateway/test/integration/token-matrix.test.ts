import { startRedisServer } from '@tenancy/test-support';
import { SignJWT, UnsecuredJWT } from 'jose';
import t from 'tap';
import { echoTenant, fakeSupervisor, startGateway } from '../harness.js';

const enc = (text: string) => new TextEncoder().encode(text);

t.test('bad, forged, expired and revoked session tokens get 401 and never reach a tenant', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const { client } = fakeSupervisor(tenant.url);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: client });
  const secret = enc(gw.config.COOKIE_JWT_SECRET);
  const iss = gw.config.PUBLIC_BASE_URL;
  const now = Math.floor(Date.now() / 1000);
  /** A session token like the gateway's, with any part changed or left out. */
  const token = (
    change: {
      header?: Record<string, unknown>;
      claims?: Record<string, unknown>;
      omit?: string[];
      key?: Uint8Array;
    } = {},
  ) => {
    const payload: Record<string, unknown> = {
      sid: 'sid-1',
      sat: Date.now(),
      email: null,
      plan: 'free',
      iss,
      aud: 'tenancy-gateway',
      sub: 'alice',
      jti: 'jti-1',
      iat: now,
      exp: now + 600,
      ...change.claims,
    };
    for (const name of change.omit ?? []) delete payload[name];
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'tenancy-session+jwt', ...change.header } as { alg: string })
      .sign(change.key ?? secret);
  };
  const good = () => token();

  const control = await good();
  const ok = await fetch(`${gw.url}/x`, { headers: { cookie: `tenancy_session=${control}` } });
  t.equal(ok.status, 200, 'control: a well-formed token works');
  const before = tenant.received.length;

  const aliceCookie = await gw.login('alice');
  const revokedCookie = await gw.login('alice');
  await fetch(`${gw.url}/auth/logout`, { method: 'POST', headers: { cookie: revokedCookie } });
  const revokedToken = revokedCookie.split('=')[1] ?? '';
  const [h, p, s] = revokedToken.split('.');
  const rows: [string, string][] = [
    [
      'alg none',
      new UnsecuredJWT({ sid: 's', sat: Date.now(), plan: 'free', sub: 'alice', jti: 'j', iss, aud: 'tenancy-gateway' })
        .setIssuedAt()
        .setExpirationTime('10m')
        .encode(),
    ],
    ['another algorithm (HS384)', await token({ header: { alg: 'HS384' } })],
    ['wrong signature', await token({ key: enc('another-secret-another-secret-123') })],
    ['expired', await token({ claims: { exp: now - 10 } })],
    ['not yet valid (nbf in the future)', await token({ claims: { nbf: now + 600 } })],
    ['wrong issuer', await token({ claims: { iss: 'https://evil.example' } })],
    ['wrong audience', await token({ claims: { aud: 'someone-else' } })],
    ['wrong type', await token({ header: { typ: 'JWT' } })],
    ['missing sub', await token({ omit: ['sub'] })],
    ['missing sid', await token({ omit: ['sid'] })],
    ['missing jti', await token({ omit: ['jti'] })],
    ['missing iat', await token({ omit: ['iat'] })],
    ['missing exp', await token({ omit: ['exp'] })],
    ['missing sat', await token({ omit: ['sat'] })],
    ['past the absolute cap', await token({ claims: { sat: Date.now() - 13 * 3600_000 } })],
    ['revoked', revokedToken],
    [
      'revoked, re-encoded header',
      `${Buffer.from(Buffer.from(h ?? '', 'base64url').toString()).toString('base64url')}.${p}.${s}`,
    ],
    ['revoked, signature tampered', `${h}.${p}.${(s ?? '').slice(0, -2)}AA`],
    ['garbage', 'not-a-jwt'],
    ['empty', ''],
  ];
  for (const [name, token] of rows) {
    const res = await fetch(`${gw.url}/x`, { headers: { cookie: `tenancy_session=${token}` } });
    t.equal(res.status, 401, name);
    const body = (await res.json()) as { code: string };
    t.match(body.code, /^GW_ERR_SESSION_(INVALID|MISSING)$/, name);
  }
  for (const [name, query] of [
    ['token in the query string', `?tenancy_session=${control}`],
    ['token as access_token', `?access_token=${control}`],
  ]) {
    t.equal((await fetch(`${gw.url}/x${query}`)).status, 401, `${name}: URLs are never credentials`);
  }
  t.equal(
    (await fetch(`${gw.url}/x`, { headers: { authorization: `Bearer ${control}` } })).status,
    401,
    'a bearer header is not a session',
  );
  t.equal(tenant.received.length, before, 'none of them reached the tenant');

  // The session names the user: alice's cookie can only ever reach alice's container.
  const res = await fetch(`${gw.url}/users/bob/data`, {
    headers: { cookie: aliceCookie, 'x-tenancy-user-id': 'bob', host: 'bob.example' },
  });
  const seen = (await res.json()) as { headers: Record<string, string> };
  t.equal(seen.headers['x-tenancy-user-id'], 'alice');
});
