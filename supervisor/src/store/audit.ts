import type { AuditEntry } from '../lifecycle/ports.js';
import type { Db } from './database.js';

/** One line of the audit log. */
export interface AuditRecord {
  id: number;
  /** Epoch milliseconds. */
  at: number;
  actor: string;
  action: string;
  target: string | null;
  result: 'ok' | 'error' | 'denied';
  detail: Record<string, unknown> | null;
}

/** The append-only audit log: every lifecycle and admin action (triggers forbid changing it). */
export function createAudit(db: Db, now: () => number) {
  const insert = db.prepare(
    'INSERT INTO audit (at, actor, action, target, result, detail) VALUES (@at, @actor, @action, @target, @result, @detail)',
  );
  const list = db.prepare<
    { beforeId: number | null; target: string | null; action: string | null; limit: number },
    Omit<AuditRecord, 'detail'> & { detail: string | null }
  >(
    `SELECT id, at, actor, action, target, result, detail FROM audit
     WHERE (@beforeId IS NULL OR id < @beforeId) AND (@target IS NULL OR target = @target)
       AND (@action IS NULL OR action = @action)
     ORDER BY id DESC LIMIT @limit`,
  );
  return {
    append(entry: AuditEntry): void {
      insert.run({
        at: now(),
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        result: entry.result,
        detail: entry.detail ? JSON.stringify(entry.detail) : null,
      });
    },
    /** Newest first; `beforeId` pages back. */
    list(filter: { limit: number; beforeId?: number; target?: string; action?: string }): AuditRecord[] {
      return list
        .all({
          beforeId: filter.beforeId ?? null,
          target: filter.target ?? null,
          action: filter.action ?? null,
          limit: filter.limit,
        })
        .map((row) => ({ ...row, detail: row.detail ? (JSON.parse(row.detail) as Record<string, unknown>) : null }));
    },
  };
}
