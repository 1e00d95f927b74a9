import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { createOidcClient, type OidcClient } from '../auth/oidc-client.js';
import { identityFromClaims, listOf, type OidcPolicy } from '../auth/oidc-identity.js';
import { createOidcTransactions, type OidcTransactions } from '../auth/oidc-transaction.js';
import type { SignIn } from '../auth/sign-in.js';
import type { GatewayConfig } from '../config.js';
import { SAME_ORIGIN_PATH, safeNext } from './login-page.js';

export interface OidcRoutesOptions {
  client: OidcClient;
  transactions: OidcTransactions;
  policy: OidcPolicy;
  signIn: SignIn;
}

/**
 * Sign-in through an OpenID Connect provider (AUTH_MODE=oidc):
 *
 *   GET /auth/oidc/start?next=/path   keeps a new transaction in a cookie, 303 to the provider
 *   GET /auth/oidc/callback?code&state the provider sends the browser back here: the transaction
 *                                      is checked and cleared, the user signed in, 303 to `next`
 *
 * Both are GETs: they are top-level navigations, from the sign-in page and from the provider.
 * A cross-site page can start a sign-in (it ends as the browser's own user, at the provider's
 * say) but not finish one: the callback needs the transaction cookie of the browser that began.
 */
export const oidcRoutes: FastifyPluginAsyncTypebox<OidcRoutesOptions> = async (app, options) => {
  const { client, transactions, policy, signIn } = options;
  const { cookie } = transactions;

  app.get(
    '/auth/oidc/start',
    {
      schema: {
        querystring: Type.Object({
          next: Type.Optional(Type.String({ pattern: SAME_ORIGIN_PATH.source, maxLength: 2048 })),
        }),
      },
    },
    async (request, reply) => {
      const { url, transaction } = await client.begin(safeNext(request.query.next ?? '/'));
      reply.setCookie(cookie.name, await transactions.seal(transaction), cookie.options);
      return reply.header('cache-control', 'no-store').redirect(url.href, 303);
    },
  );

  app.get('/auth/oidc/callback', async (request, reply) => {
    // One attempt per transaction, whatever happens next.
    const sealed = request.cookies[cookie.name];
    reply.clearCookie(cookie.name, { path: cookie.options.path, secure: cookie.options.secure });
    const transaction = await transactions.open(sealed);
    const query = request.url.slice(request.url.indexOf('?') + 1 || request.url.length);
    const claims = await client.finish(query, transaction);
    const identity = identityFromClaims(claims, policy);
    await signIn(request, reply, identity);
    return reply.header('cache-control', 'no-store').redirect(safeNext(transaction.next), 303);
  });
};

/** The routes' parts as the configuration describes them (AUTH_MODE=oidc; config.ts checked the rest). */
export function oidcOptions(config: Readonly<GatewayConfig>, signIn: SignIn, now: () => number): OidcRoutesOptions {
  return {
    client: createOidcClient({
      issuer: config.OIDC_ISSUER ?? '',
      clientId: config.OIDC_CLIENT_ID ?? '',
      clientSecret: config.OIDC_CLIENT_SECRET,
      scopes: config.OIDC_SCOPES.split(/[\s,]+/)
        .filter(Boolean)
        .join(' '),
      redirectUri: new URL('/auth/oidc/callback', config.PUBLIC_BASE_URL).href,
      jwksCooldownMs: config.OIDC_JWKS_COOLDOWN,
    }),
    transactions: createOidcTransactions({
      secret: config.COOKIE_JWT_SECRET,
      publicBaseUrl: config.PUBLIC_BASE_URL,
      now,
    }),
    policy: {
      userClaim: config.OIDC_USER_CLAIM,
      allowedDomains: listOf(config.OIDC_ALLOWED_DOMAINS, true),
      allowedGroups: listOf(config.OIDC_ALLOWED_GROUPS),
      groupsClaim: config.OIDC_GROUPS_CLAIM,
    },
    signIn,
  };
}
