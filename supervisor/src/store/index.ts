import { statSync } from 'node:fs';
import type { LifecycleStore } from '../lifecycle/ports.js';
import { createAudit } from './audit.js';
import type { Db } from './database.js';
import { createSummaries } from './summaries.js';
import { createTenants } from './tenants.js';
import { createUsers } from './users.js';

export type { AuditRecord } from './audit.js';
export { openDatabase } from './database.js';
export type { TenantSummary } from './summaries.js';

/** The central store: the only code that touches SQLite. */
export function createStore(db: Db, now: () => number = Date.now) {
  const ping = db.prepare('SELECT 1');
  const store = {
    users: createUsers(db, now),
    tenants: createTenants(db, now),
    audit: createAudit(db, now),
    summaries: createSummaries(db, now),

    transaction<T>(fn: () => T): T {
      return db.transaction(fn)();
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
