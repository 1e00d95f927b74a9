import { deriveIdentity, objectNames, type TenantObjectNames } from '../runtime/names.js';

/**
 * Everything that identifies one tenant, derived from its user id once: the keyed hash, the
 * engine's object names and the tenant's secrets. A wake, a stop or a pause computes it at its
 * start and passes it along, rather than deriving it again at every step.
 */
export interface TenantRef {
  userId: string;
  /** Keyed hash of the user id: the tenant's name on the engine. */
  hash: string;
  names: TenantObjectNames;
  /** Value of the secret header the gateway adds and the tenant app checks. */
  secret: string;
  /** Token with which the tenant may push its own summary. */
  summaryToken: string;
}

/** Derives a tenant's identity (an HMAC per secret: cheap, but not free on a hot path). */
export function tenantRef(namespaceKey: string, instance: string, userId: string): TenantRef {
  const identity = deriveIdentity(namespaceKey, userId);
  return {
    userId,
    hash: identity.hash,
    names: objectNames(instance, identity.hash),
    secret: identity.secret,
    summaryToken: identity.summaryToken,
  };
}
