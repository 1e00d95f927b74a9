import type { Db } from './database.js';

/** A named admin identity as stored (never its token; only the token's hash, kept inside the store). */
export interface AdminIdentity {
  /** Lookup id: the 12 hex characters after `tnya_` in its token. */
  id: string;
  /** Unique forever (rows are never deleted), so `admin:<name>` in the audit log means one identity. */
  name: string;
  /** Epoch milliseconds. */
  createdAt: number;
  /** The audit actor that created it. */
  createdBy: string;
  /** Epoch milliseconds after which the token is refused; null: never expires. */
  expiresAt: number | null;
  /** Epoch milliseconds of the last request made with it (updated at most once a minute). */
  lastUsedAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
}

interface Row {
  id: string;
  name: string;
  token_hash: string;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
}

const toIdentity = (row: Row): AdminIdentity => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at,
  createdBy: row.created_by,
  expiresAt: row.expires_at,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
  revokedBy: row.revoked_by,
});

/** How stale last_used_at may get: one write a minute per identity at most, not one per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Operators' own admin tokens (see admins/admin-tokens.ts for the token and its hash). */
export function createAdminIdentities(db: Db, now: () => number) {
  const get = db.prepare<[string], Row>('SELECT * FROM admin_identities WHERE id = ?');
  const byName = db.prepare<[string], Row>('SELECT * FROM admin_identities WHERE name = ?');
  const list = db.prepare<[], Row>('SELECT * FROM admin_identities ORDER BY created_at, id');
  const insert = db.prepare(
    `INSERT INTO admin_identities (id, name, token_hash, created_at, created_by, expires_at)
     VALUES (@id, @name, @tokenHash, @now, @createdBy, @now + @ttlMs)`,
  );
  const revoke = db.prepare(
    'UPDATE admin_identities SET revoked_at = @now, revoked_by = @by WHERE id = @id AND revoked_at IS NULL',
  );
  const touch = db.prepare(
    'UPDATE admin_identities SET last_used_at = @now WHERE id = @id AND (last_used_at IS NULL OR last_used_at <= @stale)',
  );

  return {
    /** Records a new identity. Returns undefined when the name is taken (by a live or a revoked one). */
    create(input: {
      id: string;
      name: string;
      tokenHash: string;
      createdBy: string;
      /** Lifetime in milliseconds from now; null: never expires. */
      ttlMs: number | null;
    }): AdminIdentity | undefined {
      if (byName.get(input.name)) return undefined;
      insert.run({ ...input, now: now() });
      return toIdentity(get.get(input.id) as Row);
    },

    get(id: string): AdminIdentity | undefined {
      const row = get.get(id);
      return row ? toIdentity(row) : undefined;
    },

    /** The identity and its token hash, for checking a presented token. */
    credential(id: string): { identity: AdminIdentity; tokenHash: string } | undefined {
      const row = get.get(id);
      return row ? { identity: toIdentity(row), tokenHash: row.token_hash } : undefined;
    },

    /** Every identity, revoked ones included, oldest first. */
    list(): AdminIdentity[] {
      return list.all().map(toIdentity);
    },

    /** Revokes at once; revoking a revoked identity changes nothing. Undefined for an unknown id. */
    revoke(id: string, by: string): AdminIdentity | undefined {
      revoke.run({ id, by, now: now() });
      return this.get(id);
    },

    /** Notes a use of the identity's token. */
    touch(id: string): void {
      const at = now();
      touch.run({ id, now: at, stale: at - LAST_USED_RESOLUTION_MS });
    },
  };
}
