import type { TenantSummary } from '../lifecycle/ports.js';
import type { Db } from './database.js';

export type { TenantSummary };

/** Per-tenant aggregates from summary ingest; the latest report replaces the previous one. */
export function createSummaries(db: Db, now: () => number) {
  const upsert = db.prepare(
    `INSERT INTO tenant_summaries (user_id, messages, replies, tokens_used, bytes_stored, last_activity, received_at)
     VALUES (@userId, @messages, @replies, @tokensUsed, @bytesStored, @lastActivity, @receivedAt)
     ON CONFLICT (user_id) DO UPDATE SET messages = excluded.messages, replies = excluded.replies,
       tokens_used = excluded.tokens_used, bytes_stored = excluded.bytes_stored,
       last_activity = excluded.last_activity, received_at = excluded.received_at`,
  );
  const get = db.prepare<[string], TenantSummary & { receivedAt: number }>(
    `SELECT messages, replies, tokens_used AS tokensUsed, bytes_stored AS bytesStored,
            last_activity AS lastActivity, received_at AS receivedAt
     FROM tenant_summaries WHERE user_id = ?`,
  );
  const totals = db.prepare<
    [],
    { tenants: number; messages: number; replies: number; tokensUsed: number; bytesStored: number }
  >(
    `SELECT count(*) AS tenants, coalesce(sum(messages), 0) AS messages, coalesce(sum(replies), 0) AS replies,
            coalesce(sum(tokens_used), 0) AS tokensUsed, coalesce(sum(bytes_stored), 0) AS bytesStored
     FROM tenant_summaries`,
  );
  return {
    ingest(userId: string, summary: TenantSummary): void {
      upsert.run({ userId, ...summary, receivedAt: now() });
    },
    get: (userId: string) => get.get(userId),
    /** Sums over every tenant that reported, and how many did. */
    totals: () => totals.get() ?? { tenants: 0, messages: 0, replies: 0, tokensUsed: 0, bytesStored: 0 },
  };
}
