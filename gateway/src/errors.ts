import { defineError } from '@tenancy/shared';

/** Every error the gateway answers with; codes are stable and documented in docs/gateway.md. */
export const errors = {
  unauthenticated: defineError('GW_ERR_SESSION_MISSING', 401, 'sign in first'),
  sessionInvalid: defineError('GW_ERR_SESSION_INVALID', 401, 'the session is invalid or has ended'),
  loginForbidden: defineError('GW_ERR_LOGIN_FORBIDDEN', 401, 'not allowed to log in'),
  loginRateLimited: defineError(
    'GW_ERR_LOGIN_RATE_LIMITED',
    429,
    'too many failed sign-ins from this address: wait before trying again',
  ),
  // AUTH_MODE=oidc (see auth/oidc-*.ts). Each failure of the sign-in has its own code.
  oidcLoginElsewhere: defineError(
    'GW_ERR_OIDC_LOGIN_ELSEWHERE',
    401,
    'this site signs users in through its identity provider: open /auth/login',
  ),
  oidcTransactionInvalid: defineError(
    'GW_ERR_OIDC_TRANSACTION_INVALID',
    400,
    'this sign-in was not started in this browser, or took longer than 10 minutes: sign in again',
  ),
  oidcStateMismatch: defineError(
    'GW_ERR_OIDC_STATE_MISMATCH',
    400,
    'the answer from the identity provider does not belong to this sign-in: sign in again',
  ),
  oidcProviderRefused: defineError('GW_ERR_OIDC_PROVIDER_REFUSED', 401, 'the identity provider did not sign you in'),
  oidcCodeRejected: defineError(
    'GW_ERR_OIDC_CODE_REJECTED',
    401,
    'the identity provider refused the sign-in code (already used, expired, or not ours): sign in again',
  ),
  oidcIdTokenInvalid: defineError(
    'GW_ERR_OIDC_ID_TOKEN_INVALID',
    401,
    'the identity provider’s ID token failed validation (issuer, audience, expiry, nonce or signature)',
  ),
  oidcClaimMissing: defineError(
    'GW_ERR_OIDC_CLAIM_MISSING',
    401,
    'the identity provider did not say who you are in the expected claim',
  ),
  oidcEmailUnverified: defineError(
    'GW_ERR_OIDC_EMAIL_UNVERIFIED',
    403,
    'this site admits email domains, and the identity provider did not vouch for your email address',
  ),
  oidcDomainNotAllowed: defineError('GW_ERR_OIDC_DOMAIN_NOT_ALLOWED', 403, 'your email domain may not sign in here'),
  oidcGroupNotAllowed: defineError('GW_ERR_OIDC_GROUP_NOT_ALLOWED', 403, 'none of your groups may sign in here'),
  oidcUnavailable: defineError(
    'GW_ERR_OIDC_UNAVAILABLE',
    503,
    'the identity provider cannot be reached right now, retry shortly',
  ),
  // Personal API keys (see api-keys/): one code for every refusal of a presented key, so a
  // caller learns nothing about which keys exist; the reason is logged.
  apiKeyInvalid: defineError('GW_ERR_API_KEY_INVALID', 401, 'the API key is malformed, unknown, revoked or expired'),
  apiKeyRateLimited: defineError(
    'GW_ERR_API_KEY_RATE_LIMITED',
    429,
    'too many failed API key attempts from this address: wait before trying again',
  ),
  apiKeyNotFound: defineError('GW_ERR_API_KEY_NOT_FOUND', 404, 'you have no API key with this id'),
  apiKeyLimit: defineError(
    'GW_ERR_API_KEY_LIMIT',
    409,
    'you have as many API keys as allowed (50): revoke one you no longer use first',
  ),
  apiKeyRevocationPending: defineError(
    'GW_ERR_API_KEY_REVOCATION_PENDING',
    503,
    'the key is revoked, but not yet on every gateway: it may still be accepted for up to a minute',
  ),
  userDisabled: defineError('GW_ERR_USER_DISABLED', 403, 'this account is disabled'),
  deletionPending: defineError(
    'GW_ERR_ACCOUNT_DELETION_PENDING',
    403,
    'this account is scheduled for deletion; POST /auth/account/restore to keep it',
  ),
  deletionNotPending: defineError(
    'GW_ERR_ACCOUNT_DELETION_NOT_PENDING',
    409,
    'no deletion of this account is scheduled',
  ),
  userMismatch: defineError('GW_ERR_USER_MISMATCH', 403, 'user_id does not match the session'),
  crossSiteRefused: defineError(
    'GW_ERR_CROSS_SITE_REFUSED',
    403,
    'this request came from another site: sign-in, sign-out and wake requests are accepted only from this site',
  ),
  tenantForbidden: defineError(
    'GW_ERR_TENANT_FORBIDDEN',
    403,
    'this host belongs to another user: your own container is at your own host',
  ),
  codeInvalid: defineError(
    'GW_ERR_CODE_INVALID',
    403,
    'this sign-in link is used, expired or for another host: open your container from the platform again',
  ),
  tenantOnOwnOrigin: defineError(
    'GW_ERR_TENANT_ON_OWN_ORIGIN',
    421,
    'your container is served on its own origin: GET /auth/tenant on this origin leads there',
  ),
  exchangeUnavailable: defineError(
    'GW_ERR_EXCHANGE_UNAVAILABLE',
    503,
    'signing in to your container cannot be done right now, retry shortly',
  ),
  // The admin console (see pages/admin-sessions.ts).
  adminSessionMissing: defineError(
    'GW_ERR_ADMIN_SESSION_MISSING',
    401,
    'sign in to the admin console first (/_tenancy/admin/login)',
  ),
  adminTokenRefused: defineError('GW_ERR_ADMIN_TOKEN_REFUSED', 401, 'the supervisor did not accept this admin token'),
  adminSessionUnavailable: defineError(
    'GW_ERR_ADMIN_SESSION_UNAVAILABLE',
    503,
    'admin sessions cannot be checked right now, retry shortly',
  ),
  badRequest: defineError('GW_ERR_REQUEST_INVALID', 400, 'invalid request'),
  notFound: defineError('GW_ERR_ROUTE_NOT_FOUND', 404, 'no such route'),
  revocationUnavailable: defineError(
    'GW_ERR_REVOCATION_UNAVAILABLE',
    503,
    'sessions cannot be checked right now, retry shortly',
  ),
  revocationViewStale: defineError(
    'GW_ERR_REVOCATION_VIEW_STALE',
    503,
    'the revocation view is not current: every request asks Redis until it is reloaded',
  ),
  // Logout is never reported done unless Redis acknowledged the revocation (see auth-routes.ts).
  logoutNotRecorded: defineError(
    'GW_ERR_LOGOUT_NOT_RECORDED',
    503,
    'the sign-out could not be recorded: this browser is signed out, but the session stays valid until it expires; sign in and log out of all sessions once the service is back',
  ),
  supervisorUnavailable: defineError('GW_ERR_SUPERVISOR_UNAVAILABLE', 503, 'the platform is not reachable right now'),
  warming: defineError('GW_ERR_TENANT_WARMING', 503, 'your container is starting, retry shortly'),
  capacity: defineError('GW_ERR_CAPACITY_FULL', 429, 'no capacity to start your container, retry later'),
  wakeFailed: defineError('GW_ERR_TENANT_WAKE_FAILED', 502, 'your container could not be started'),
  // Both are 503 with Retry-After: the platform was busy; asking again later is the right move.
  wakeTimeout: defineError('GW_ERR_TENANT_WAKE_TIMEOUT', 503, 'your container did not start in time, retry shortly'),
  wakePending: defineError('GW_ERR_TENANT_WAKE_PENDING', 503, 'your container is still starting, retry shortly'),
  upstreamUnavailable: defineError('GW_ERR_UPSTREAM_UNAVAILABLE', 502, 'your container did not answer'),
  upstreamTimeout: defineError('GW_ERR_UPSTREAM_TIMEOUT', 504, 'your container took too long to answer'),
  internal: defineError('GW_ERR_INTERNAL', 500, 'internal error'),
} as const;
