import type { Db } from './database.js';

/**
 * One account as the inactivity policy sees it. Times are epoch milliseconds.
 */
export interface AccountActivity {
  userId: string;
  /**
   * The user's last sign-in or use of one of their API keys, whichever is later; the account's
   * creation (its first sign-in) when it has neither. API key use is recorded to the minute
   * (api_keys.last_used_at), plenty for a policy counted in days.
   */
  lastSeenAt: number;
  /** When the user was warned that the account will be deleted; null when not warned. */
  warnedAt: number | null;
}

interface Row {
  userId: string;
  lastSeenAt: number;
  warnedAt: number | null;
}

// max() of SQLite with several arguments is a scalar, not the aggregate; a NULL argument would
// make it NULL, hence the coalesce.
const LAST_SEEN = `max(coalesce(u.last_login_at, u.created_at),
  coalesce((SELECT max(k.last_used_at) FROM api_keys k WHERE k.user_id = u.user_id), 0))`;

/**
 * The store's side of the inactivity policy (INACTIVE_TENANT_DAYS): who was last seen when, and
 * the warning mark. Only `users` rows are read: admin identities are not users, so the policy
 * never sees them.
 */
export function createInactivity(db: Db) {
  const one = db.prepare<[string], Row>(
    `SELECT u.user_id AS userId, ${LAST_SEEN} AS lastSeenAt, u.inactive_warned_at AS warnedAt
     FROM users u WHERE u.user_id = ?`,
  );
  // Disabled accounts and accounts already on their way out are the admin's or the user's
  // decision, not the policy's: left alone.
  const candidates = db.prepare<{ seenBefore: number }, Row>(
    `SELECT userId, lastSeenAt, warnedAt FROM (
       SELECT u.user_id AS userId, ${LAST_SEEN} AS lastSeenAt, u.inactive_warned_at AS warnedAt
       FROM users u WHERE u.disabled = 0 AND u.deletion_due_at IS NULL)
     WHERE warnedAt IS NOT NULL OR lastSeenAt <= @seenBefore
     ORDER BY lastSeenAt, userId`,
  );
  const warn = db.prepare(
    `UPDATE users SET inactive_warned_at = @at
     WHERE user_id = @userId AND inactive_warned_at IS NULL AND disabled = 0 AND deletion_due_at IS NULL`,
  );
  const clear = db.prepare(
    'UPDATE users SET inactive_warned_at = NULL WHERE user_id = ? AND inactive_warned_at IS NOT NULL',
  );

  return {
    /** The account's activity, or undefined for an unknown user. */
    of(userId: string): AccountActivity | undefined {
      return one.get(userId);
    },

    /**
     * The accounts the policy has something to decide about: those warned, and those last seen
     * at or before `seenBefore` (the warning threshold). Longest unseen first.
     */
    candidates(seenBefore: number): AccountActivity[] {
      return candidates.all({ seenBefore });
    },

    /** Marks the account warned at `at`; false when it was already warned (or is out of scope). */
    warn(userId: string, at: number): boolean {
      return warn.run({ userId, at }).changes === 1;
    },

    /** Removes the warning; false when there was none. */
    clearWarning(userId: string): boolean {
      return clear.run(userId).changes === 1;
    },
  };
}
