import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, SignJWT } from 'jose';
import t from 'tap';
import { loadGatewayConfig } from '../../src/config.js';
import { createSessionTokens, keyIdOf, SESSION_TYP } from '../../src/session/tokens.js';

const OLD = 'o'.repeat(40);
const NEW = 'n'.repeat(40);
const base = { issuer: 'http://localhost:8080', ttlMs: 30 * 60_000, maxAgeMs: 12 * 3_600_000 };
const user = { userId: 'ada', email: null, plan: 'free' };

/** Why a token was refused, or 'ok'. */
async function verdict(tokens: ReturnType<typeof createSessionTokens>, token: string): Promise<string> {
  try {
    await tokens.verify(token);
    return 'ok';
  } catch (err) {
    return String((err as { details?: { reason?: string } }).details?.reason);
  }
}

/** A session token as the gateway signed them before keys had ids. */
function legacyToken(secret: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: 'legacy-sid', sat: Date.now(), email: null, plan: 'free' })
    .setProtectedHeader({ alg: 'HS256', typ: SESSION_TYP })
    .setIssuer(base.issuer)
    .setAudience('tenancy-gateway')
    .setSubject('ada')
    .setJti('legacy-jti')
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(new TextEncoder().encode(secret));
}

t.test(
  'rotation: old sessions still verify, new ones are signed with the new key, a removed key is refused',
  async (t) => {
    const before = createSessionTokens({ ...base, secret: OLD });
    const rotated = createSessionTokens({ ...base, secret: NEW, previousSecrets: [OLD] });
    const removed = createSessionTokens({ ...base, secret: NEW });

    const old = (await before.sign(user)).token;
    t.equal(decodeProtectedHeader(old).kid, keyIdOf(OLD), 'a token names the key that signed it');
    const fresh = (await rotated.sign(user)).token;
    t.equal(decodeProtectedHeader(fresh).kid, keyIdOf(NEW), 'after rotation, the new key signs');
    t.not(keyIdOf(OLD), keyIdOf(NEW));

    const rows: [string, ReturnType<typeof createSessionTokens>, string, string][] = [
      ['old token, before rotation', before, old, 'ok'],
      ['old token, after rotation (old key kept as previous)', rotated, old, 'ok'],
      ['new token, after rotation', rotated, fresh, 'ok'],
      ['new token on a replica not yet rotated', before, fresh, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
      ['old token once the old key is removed', removed, old, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
      ['new token once the old key is removed', removed, fresh, 'ok'],
      ['token from before key ids, old key kept', rotated, await legacyToken(OLD), 'ok'],
      [
        'token from before key ids, old key removed',
        removed,
        await legacyToken(OLD),
        'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      ],
    ];
    for (const [what, tokens, token, expected] of rows) t.equal(await verdict(tokens, token), expected, what);
  },
);

t.test('a token naming one key but signed with another is refused', async (t) => {
  const rotated = createSessionTokens({ ...base, secret: NEW, previousSecrets: [OLD] });
  const now = Math.floor(Date.now() / 1000);
  const forged = await new SignJWT({ sid: 's', sat: Date.now(), email: null, plan: 'free' })
    .setProtectedHeader({ alg: 'HS256', typ: SESSION_TYP, kid: keyIdOf(NEW) })
    .setIssuer(base.issuer)
    .setAudience('tenancy-gateway')
    .setSubject('ada')
    .setJti('j')
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(new TextEncoder().encode('x'.repeat(40)));
  t.equal(await verdict(rotated, forged), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
});

t.test(
  'COOKIE_JWT_PREVIOUS_SECRETS: comma- or newline-separated, each at least 32 characters, or a file',
  async (t) => {
    const required = {
      COOKIE_JWT_SECRET: NEW,
      SUPERVISOR_TOKEN: 's'.repeat(40),
      AUTH_MODE: 'dev',
      DEV_AUTH_ENABLED: 'true',
    };
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(40);
    const rows: [string, string, string[] | 'error'][] = [
      ['one', a, [a]],
      ['comma-separated', `${a},${b}`, [a, b]],
      ['with spaces and a trailing comma', ` ${a} , ${b},`, [a, b]],
      ['newline-separated', `${a}\n${b}\n`, [a, b]],
      ['one too short', `${a},short`, 'error'],
    ];
    for (const [what, value, expected] of rows) {
      let got: string[] | 'error';
      try {
        got = [
          ...(loadGatewayConfig({ ...required, COOKIE_JWT_PREVIOUS_SECRETS: value }).COOKIE_JWT_PREVIOUS_SECRETS ?? []),
        ];
      } catch {
        got = 'error';
      }
      t.strictSame(got, expected, what);
    }
    t.equal(loadGatewayConfig(required).COOKIE_JWT_PREVIOUS_SECRETS, undefined, 'optional');

    const dir = mkdtempSync(join(tmpdir(), 'gw-previous-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'previous');
    writeFileSync(file, `${a}\n${b}\n`);
    const config = loadGatewayConfig({ ...required, COOKIE_JWT_PREVIOUS_SECRETS_FILE: file });
    t.strictSame([...(config.COOKIE_JWT_PREVIOUS_SECRETS ?? [])], [a, b], 'from a file, one a line');
  },
);
