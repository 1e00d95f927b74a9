import type { FastifyRequest } from 'fastify';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { GatewayConfig } from '../config.js';
import { errors } from '../errors.js';
import { secretsMatch } from './secrets.js';

/** Who is logging in, as the login mode establishes it. */
export interface LoginIdentity {
  userId: string;
  email: string | null;
  /** Absent: keep the plan the supervisor has (or its default). */
  plan?: string;
  onboardingCompleted?: boolean;
}

/** The login body, in the seed's shape. */
export interface LoginBody {
  user_id?: string;
  email?: string;
  plan?: string;
  onboarding_completed?: boolean;
}

export type IdentifyLogin = (request: FastifyRequest<{ Body: LoginBody }>) => Promise<LoginIdentity>;

/**
 * Decides who may log in, by AUTH_MODE:
 * - `access`: the Cloudflare Access assertion names the user; the client chooses nothing.
 * - `token`: a trusted backend with LOGIN_TOKEN names the user, plan and onboarding.
 * - `dev`: the body is trusted as it is (refused unless DEV_AUTH_ENABLED).
 * - `oidc`: nobody signs in here; the browser goes through the provider (http/oidc-routes.ts).
 */
export function createLoginIdentifier(config: GatewayConfig): IdentifyLogin {
  switch (config.AUTH_MODE) {
    case 'dev':
      return async (request) => fromBody(request.body);
    case 'oidc':
      return async () => {
        throw errors.oidcLoginElsewhere();
      };
    case 'token':
      return async (request) => {
        const header = request.headers.authorization ?? '';
        const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
        if (!token || !config.LOGIN_TOKEN || !secretsMatch(token, config.LOGIN_TOKEN)) throw errors.loginForbidden();
        return fromBody(request.body);
      };
    case 'access': {
      const jwksUrl = config.ACCESS_JWKS_URL ?? `https://${config.ACCESS_TEAM_DOMAIN}/cdn-cgi/access/certs`;
      // createRemoteJWKSet caches the keys and fetches them again when a token names an unknown kid.
      const jwks = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: config.ACCESS_JWKS_COOLDOWN });
      const issuer = config.ACCESS_TEAM_DOMAIN ? `https://${config.ACCESS_TEAM_DOMAIN}` : undefined;
      return async (request) => {
        const assertion = request.headers['cf-access-jwt-assertion'];
        if (typeof assertion !== 'string') throw errors.loginForbidden('missing Cf-Access-Jwt-Assertion');
        try {
          const { payload } = await jwtVerify(assertion, jwks, {
            algorithms: ['RS256'],
            audience: config.ACCESS_AUD,
            ...(issuer ? { issuer } : {}),
            requiredClaims: ['sub', 'exp', 'iat'],
          });
          const email = typeof payload.email === 'string' ? payload.email : null;
          return { userId: String(payload.sub), email };
        } catch (err) {
          throw errors.loginForbidden('invalid Cloudflare Access assertion', { cause: err });
        }
      };
    }
  }
}

function fromBody(body: LoginBody | undefined): LoginIdentity {
  if (!body || typeof body.user_id !== 'string' || body.user_id.length === 0) {
    throw errors.badRequest('user_id is required');
  }
  return {
    userId: body.user_id,
    email: body.email ?? null,
    ...(body.plan === undefined ? {} : { plan: body.plan }),
    ...(body.onboarding_completed === undefined ? {} : { onboardingCompleted: body.onboarding_completed }),
  };
}
