import { defineError } from '@tenancy/shared';

/**
 * Every error the supervisor answers with. Codes are stable: clients (the gateway, the admin
 * CLI) match on them. The HTTP edge turns these into `{ statusCode, code, error, message }`.
 */
export const errors = {
  unauthorized: defineError('SUP_ERR_AUTH_INVALID', 401, 'missing or invalid bearer token'),
  badRequest: defineError('SUP_ERR_REQUEST_INVALID', 400, 'invalid request'),
  notFound: defineError('SUP_ERR_ROUTE_NOT_FOUND', 404, 'no such route'),
  adminForbidden: defineError(
    'SUP_ERR_ADMIN_FORBIDDEN',
    403,
    'only the bootstrap ADMIN_TOKEN may create or revoke admin identities',
  ),
  adminNotFound: defineError('SUP_ERR_ADMIN_NOT_FOUND', 404, 'unknown admin identity'),
  adminNameTaken: defineError('SUP_ERR_ADMIN_NAME_TAKEN', 409, 'that admin identity name is taken'),
  apiKeyNotFound: defineError('SUP_ERR_API_KEY_NOT_FOUND', 404, 'unknown API key'),
  apiKeyInvalid: defineError('SUP_ERR_API_KEY_INVALID', 401, 'the API key is unknown, revoked or expired'),
  apiKeyLimit: defineError('SUP_ERR_API_KEY_LIMIT', 409, 'this user has as many live API keys as allowed (50)'),
  userNotFound: defineError('SUP_ERR_USER_NOT_FOUND', 404, 'unknown user'),
  tenantNotFound: defineError('SUP_ERR_TENANT_NOT_FOUND', 404, 'unknown tenant'),
  userDisabled: defineError('SUP_ERR_USER_DISABLED', 403, 'this user is disabled'),
  deletionPending: defineError(
    'SUP_ERR_ACCOUNT_DELETION_PENDING',
    403,
    'this account is scheduled for deletion; restore it to use it again',
  ),
  deletionNotPending: defineError(
    'SUP_ERR_ACCOUNT_DELETION_NOT_PENDING',
    409,
    'no deletion of this account is scheduled',
  ),
  exportFailed: defineError('SUP_ERR_EXPORT_FAILED', 502, 'the tenant volumes could not be read for the export'),
  confirmMismatch: defineError('SUP_ERR_CONFIRM_MISMATCH', 400, 'confirm must repeat the user id'),
  capacityFull: defineError('SUP_ERR_CAPACITY_FULL', 429, 'no capacity to start another tenant, retry later'),
  // Both are 503 with Retry-After: the host was busy, and asking again later is the right move.
  wakeTimeout: defineError('SUP_ERR_WAKE_TIMEOUT', 503, 'the tenant did not become ready in time'),
  wakePending: defineError('SUP_ERR_WAKE_PENDING', 503, 'the tenant is still waking; retry after the given time'),
  wakeFailed: defineError('SUP_ERR_WAKE_FAILED', 502, 'the tenant failed to start'),
  wakeCancelled: defineError('SUP_ERR_WAKE_CANCELLED', 409, 'the wake was cancelled by a stop'),
  subnetConflict: defineError(
    'SUP_ERR_SUBNET_CONFLICT',
    503,
    'the engine refused the tenant subnet: it overlaps a network',
  ),
  subnetPoolExhausted: defineError('SUP_ERR_SUBNET_POOL_EXHAUSTED', 503, 'no free subnet left in TENANT_SUBNET_POOL'),
  egressUnavailable: defineError(
    'SUP_ERR_EGRESS_UNAVAILABLE',
    503,
    'egress cannot be filtered here, so tenants with egress are not started',
  ),
  networkFilterUnavailable: defineError(
    'SUP_ERR_NETWORK_FILTER_UNAVAILABLE',
    503,
    'tenants cannot be kept off the host here, so they are not started',
  ),
  // Swarm: a tenant's volumes live on one node; while it is down the tenant is not moved (it
  // would start elsewhere with empty volumes) but waits for its node.
  nodeUnavailable: defineError(
    'SUP_ERR_NODE_UNAVAILABLE',
    503,
    'the node that holds the tenant volumes is down or drained; the tenant wakes again once it is back',
  ),
  runtimeUnavailable: defineError('SUP_ERR_RUNTIME_UNAVAILABLE', 503, 'the container engine is not reachable'),
  diskQuotaUnavailable: defineError(
    'SUP_ERR_DISK_QUOTA_UNAVAILABLE',
    500,
    'this host cannot enforce tenant disk quotas (see docs/operations.md, "Disk quotas")',
  ),
  storeTooNew: defineError('SUP_ERR_STORE_TOO_NEW', 500, 'the database was written by a newer supervisor'),
  // tenancy-admin restore, offline: never an HTTP answer, but a code scripts can match all the same.
  restoreRefused: defineError('SUP_ERR_RESTORE_REFUSED', 409, 'the backup cannot be restored'),
  internal: defineError('SUP_ERR_INTERNAL', 500, 'internal error'),
} as const;
