import type { FastifyRequest } from 'fastify';
import { adminTokenId, adminTokenMatches } from '../admins/admin-tokens.js';
import { errors } from '../errors.js';
import type { Store } from '../store/index.js';
import { secretsMatch } from './bearer-auth.js';

/** Who made an admin request. */
export interface AdminActor {
  /** What the audit log records: `bootstrap` for ADMIN_TOKEN, `admin:<name>` for a named identity. */
  actor: string;
  /** The named identity's id; absent for the bootstrap token. */
  identityId?: string;
}

/** The actor the audit log names for ADMIN_TOKEN. */
export const BOOTSTRAP_ACTOR = 'bootstrap';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the admin API's auth hook; null on other routes and for a tenant's summary token. */
    admin: AdminActor | null;
  }
}

/**
 * Who a bearer token on the admin API belongs to: ADMIN_TOKEN (the bootstrap credential, kept
 * so a fresh install and a locked-out operator always have a way in), or a live, unexpired named
 * identity. Undefined for anything else; the caller answers 401 without saying which check
 * failed. The store is read per request (`store()`), so a revocation holds from the next request.
 */
export function createAdminAuth(options: {
  bootstrapToken: string;
  store: () => Store;
  now?: () => number;
}): (token: string) => AdminActor | undefined {
  const now = options.now ?? Date.now;
  return (token) => {
    if (secretsMatch(token, options.bootstrapToken)) return { actor: BOOTSTRAP_ACTOR };
    const id = adminTokenId(token);
    if (!id) return undefined;
    const store = options.store();
    const found = store.admins.credential(id);
    if (!found || !adminTokenMatches(token, found.tokenHash)) return undefined;
    const { identity } = found;
    if (identity.revokedAt !== null) return undefined;
    if (identity.expiresAt !== null && identity.expiresAt <= now()) return undefined;
    store.admins.touch(id);
    return { actor: `admin:${identity.name}`, identityId: id };
  };
}

/** The admin behind a request on an admin route (the auth hook has set it). */
export function adminOf(request: FastifyRequest): AdminActor {
  if (!request.admin) throw errors.unauthorized();
  return request.admin;
}
