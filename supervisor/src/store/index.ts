import { statSync } from 'node:fs';
import type { LifecycleStore } from '../lifecycle/ports.js';
import { createAccounts } from './accounts.js';
import { createAdminIdentities } from './admin-identities.js';
import { createApiKeys } from './api-keys.js';
import { createAudit } from './audit.js';
import type { Db } from './database.js';
import { createInactivity } from './inactivity.js';
import { createSummaries } from './summaries.js';
import { createTenants } from './tenants.js';
import { createUsers } from './users.js';

export type { AccountRecord } from './accounts.js';
export type { AdminIdentity } from './admin-identities.js';
export type { AuditRecord } from './audit.js';
export { openDatabase } from './database.js';
export type { AccountActivity } from './inactivity.js';
export type { TenantSummary } from './summaries.js';

/** The central store: the only code that touches SQLite. */
export function createStore(db: Db, now: () => number = Date.now) {
  const ping = db.prepare('SELECT 1');
  const store = {
    users: createUsers(db, now),
    tenants: createTenants(db, now),
    audit: createAudit(db, now),
    summaries: createSummaries(db, now),
    admins: createAdminIdentities(db, now),
    apiKeys: createApiKeys(db, now),
    accounts: createAccounts(db),
    inactivity: createInactivity(db),

    /**
     * Runs `fn` as one transaction. `synced: false` commits it without syncing the disk
     * (`synchronous = NORMAL` for this commit only): it survives a supervisor crash, and reaches
     * the disk at the next synced commit or checkpoint, so a power cut before then loses it. That
     * is for a wake's bookkeeping (its state, timestamps, counters and audit entry): a sync costs
     * about 4 ms here (docs/performance.md), twice per wake, and a hundred wakes at once would
     * queue 0.8 s behind them; what it records is re-read from the engine after a restart
     * anyway. Inside another transaction it simply joins it.
     */
    transaction<T>(fn: () => T, { synced = true }: { synced?: boolean } = {}): T {
      if (synced || db.inTransaction) return db.transaction(fn)();
      // SQLite refuses to change the level inside a transaction: around it, then back.
      db.pragma('synchronous = NORMAL');
      try {
        return db.transaction(fn)();
      } finally {
        db.pragma('synchronous = FULL');
      }
    },

    /** Throws when the database cannot answer a query. */
    ping(): void {
      ping.get();
    },

    /**
     * An online, consistent copy through SQLite's backup API (never a file copy of a live
     * database), while writers go on.
     */
    async backup(destination: string): Promise<{ path: string; bytes: number; ms: number }> {
      const started = performance.now();
      await db.backup(destination);
      return { path: destination, bytes: statSync(destination).size, ms: Math.round(performance.now() - started) };
    },

    close(): void {
      db.close();
    },
  };
  return store satisfies LifecycleStore;
}

export type Store = ReturnType<typeof createStore>;
