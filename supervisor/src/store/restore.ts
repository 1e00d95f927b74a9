import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { isTenancyError } from '@tenancy/shared';
import Database from 'better-sqlite3';
import { errors } from '../errors.js';
import { createAudit } from './audit.js';
import { openDatabase } from './database.js';

/** What a restore did: the figures are read from the restored database. */
export interface RestoreResult {
  /** The database now in place (DATABASE_PATH). */
  path: string;
  /** The backup it came from. */
  from: string;
  /** Where the database it replaced was moved, with its -wal and -shm; null when there was none. */
  replaced: string | null;
  users: number;
  tenants: number;
  auditEntries: number;
}

/** SQLite's companions of a database file: in WAL mode, recent commits live in `-wal`. */
const COMPANIONS = ['-wal', '-shm'] as const;

/**
 * Replaces the central database at `databasePath` with the backup at `backupPath`, offline: the
 * supervisor must be stopped, and the restore refuses while any process holds the database.
 *
 * Nothing is touched until the backup has proved sound: it is copied next to the database,
 * migrated to this supervisor's schema (a backup from a newer supervisor is refused), checked
 * with `integrity_check`, and given a `store.restore` audit entry. Only then is the current
 * database moved aside (never deleted), together with its `-wal` and `-shm` files (a stale
 * `-wal` left beside a restored database would be replayed into it), and the copy renamed into
 * place. Tenant state is left as the backup has it: the supervisor's start reconciles it with the
 * engine (running containers adopted, vanished ones recorded as stopped).
 *
 * `replace` must be true when a database exists at `databasePath` (tenancy-admin's `--yes`).
 */
export function restoreDatabase(
  backupPath: string,
  databasePath: string,
  options: { replace: boolean; now?: () => number },
): RestoreResult {
  const now = options.now ?? Date.now;
  if (!existsSync(backupPath)) throw errors.restoreRefused(`no backup at ${backupPath}`);
  const present = existsSync(databasePath);
  if (present) refuseIfInUse(databasePath);
  if (present && !options.replace) {
    throw errors.restoreRefused(
      `restoring replaces the database at ${databasePath} (kept aside): add --yes to confirm`,
    );
  }

  const staging = `${databasePath}.restoring-${process.pid}`;
  removeWithCompanions(staging);
  let result: Omit<RestoreResult, 'replaced'>;
  try {
    copyFileSync(backupPath, staging);
    result = prepare(staging, backupPath, databasePath, now);
    syncFile(staging);
  } catch (err) {
    removeWithCompanions(staging);
    if (isTenancyError(err)) throw err;
    throw errors.restoreRefused(`${backupPath} is not a usable backup: ${(err as Error).message}`, { cause: err });
  }

  const aside = `${databasePath}.replaced-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
  let replaced: string | null = null;
  for (const suffix of ['', ...COMPANIONS]) {
    if (!existsSync(databasePath + suffix)) continue;
    renameSync(databasePath + suffix, aside + suffix);
    if (suffix === '') replaced = aside;
  }
  renameSync(staging, databasePath);
  syncFile(dirname(databasePath));
  return { ...result, replaced };
}

/** Migrates and checks the staged copy, counts what it holds and records the restore in its audit. */
function prepare(
  staging: string,
  backupPath: string,
  databasePath: string,
  now: () => number,
): Omit<RestoreResult, 'replaced'> {
  const db = openDatabase(staging);
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw errors.restoreRefused(`${backupPath} fails SQLite's integrity check: ${integrity}`);
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    const result = {
      path: databasePath,
      from: backupPath,
      users: count('users'),
      tenants: count('tenants'),
      auditEntries: count('audit'),
    };
    createAudit(db, now).append({
      actor: 'admin',
      action: 'store.restore',
      target: null,
      result: 'ok',
      detail: { from: basename(backupPath), users: result.users, tenants: result.tenants },
    });
    // Everything into the main file: the rename below moves that file alone.
    db.pragma('wal_checkpoint(TRUNCATE)');
    return result;
  } finally {
    db.close();
  }
}

/**
 * Refuses while another process has the database open. A supervisor holds a shared lock on it
 * for as long as it runs (WAL mode), so an exclusive lock is granted only when none does.
 */
function refuseIfInUse(databasePath: string): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(databasePath, { fileMustExist: true, timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('ROLLBACK');
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      throw errors.restoreRefused(`the database at ${databasePath} is in use: stop the supervisor first`);
    }
    // Not a database any more (the reason to restore, often): nothing can be using it as one.
  } finally {
    db?.close();
  }
}

function removeWithCompanions(path: string): void {
  for (const suffix of ['', ...COMPANIONS]) rmSync(path + suffix, { force: true });
}

/** fsync, so the restored file and its new name survive a power cut once the restore reports done. */
function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
