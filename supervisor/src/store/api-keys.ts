import type { ApiKeyRecord, CreateApiKeyBody } from '@tenancy/shared';
import type { Db } from './database.js';

interface Row {
  id: string;
  user_id: string;
  name: string;
  key_hash: string;
  scope: 'tenant';
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
}

const toRecord = (row: Row): ApiKeyRecord => ({
  id: row.id,
  userId: row.user_id,
  name: row.name,
  scope: row.scope,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
  revokedBy: row.revoked_by,
});

/** How stale last_used_at may get: one write a minute per key at most, not one per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Users' personal API keys (see gateway/src/api-keys/key-format.ts for the key and its hash). */
export function createApiKeys(db: Db, now: () => number) {
  const get = db.prepare<[string], Row>('SELECT * FROM api_keys WHERE id = ?');
  const byUser = db.prepare<[string], Row>('SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, id');
  const all = db.prepare<[], Row>('SELECT * FROM api_keys ORDER BY created_at, id');
  const live = db.prepare<{ userId: string; now: number }, { n: number }>(
    `SELECT count(*) AS n FROM api_keys
     WHERE user_id = @userId AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)`,
  );
  const insert = db.prepare(
    `INSERT INTO api_keys (id, user_id, name, key_hash, scope, created_at, expires_at)
     VALUES (@id, @userId, @name, @keyHash, @scope, @now, @expiresAt)`,
  );
  const revoke = db.prepare(
    'UPDATE api_keys SET revoked_at = @now, revoked_by = @by WHERE id = @id AND revoked_at IS NULL',
  );
  const firstUse = db.prepare('UPDATE api_keys SET last_used_at = @now WHERE id = @id AND last_used_at IS NULL');
  const touch = db.prepare('UPDATE api_keys SET last_used_at = @now WHERE id = @id AND last_used_at <= @stale');

  return {
    /** Records a new key for `userId`. */
    create(userId: string, input: CreateApiKeyBody): ApiKeyRecord {
      insert.run({ ...input, userId, now: now() });
      return toRecord(get.get(input.id) as Row);
    },

    /** Live (neither revoked nor expired) keys of a user. */
    liveCount(userId: string): number {
      return live.get({ userId, now: now() })?.n ?? 0;
    },

    get(id: string): ApiKeyRecord | undefined {
      const row = get.get(id);
      return row ? toRecord(row) : undefined;
    },

    /** The key and its stored hash, for checking a presented key. */
    credential(id: string): { key: ApiKeyRecord; keyHash: string } | undefined {
      const row = get.get(id);
      return row ? { key: toRecord(row), keyHash: row.key_hash } : undefined;
    },

    /** A user's keys, or everyone's, revoked ones included, oldest first. */
    list(userId?: string): ApiKeyRecord[] {
      return (userId === undefined ? all.all() : byUser.all(userId)).map(toRecord);
    },

    /** Revokes at once; revoking a revoked key changes nothing. */
    revoke(id: string, by: string): ApiKeyRecord | undefined {
      revoke.run({ id, by, now: now() });
      return this.get(id);
    },

    /** Notes a use of the key. Returns true for its first use ever. */
    touch(id: string): boolean {
      const at = now();
      if (firstUse.run({ id, now: at }).changes === 1) return true;
      touch.run({ id, now: at, stale: at - LAST_USED_RESOLUTION_MS });
      return false;
    },
  };
}
