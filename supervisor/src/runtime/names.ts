import { createHmac } from 'node:crypto';

/**
 * Everything derived from a user id with the namespace key. Docker names and labels never hold
 * the raw user id (it may contain anything); they hold this keyed hash, which is stable across
 * restarts and cannot be reversed or predicted without the key.
 */
export interface TenantIdentity {
  /** 24 hex characters (96 bits) of HMAC-SHA256(key, "tenant:" + userId). */
  hash: string;
  /** Value of the secret header the gateway adds and the tenant app checks. */
  secret: string;
  /** Token with which the tenant may push its own summary to the supervisor. */
  summaryToken: string;
}

/** Docker object names of one tenant. */
export interface TenantObjectNames {
  container: string;
  network: string;
  filesVolume: string;
  historyVolume: string;
  /** Name of the tenant's disk (its filesystem image and mount point in TENANT_DISK_DIR). */
  disk: string;
}

export function deriveIdentity(namespaceKey: string, userId: string): TenantIdentity {
  const mac = (purpose: string) => createHmac('sha256', namespaceKey).update(`${purpose}:${userId}`);
  return {
    hash: mac('tenant').digest('hex').slice(0, 24),
    secret: mac('tenant-secret').digest('base64url'),
    summaryToken: mac('summary-token').digest('base64url'),
  };
}

export function objectNames(instance: string, hash: string): TenantObjectNames {
  const base = `${instance}-${hash}`;
  return {
    container: base,
    network: `${base}-net`,
    filesVolume: `${base}-files`,
    historyVolume: `${base}-history`,
    disk: base,
  };
}
