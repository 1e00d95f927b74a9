import { hkdfSync } from 'node:crypto';
import type { CookieSerializeOptions } from '@fastify/cookie';
import { EncryptJWT, jwtDecrypt } from 'jose';
import { errors } from '../errors.js';

/** One sign-in through the provider, from /auth/oidc/start to its callback. */
export interface OidcTransaction {
  /** Echoed by the provider in the callback; binds the answer to this browser's sign-in. */
  state: string;
  /** Must come back inside the ID token: binds the token to this sign-in. */
  nonce: string;
  /** PKCE: only the holder of this proves it asked for the code. */
  codeVerifier: string;
  /** Same-origin path to continue to afterwards. */
  next: string;
}

/** How long a sign-in may take at the provider, in seconds. */
export const TRANSACTION_TTL_SECONDS = 600;

/**
 * The transaction lives in a cookie, encrypted and authenticated (JWE, A256GCM), not in Redis:
 * it belongs to one browser and comes back only with it, to whichever replica gets the callback,
 * without a shared store, a Redis round trip or a key to expire. Encryption keeps the PKCE
 * verifier and nonce unreadable and any change detectable; the expiry inside the token ends it
 * after ten minutes whatever the browser keeps. Replays are stopped by the provider (a code is
 * redeemed once) and the cookie is cleared at the callback.
 *
 * The cookie: HttpOnly, host-only (no Domain), Path=/, Max-Age ten minutes, and over https
 * Secure with the `__Host-` prefix. SameSite=Lax, not Strict: the callback is a top-level
 * navigation coming from the provider's site, which Strict would send without it.
 */
export function createOidcTransactions(options: { secret: string; publicBaseUrl: string; now: () => number }) {
  // Its own key, derived from the session secret: a transaction can never pass for a session.
  const key = new Uint8Array(hkdfSync('sha256', options.secret, '', 'tenancy oidc transaction v1', 32));
  const secure = options.publicBaseUrl.startsWith('https://');
  const cookie = {
    name: secure ? '__Host-tenancy_oidc' : 'tenancy_oidc',
    options: {
      httpOnly: true,
      sameSite: 'lax',
      path: '/',
      secure,
      maxAge: TRANSACTION_TTL_SECONDS,
    } satisfies CookieSerializeOptions,
  };
  const seconds = () => Math.floor(options.now() / 1000);

  return {
    cookie,

    /** The sealed transaction, the cookie's value. */
    async seal(transaction: OidcTransaction): Promise<string> {
      return new EncryptJWT({ ...transaction })
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
        .setIssuedAt(seconds())
        .setExpirationTime(seconds() + TRANSACTION_TTL_SECONDS)
        .encrypt(key);
    },

    /** The transaction of a cookie value; throws GW_ERR_OIDC_TRANSACTION_INVALID when absent, altered or expired. */
    async open(value: string | undefined): Promise<OidcTransaction> {
      if (!value) throw errors.oidcTransactionInvalid();
      try {
        const { payload } = await jwtDecrypt(value, key, {
          currentDate: new Date(options.now()),
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
          requiredClaims: ['exp'],
        });
        const { state, nonce, codeVerifier, next } = payload;
        if (typeof state !== 'string' || typeof nonce !== 'string' || typeof codeVerifier !== 'string')
          throw new Error('incomplete transaction');
        return { state, nonce, codeVerifier, next: typeof next === 'string' ? next : '/' };
      } catch (err) {
        throw errors.oidcTransactionInvalid(undefined, { cause: err });
      }
    },
  };
}

export type OidcTransactions = ReturnType<typeof createOidcTransactions>;
