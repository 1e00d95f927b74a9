import type { TenantState } from '@tenancy/shared';
import type { Statement } from 'better-sqlite3';
import type { TenantRecord } from '../lifecycle/ports.js';
import type { Db } from './database.js';

/** Column of each TenantRecord field: the one place the two spellings meet. */
const COLUMNS = {
  userId: 'user_id',
  tenantHash: 'tenant_hash',
  state: 'state',
  phase: 'phase',
  containerId: 'container_id',
  networkName: 'network_name',
  subnet: 'subnet',
  endpointUrl: 'endpoint_url',
  lastActivity: 'last_activity',
  idleDeadline: 'idle_deadline',
  pausedAt: 'paused_at',
  stopReason: 'stop_reason',
  stopDetail: 'stop_detail',
  wakeCount: 'wake_count',
  failureCount: 'failure_count',
  lastWakeStartedAt: 'last_wake_started_at',
  lastWakeReadyAt: 'last_wake_ready_at',
  lastWakeMs: 'last_wake_ms',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
} as const satisfies Record<keyof TenantRecord, string>;

type Field = keyof typeof COLUMNS;
type Row = Record<(typeof COLUMNS)[Field], unknown>;

const SELECT = `SELECT ${Object.entries(COLUMNS)
  .map(([field, column]) => `${column} AS ${field}`)
  .join(', ')} FROM tenants`;

/** The per-tenant lifecycle record. Times are epoch milliseconds. */
export function createTenants(db: Db, now: () => number) {
  const get = db.prepare<[string], TenantRecord>(`${SELECT} WHERE user_id = ?`);
  const getByHash = db.prepare<[string], TenantRecord>(`${SELECT} WHERE tenant_hash = ?`);
  const insert = db.prepare(
    'INSERT OR IGNORE INTO tenants (user_id, tenant_hash, created_at, updated_at) VALUES (?, ?, ?, ?)',
  );
  const list = db.prepare<
    { state: string | null; after: string | null; q: string | null; limit: number },
    TenantRecord
  >(
    `${SELECT} WHERE (@state IS NULL OR state = @state) AND (@after IS NULL OR user_id > @after)
       AND (@q IS NULL OR instr(lower(user_id), lower(@q)) > 0)
     ORDER BY user_id LIMIT @limit`,
  );
  const countByState = db.prepare<[], { state: TenantState; n: number }>(
    'SELECT state, count(*) AS n FROM tenants GROUP BY state',
  );
  const touch = db.prepare<{ userId: string; at: number; timeout: number; now: number }, TenantRecord>(
    `UPDATE tenants SET
       last_activity = max(coalesce(last_activity, 0), @at),
       idle_deadline = max(coalesce(idle_deadline, 0), @at + @timeout),
       updated_at = @now
     WHERE user_id = @userId
     RETURNING ${Object.entries(COLUMNS)
       .map(([field, column]) => `${column} AS ${field}`)
       .join(', ')}`,
  );
  const subnets = db.prepare<[], { subnet: string }>('SELECT subnet FROM tenants WHERE subnet IS NOT NULL');
  const subnetOf = db.prepare<[string], { subnet: string | null }>('SELECT subnet FROM tenants WHERE user_id = ?');
  const setSubnet = db.prepare('UPDATE tenants SET subnet = ?, updated_at = ? WHERE user_id = ?');
  const remove = db.prepare('DELETE FROM tenants WHERE user_id = ?');
  const sleepersWithSubnets = db.prepare<[number], TenantRecord>(
    `SELECT ${Object.entries(COLUMNS)
      .map(([field, column]) => `${column} AS ${field}`)
      .join(', ')}
     FROM tenants WHERE subnet IS NOT NULL AND state IN ('asleep', 'failed')
     ORDER BY COALESCE(last_activity, created_at) ASC LIMIT ?`,
  );
  const reserveSubnet = db.transaction(
    (userId: string, pick: (taken: ReadonlySet<string>) => string | undefined): string | undefined => {
      const own = subnetOf.get(userId);
      if (!own) throw new Error(`no tenant record for ${JSON.stringify(userId)}`);
      if (own.subnet) return own.subnet;
      const subnet = pick(new Set(subnets.all().map((row) => row.subnet)));
      if (subnet) setSubnet.run(subnet, now(), userId);
      return subnet;
    },
  );
  // One prepared UPDATE per set of patched fields, made on first use.
  const updates = new Map<string, Statement>();

  return {
    get: (userId: string): TenantRecord | undefined => get.get(userId),
    getByHash: (tenantHash: string): TenantRecord | undefined => getByHash.get(tenantHash),

    /** The tenant's record, created asleep on first use. */
    ensure(userId: string, tenantHash: string): TenantRecord {
      // Read first: every route miss of the gateway comes here, and a write, even one that
      // inserts nothing, takes the database's write lock.
      const existing = get.get(userId);
      if (existing) return existing;
      const at = now();
      insert.run(userId, tenantHash, at, at);
      return get.get(userId) as TenantRecord;
    },

    /** Sets the given fields (and `updatedAt`); returns the new record. */
    update(userId: string, patch: Partial<Omit<TenantRecord, 'userId' | 'tenantHash'>>): TenantRecord {
      const fields = (Object.keys(patch) as Field[]).filter((field) => field in COLUMNS && field !== 'updatedAt');
      const key = fields.join(',');
      let statement = updates.get(key);
      if (!statement) {
        const sets = [...fields.map((field) => `${COLUMNS[field]} = @${field}`), 'updated_at = @updatedAt'];
        statement = db.prepare(`UPDATE tenants SET ${sets.join(', ')} WHERE user_id = @userId`);
        updates.set(key, statement);
      }
      const params: Record<string, unknown> = { userId, updatedAt: now() };
      for (const field of fields) params[field] = patch[field as keyof typeof patch] ?? null;
      statement.run(params);
      const updated = get.get(userId);
      if (!updated) throw new Error(`no tenant record for ${JSON.stringify(userId)}`);
      return updated;
    },

    /** A page of tenants ordered by user id; pass the last user id seen as `after` for the next. */
    /** A page in user id order; `q` keeps the user ids that contain it (case-insensitive). */
    list(filter: { state?: TenantState; limit: number; after?: string; q?: string }): TenantRecord[] {
      return list.all({
        state: filter.state ?? null,
        after: filter.after ?? null,
        q: filter.q ?? null,
        limit: filter.limit,
      });
    },

    countByState(): Partial<Record<TenantState, number>> {
      return Object.fromEntries(countByState.all().map((row) => [row.state, row.n]));
    },

    /**
     * Records activity at `at`: `last_activity` and `idle_deadline = at + idleTimeoutMs` only
     * ever move forward, in one statement.
     */
    touchActivity(userId: string, at: number, idleTimeoutMs: number): TenantRecord | undefined {
      return touch.get({ userId, at, timeout: idleTimeoutMs, now: now() });
    },

    /** See LifecycleStore: read what is taken and reserve, in one transaction. */
    reserveSubnet: (userId: string, pick: (taken: ReadonlySet<string>) => string | undefined): string | undefined =>
      reserveSubnet(userId, pick),

    /** Gives the tenant's subnet back (the engine refused it); the next wake reserves another. */
    releaseSubnet(userId: string): void {
      setSubnet.run(null, now(), userId);
    },

    /** See LifecycleStore. */
    sleepersWithSubnets: (limit: number): TenantRecord[] => sleepersWithSubnets.all(limit),

    /** Forgets the tenant (and its summary). Returns false when there was none. */
    remove: (userId: string): boolean => remove.run(userId).changes === 1,
  };
}

export type Tenants = ReturnType<typeof createTenants>;
export type { Row as TenantRow };
