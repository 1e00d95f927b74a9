import { createHmac, randomBytes } from 'node:crypto';
import { decodeProtectedHeader, type JWTVerifyResult, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { errors } from '../errors.js';

/** The JWT `typ` of a session token: a token of any other kind is refused. */
export const SESSION_TYP = 'tenancy-session+jwt';
/**
 * The JWT `typ` of a tenant-origin token (subdomain mode): the same session carried to one
 * tenant host. Never accepted as a session token, nor the other way round.
 */
export const TENANT_SESSION_TYP = 'tenancy-tenant-session+jwt';
const ALGORITHM = 'HS256';
const AUDIENCE = 'tenancy-gateway';

/** What a verified session says. Times in epoch milliseconds, except the JWT's own seconds. */
export interface Session {
  /** The user id. */
  userId: string;
  /** Session id: shared by every token of one login, the unit of logout. */
  sid: string;
  /** Token id: unique per token. */
  jti: string;
  email: string | null;
  plan: string;
  /** When the user logged in (ms): the absolute cap counts from here. */
  authTime: number;
  /** When this token expires (ms). */
  expiresAt: number;
  /** When this token was issued (ms). */
  issuedAt: number;
  /** Tenant-origin tokens only: the label of the one tenant host the token is valid on. */
  label?: string;
  /**
   * Requests made with a personal API key only: the key's lookup id. Such a "session" is the
   * key's verification (api-keys/api-key-auth.ts), never a token, and never refreshed.
   */
  keyId?: string;
}

export interface SessionTokensOptions {
  /** The current key: signs every new or refreshed token. */
  secret: string;
  /**
   * Former keys: tokens they signed still verify until they end, and are re-signed with
   * `secret` when refreshed. Rotation without logging anyone out (docs/operations.md).
   */
  previousSecrets?: readonly string[];
  /** `iss` claim: the public origin. */
  issuer: string;
  /** Sliding window (ms). */
  ttlMs: number;
  /** Absolute cap from login (ms). */
  maxAgeMs: number;
  /** `platform` (default): the session cookie; `tenant`: a tenant-origin token, bound to a label. */
  kind?: 'platform' | 'tenant';
  now?: () => number;
}

export interface SessionTokens {
  /** Signs a token for a new login, or a refreshed token of an existing session. */
  sign(input: {
    userId: string;
    email: string | null;
    plan: string;
    sid?: string;
    authTime?: number;
    label?: string;
  }): Promise<{
    token: string;
    session: Session;
  }>;
  /** Verifies signature, algorithm, type, issuer, audience, required claims, expiry and the absolute cap. */
  verify(token: string): Promise<Session>;
  /** True when the token is in the second half of its window and should be replaced. */
  shouldRefresh(session: Session): boolean;
}

/** A signing key and its id. */
interface SigningKey {
  kid: string;
  key: Uint8Array;
}

/**
 * The key id of a secret: 12 base64url characters of an HMAC under the secret itself, so it is
 * stable (every replica with the same secret names it the same, no configuration), different
 * for each secret, and says nothing usable about the secret.
 */
export function keyIdOf(secret: string): string {
  return createHmac('sha256', secret).update('tenancy-session-kid').digest('base64url').slice(0, 12);
}

const signingKey = (secret: string): SigningKey => ({ kid: keyIdOf(secret), key: new TextEncoder().encode(secret) });

export function createSessionTokens(options: SessionTokensOptions): SessionTokens {
  const current = signingKey(options.secret);
  const keys = [current, ...(options.previousSecrets ?? []).filter((s) => s !== options.secret).map(signingKey)];
  const now = options.now ?? Date.now;
  const tenant = options.kind === 'tenant';
  const typ = tenant ? TENANT_SESSION_TYP : SESSION_TYP;

  /**
   * Verifies with the key the token names (`kid`). A token without one was signed before keys
   * had ids: each key is tried in turn. A `kid` no key has is refused without trying any.
   */
  async function verifyWithKeys(token: string): Promise<JWTVerifyResult> {
    const { kid } = decodeProtectedHeader(token);
    const candidates = kid === undefined ? keys : keys.filter((k) => k.kid === kid);
    if (candidates.length === 0) throw new joseErrors.JWSSignatureVerificationFailed('no key has this key id');
    for (const [index, candidate] of candidates.entries()) {
      try {
        return await jwtVerify(token, candidate.key, {
          algorithms: [ALGORITHM],
          issuer: options.issuer,
          audience: AUDIENCE,
          typ,
          requiredClaims: tenant
            ? ['sub', 'sid', 'jti', 'iat', 'exp', 'sat', 'lbl']
            : ['sub', 'sid', 'jti', 'iat', 'exp', 'sat'],
          currentDate: new Date(now()),
        });
      } catch (err) {
        const last = index === candidates.length - 1;
        if (last || !(err instanceof joseErrors.JWSSignatureVerificationFailed)) throw err;
      }
    }
    throw new joseErrors.JWSSignatureVerificationFailed();
  }

  return {
    async sign(input) {
      const issuedAt = now();
      const authTime = input.authTime ?? issuedAt;
      const sid = input.sid ?? randomBytes(16).toString('base64url');
      const jti = randomBytes(16).toString('base64url');
      const expiresAt = Math.min(issuedAt + options.ttlMs, authTime + options.maxAgeMs);
      if (tenant && !input.label) throw new Error('a tenant-origin token needs a label');
      const claims = { sid, sat: authTime, email: input.email, plan: input.plan };
      const token = await new SignJWT(tenant ? { ...claims, lbl: input.label } : claims)
        .setProtectedHeader({ alg: ALGORITHM, typ, kid: current.kid })
        .setIssuer(options.issuer)
        .setAudience(AUDIENCE)
        .setSubject(input.userId)
        .setJti(jti)
        .setIssuedAt(Math.floor(issuedAt / 1000))
        .setExpirationTime(Math.floor(expiresAt / 1000))
        .sign(current.key);
      return {
        token,
        session: {
          userId: input.userId,
          sid,
          jti,
          email: input.email,
          plan: input.plan,
          authTime,
          // As verify() will read it back: the JWT counts in whole seconds.
          expiresAt: Math.floor(expiresAt / 1000) * 1000,
          issuedAt,
          ...(tenant ? { label: input.label } : {}),
        },
      };
    },

    async verify(token) {
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await verifyWithKeys(token));
      } catch (err) {
        const reason = err instanceof joseErrors.JOSEError ? err.code : 'ERR_MALFORMED';
        throw errors.sessionInvalid(undefined, { cause: err, details: { reason } });
      }
      const { sub, sid, jti, iat, exp, sat, email, plan, lbl } = payload;
      if (
        typeof sub !== 'string' ||
        typeof sid !== 'string' ||
        typeof jti !== 'string' ||
        typeof iat !== 'number' ||
        typeof exp !== 'number' ||
        typeof sat !== 'number' ||
        typeof plan !== 'string' ||
        (email !== null && typeof email !== 'string') ||
        (tenant && typeof lbl !== 'string')
      ) {
        throw errors.sessionInvalid(undefined, { details: { reason: 'ERR_CLAIMS' } });
      }
      if (sat + options.maxAgeMs <= now())
        throw errors.sessionInvalid(undefined, { details: { reason: 'ERR_MAX_AGE' } });
      return {
        userId: sub,
        sid,
        jti,
        email: email ?? null,
        plan,
        authTime: sat,
        expiresAt: exp * 1000,
        issuedAt: iat * 1000,
        ...(tenant ? { label: lbl as string } : {}),
      };
    },

    shouldRefresh(session) {
      const cap = session.authTime + options.maxAgeMs;
      // Nothing to gain once the next window would end at the cap anyway.
      if (session.expiresAt >= cap) return false;
      return session.expiresAt - now() < options.ttlMs / 2;
    },
  };
}
