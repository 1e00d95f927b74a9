import type { StopReason, TenantState, UserRecord, WakePhase } from '@tenancy/shared';

/**
 * What the lifecycle controller needs from the central store. The store module implements it;
 * unit tests use that same store on an in-memory SQLite database, so they meet its constraints.
 */
export interface LifecycleStore {
  /**
   * Runs `fn` as one transaction: its writes reach the disk together, with one sync instead of
   * one each (the central database syncs every commit), or not at all. With `synced: false` the
   * commit is not synced (see createStore): for a wake's own bookkeeping, on the way of its first
   * byte.
   */
  transaction<T>(fn: () => T, options?: { synced?: boolean }): T;
  users: {
    get(userId: string): UserRecord | undefined;
  };
  tenants: {
    get(userId: string): TenantRecord | undefined;
    getByHash(tenantHash: string): TenantRecord | undefined;
    ensure(userId: string, tenantHash: string): TenantRecord;
    update(userId: string, patch: Partial<Omit<TenantRecord, 'userId' | 'tenantHash'>>): TenantRecord;
    list(filter: { state?: TenantState; limit: number; after?: string }): TenantRecord[];
    countByState(): Partial<Record<TenantState, number>>;
    touchActivity(userId: string, at: number, idleTimeoutMs: number): TenantRecord | undefined;
    /**
     * The tenant's subnet, reserving one first if it has none: `pick` gets every subnet other
     * tenants hold and chooses a free one (or undefined when none is left). Reading what is taken
     * and reserving happen in one transaction, so two wakes never get the same subnet.
     */
    reserveSubnet(userId: string, pick: (taken: ReadonlySet<string>) => string | undefined): string | undefined;
    /** Gives the tenant's subnet back (the engine refused it); the next reservation picks again. */
    releaseSubnet(userId: string): void;
    /**
     * Tenants asleep (or failed) that still hold a subnet, least recently active first: whose
     * network may be taken down to give its subnet to a tenant that needs one now.
     */
    sleepersWithSubnets(limit: number): TenantRecord[];
  };
  audit: {
    append(entry: AuditEntry): void;
  };
  summaries: {
    /** Records a tenant's latest usage summary, replacing the previous one. */
    ingest(userId: string, summary: TenantSummary): void;
  };
}

/** What a tenant app reports about its own use (its GET /summary). */
export interface TenantSummary {
  messages: number;
  replies: number;
  tokensUsed: number;
  bytesStored: number;
  /** Epoch milliseconds of the tenant's last recorded activity, if any. */
  lastActivity: number | null;
}

/** The persisted lifecycle of one tenant (times in epoch milliseconds). */
export interface TenantRecord {
  userId: string;
  tenantHash: string;
  state: TenantState;
  phase: WakePhase | null;
  containerId: string | null;
  networkName: string | null;
  subnet: string | null;
  endpointUrl: string | null;
  lastActivity: number | null;
  idleDeadline: number | null;
  /** When the tenant was paused (first stage of sleep), while it is. */
  pausedAt: number | null;
  stopReason: StopReason | null;
  stopDetail: string | null;
  wakeCount: number;
  lastWakeStartedAt: number | null;
  lastWakeReadyAt: number | null;
  lastWakeMs: number | null;
  failureCount: number;
  createdAt: number;
  updatedAt: number;
}

export interface AuditEntry {
  actor: string;
  action: string;
  target: string | null;
  result: 'ok' | 'error' | 'denied';
  detail?: Record<string, unknown> | null;
}
