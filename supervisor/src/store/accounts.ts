import type { AuditRecord } from './audit.js';
import type { Db } from './database.js';

/** Everything the platform records about one user, as a data export hands it over. */
export interface AccountRecord {
  user: {
    userId: string;
    email: string | null;
    plan: string;
    onboardingCompleted: boolean;
    disabled: boolean;
    createdAt: number;
    lastLoginAt: number | null;
    deletionDueAt: number | null;
    /** When the inactivity policy warned the user (INACTIVE_TENANT_DAYS); null when not warned. */
    inactiveWarnedAt: number | null;
  };
  /**
   * The tenant's lifecycle record, without the engine's internals (container id, network,
   * subnet, endpoint): those describe the host, not the user.
   */
  tenant: Record<string, unknown> | null;
  /** Usage the tenant reported (its last summary). */
  usage: Record<string, unknown> | null;
  /** Every audit entry about the user, oldest first. */
  audit: AuditRecord[];
}

interface UserRow {
  user_id: string;
  email: string | null;
  plan: string;
  onboarding_completed: number;
  disabled: number;
  created_at: number;
  last_login_at: number | null;
  deletion_due_at: number | null;
  inactive_warned_at: number | null;
}

/**
 * The store's side of the users' data rights: what an export reads, the deletion schedule, and
 * the erasure of a user's record. Times are epoch milliseconds.
 */
export function createAccounts(db: Db) {
  const user = db.prepare<[string], UserRow>('SELECT * FROM users WHERE user_id = ?');
  const tenant = db.prepare<[string], Record<string, unknown>>(
    `SELECT tenant_hash AS tenantId, state, last_activity AS lastActivity, idle_deadline AS idleDeadline,
       paused_at AS pausedAt, stop_reason AS stopReason, stop_detail AS stopDetail, wake_count AS wakeCount,
       failure_count AS failureCount, last_wake_started_at AS lastWakeStartedAt,
       last_wake_ready_at AS lastWakeReadyAt, last_wake_ms AS lastWakeMs, created_at AS createdAt
     FROM tenants WHERE user_id = ?`,
  );
  const usage = db.prepare<[string], Record<string, unknown>>(
    `SELECT messages, replies, tokens_used AS tokensUsed, bytes_stored AS bytesStored,
       last_activity AS lastActivity, received_at AS receivedAt
     FROM tenant_summaries WHERE user_id = ?`,
  );
  const audit = db.prepare<[string], Omit<AuditRecord, 'detail'> & { detail: string | null }>(
    'SELECT id, at, actor, action, target, result, detail FROM audit WHERE target = ? ORDER BY id',
  );
  const schedule = db.prepare<{ userId: string; dueAt: number }, { due: number }>(
    `UPDATE users SET deletion_due_at = coalesce(deletion_due_at, @dueAt) WHERE user_id = @userId
     RETURNING deletion_due_at AS due`,
  );
  const cancel = db.prepare(
    'UPDATE users SET deletion_due_at = NULL WHERE user_id = ? AND deletion_due_at IS NOT NULL',
  );
  const due = db.prepare<{ now: number; limit: number }, { userId: string }>(
    `SELECT user_id AS userId FROM users WHERE deletion_due_at IS NOT NULL AND deletion_due_at <= @now
     ORDER BY deletion_due_at LIMIT @limit`,
  );
  const deleteTenant = db.prepare('DELETE FROM tenants WHERE user_id = ?');
  const deleteUser = db.prepare('DELETE FROM users WHERE user_id = ?');
  const pseudonymize = db.prepare(
    `UPDATE audit SET target = @pseudonym, detail = replace(detail, json_quote(@userId), json_quote(@pseudonym))
     WHERE target = @userId`,
  );
  const erase = db.transaction((userId: string, pseudonym: string) => {
    deleteTenant.run(userId);
    const removed = deleteUser.run(userId).changes === 1;
    const rewritten = pseudonymize.run({ userId, pseudonym }).changes;
    return { removed, auditEntries: rewritten };
  });

  return {
    /** The user's whole record, or undefined for an unknown user. */
    record(userId: string): AccountRecord | undefined {
      const row = user.get(userId);
      if (!row) return undefined;
      return {
        user: {
          userId: row.user_id,
          email: row.email,
          plan: row.plan,
          onboardingCompleted: row.onboarding_completed === 1,
          disabled: row.disabled === 1,
          createdAt: row.created_at,
          lastLoginAt: row.last_login_at,
          deletionDueAt: row.deletion_due_at,
          inactiveWarnedAt: row.inactive_warned_at,
        },
        tenant: tenant.get(userId) ?? null,
        usage: usage.get(userId) ?? null,
        audit: audit.all(userId).map((entry) => ({
          ...entry,
          detail: entry.detail ? (JSON.parse(entry.detail) as Record<string, unknown>) : null,
        })),
      };
    },

    /**
     * Schedules the user's erasure at `dueAt`; a deletion already scheduled keeps its earlier
     * time (asking twice does not postpone it). Returns the time in force, undefined for an
     * unknown user.
     */
    scheduleDeletion(userId: string, dueAt: number): number | undefined {
      return schedule.get({ userId, dueAt })?.due;
    },

    /** Cancels a scheduled deletion; false when none was scheduled (or the user is unknown). */
    cancelDeletion(userId: string): boolean {
      return cancel.run(userId).changes === 1;
    },

    /** Users whose deletion is due at `now`, earliest first. */
    dueForDeletion(now: number, limit: number): string[] {
      return due.all({ now, limit }).map((row) => row.userId);
    },

    /**
     * Erases the user's record in one transaction: the user and tenant rows (usage summaries go
     * with the tenant), and the user id in every audit entry about them, replaced by
     * `pseudonym` (which must start with `erased:`, the one update the audit log allows).
     */
    erase(userId: string, pseudonym: string): { removed: boolean; auditEntries: number } {
      if (!pseudonym.startsWith('erased:')) throw new RangeError('a pseudonym starts with erased:');
      return erase(userId, pseudonym);
    },
  };
}
