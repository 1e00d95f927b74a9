import Database from 'better-sqlite3';
import { errors } from '../errors.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the central database and brings its schema up to date.
 *
 * Durability: WAL with `synchronous = FULL`. The central database holds users, tenant state and
 * the audit log, so a commit is synced to disk: it survives power loss, not only a process crash,
 * which is all `NORMAL` would promise. The one exception is a wake's own bookkeeping, committed
 * unsynced on its way to the first byte (store.transaction with `synced: false` says why).
 */
export function openDatabase(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

/** Applies every migration the database has not seen, each in its own transaction. */
export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    db.close();
    throw errors.storeTooNew(
      `the database is at schema version ${current}, this supervisor knows ${MIGRATIONS.length}: upgrade the supervisor`,
    );
  }
  if (current === MIGRATIONS.length) return;
  // A step may rebuild a table (SQLite cannot change a CHECK constraint in place); with foreign
  // keys on, dropping the old table would cascade into its children. SQLite's own recipe: keys off
  // around the transactions, then prove nothing dangles before turning them back on.
  db.pragma('foreign_keys = OFF');
  try {
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.transaction(() => {
        db.exec(MIGRATIONS[version] ?? '');
        const dangling = db.pragma('foreign_key_check') as unknown[];
        if (dangling.length > 0)
          throw new Error(`migration ${version + 1} left ${dangling.length} dangling references`);
        db.pragma(`user_version = ${version + 1}`);
      })();
    }
  } finally {
    db.pragma('foreign_keys = ON');
  }
}
