import { type Teardown, testRedisUrl } from '@tenancy/test-support';
import type { errors } from '../../src/errors.js';
import { echoTenant, fakeSupervisor, startGateway } from '../harness.js';
import { frontDoor } from './by-hand.js';
import { type AccountClaims, CLIENT, startOidcProvider } from './provider.js';

/** The provider's accounts in the OIDC tests. */
export const ACCOUNTS: Record<string, AccountClaims> = {
  alice: { email: 'alice@example.com', email_verified: true, groups: ['staff'] },
  carol: { email: 'carol@example.com', email_verified: false, groups: ['staff'] },
  eve: { email: 'eve@evil.test', email_verified: true, groups: ['staff'] },
  bob: { email: 'bob@example.com', email_verified: true, groups: ['guests'] },
};

/** The error body of a registered gateway error with its default message. */
export const problem = (kind: (typeof errors)[keyof typeof errors], error: string) => ({
  statusCode: kind.statusCode,
  code: kind.code,
  error,
  message: kind.defaultMessage,
});

/**
 * A gateway in AUTH_MODE=oidc behind a front door (its public URL), a real provider with the
 * gateway registered, a fake supervisor and an echoing tenant.
 */
export async function oidcGateway(t: Teardown, env: Record<string, string> = {}) {
  const front = await frontDoor(t);
  const idp = await startOidcProvider(t, { redirectUri: `${front.url}/auth/oidc/callback`, accounts: ACCOUNTS });
  const tenant = await echoTenant(t);
  const supervisor = fakeSupervisor(tenant.url);
  const gw = await startGateway(t, {
    redisUrl: testRedisUrl(),
    supervisor: supervisor.client,
    env: {
      AUTH_MODE: 'oidc',
      DEV_AUTH_ENABLED: 'false',
      PUBLIC_BASE_URL: front.url,
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: CLIENT.id,
      OIDC_CLIENT_SECRET: CLIENT.secret,
      OIDC_SCOPES: 'openid email groups',
      OIDC_JWKS_COOLDOWN: '0s',
      ...env,
    },
  });
  front.open(gw.port);
  return { url: front.url, idp, tenant, supervisor, gw };
}
