import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { errors } from '../errors.js';
import { isLoopbackOrigin } from './loopback-origin.js';
import type { OidcTransaction } from './oidc-transaction.js';

/** The gateway as a client of one OpenID Connect provider. */
export interface OidcClientOptions {
  issuer: string;
  clientId: string;
  /** Unset: a public client, proven by PKCE alone. */
  clientSecret?: string | undefined;
  /** Space-separated, including `openid`. */
  scopes: string;
  /** `<PUBLIC_BASE_URL>/auth/oidc/callback`, as registered at the provider. */
  redirectUri: string;
  /** Shortest time between two fetches of the provider's keys, in milliseconds. */
  jwksCooldownMs: number;
}

// The provider's ID token signatures this gateway accepts: asymmetric only, never `none` or HMAC.
const SIGNATURE_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

interface Discovered {
  config: client.Configuration;
  jwks: ReturnType<typeof createRemoteJWKSet>;
}

/**
 * Authorization code flow with PKCE, `state` and `nonce` (openid-client), the ID token's
 * signature checked against the provider's JWKS (jose), and the claims read from the ID token and
 * the UserInfo endpoint. The provider's tokens live only inside {@link OidcClient.finish}: they are
 * neither stored nor passed on.
 *
 * Discovery happens at the first sign-in, not at start, and a failed one is tried again at the
 * next: a provider that is down makes sign-ins fail (503 GW_ERR_OIDC_UNAVAILABLE), not the gateway.
 */
export function createOidcClient(options: OidcClientOptions) {
  let discovered: Promise<Discovered> | undefined;
  const discover = (): Promise<Discovered> => {
    discovered ??= (async () => {
      const config = await client.discovery(
        new URL(options.issuer),
        options.clientId,
        { redirect_uris: [options.redirectUri], response_types: ['code'] },
        // HTTP Basic: the client authentication every OAuth 2.0 provider must support.
        options.clientSecret ? client.ClientSecretBasic(options.clientSecret) : client.None(),
        // http is allowed by the configuration for loopback issuers only (config.ts).
        { execute: isLoopbackOrigin(options.issuer) ? [client.allowInsecureRequests] : [], timeout: 10 },
      );
      const jwksUri = config.serverMetadata().jwks_uri;
      if (!jwksUri) throw new Error('the provider publishes no jwks_uri');
      // Fetched again when an ID token names a key it does not know (the provider rotated its
      // keys), at most once per cooldown.
      const jwks = createRemoteJWKSet(new URL(jwksUri), {
        cooldownDuration: options.jwksCooldownMs,
        timeoutDuration: 5_000,
      });
      return { config, jwks };
    })().catch((err: unknown) => {
      discovered = undefined;
      throw errors.oidcUnavailable(undefined, { cause: err });
    });
    return discovered;
  };

  return {
    /** Where to send the browser, and the transaction to keep until it comes back. */
    async begin(next: string): Promise<{ url: URL; transaction: OidcTransaction }> {
      const { config } = await discover();
      const transaction = {
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        next,
      };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: options.redirectUri,
        scope: options.scopes,
        state: transaction.state,
        nonce: transaction.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(transaction.codeVerifier),
        code_challenge_method: 'S256',
      });
      return { url, transaction };
    },

    /**
     * Checks the provider's answer (`callbackQuery`, the raw query string of the callback) against
     * the transaction, redeems the code, validates the ID token and returns the user's claims.
     */
    async finish(callbackQuery: string, transaction: OidcTransaction): Promise<Record<string, unknown>> {
      const { config, jwks } = await discover();
      const callback = new URL(options.redirectUri);
      callback.search = callbackQuery;
      // State first: an answer that is not for this sign-in must not spend a code.
      if (callback.searchParams.get('state') !== transaction.state) throw errors.oidcStateMismatch();
      const refused = callback.searchParams.get('error');
      if (refused) {
        const description = callback.searchParams.get('error_description');
        throw errors.oidcProviderRefused(
          `the identity provider did not sign you in: ${refused}${description ? ` (${description.slice(0, 200)})` : ''}`,
        );
      }

      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        // Checks issuer, audience, expiry, issued-at, nonce and azp of the ID token; its
        // signature is checked below (openid-client leaves it to TLS by default).
        tokens = await client.authorizationCodeGrant(config, callback, {
          pkceCodeVerifier: transaction.codeVerifier,
          expectedState: transaction.state,
          expectedNonce: transaction.nonce,
          idTokenExpected: true,
        });
      } catch (err) {
        throw classify(err);
      }
      const idToken = tokens.id_token;
      const claims = tokens.claims();
      if (!idToken || !claims) throw errors.oidcIdTokenInvalid('the identity provider sent no ID token');

      let verified: JWTPayload;
      try {
        ({ payload: verified } = await jwtVerify(idToken, jwks, {
          issuer: config.serverMetadata().issuer,
          audience: options.clientId,
          algorithms: SIGNATURE_ALGORITHMS,
          requiredClaims: ['sub', 'exp', 'iat'],
        }));
      } catch (err) {
        throw classify(err);
      }

      // Most providers put email and groups in UserInfo rather than the ID token. The subject
      // must be the ID token's; the ID token's own claims win where both speak.
      let userinfo: Record<string, unknown> = {};
      if (config.serverMetadata().userinfo_endpoint && tokens.access_token) {
        try {
          userinfo = { ...(await client.fetchUserInfo(config, tokens.access_token, String(verified.sub))) };
        } catch (err) {
          throw classify(err);
        }
      }
      return { ...userinfo, ...verified };
    },
  };
}

export type OidcClient = ReturnType<typeof createOidcClient>;

/** The registered error for what openid-client or jose threw. */
function classify(err: unknown): Error {
  // A provider that cannot be reached, or answers 5xx, is not the user's fault.
  const network =
    (err instanceof TypeError && err.message === 'fetch failed') ||
    (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError')) ||
    err instanceof joseErrors.JWKSTimeout;
  if (network) return errors.oidcUnavailable(undefined, { cause: err });
  if (err instanceof client.ResponseBodyError) {
    if (err.status >= 500) return errors.oidcUnavailable(undefined, { cause: err });
    // invalid_grant: the code was used already, expired, or was issued for another client.
    return errors.oidcCodeRejected(undefined, { cause: err });
  }
  if (err instanceof client.AuthorizationResponseError) return errors.oidcProviderRefused(undefined, { cause: err });
  if (err instanceof client.WWWAuthenticateChallengeError)
    return errors.oidcCodeRejected('the identity provider refused the access token for UserInfo', { cause: err });
  if (err instanceof client.ClientError) {
    switch (err.code) {
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
      case 'OAUTH_RESPONSE_IS_NOT_JSON':
        return errors.oidcUnavailable(undefined, { cause: err });
      // The `iss` or `state` of the answer, compared by openid-client.
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
        return errors.oidcStateMismatch(undefined, { cause: err });
      default:
        return errors.oidcIdTokenInvalid(undefined, { cause: err });
    }
  }
  if (err instanceof joseErrors.JOSEError) return errors.oidcIdTokenInvalid(undefined, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}
