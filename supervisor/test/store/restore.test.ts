import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Teardown } from '@tenancy/test-support';
import Database from 'better-sqlite3';
import t from 'tap';
import { createStore, openDatabase } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { restoreDatabase } from '../../src/store/restore.js';

async function tempDir(t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'restore-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A database with one user, and a backup of it taken through the store, as POST /v1/backup does. */
async function withBackup(t: Teardown) {
  const dir = await tempDir(t);
  const databasePath = join(dir, 'tenancy.db');
  const store = createStore(openDatabase(databasePath), () => 1_000);
  store.users.upsert('in-backup', { email: 'a@example.com' });
  store.audit.append({ actor: 'admin', action: 'tenant.stop', target: 'in-backup', result: 'ok' });
  const backupPath = join(dir, 'backup.db');
  await store.backup(backupPath);
  // Written after the backup: a restore must not bring it back.
  store.users.upsert('after-backup', {});
  return { dir, databasePath, backupPath, store };
}

const userIds = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT user_id FROM users ORDER BY user_id').all() as { user_id: string }[]).map(
      (row) => row.user_id,
    );
  } finally {
    db.close();
  }
};

t.test('restore refuses while the database is open, and replaces it (kept aside) once closed', async (t) => {
  const { dir, databasePath, backupPath, store } = await withBackup(t);
  t.throws(() => restoreDatabase(backupPath, databasePath, { replace: true }), {
    code: 'SUP_ERR_RESTORE_REFUSED',
    message: `the database at ${databasePath} is in use: stop the supervisor first`,
  });
  store.close();
  t.throws(() => restoreDatabase(backupPath, databasePath, { replace: false }), {
    code: 'SUP_ERR_RESTORE_REFUSED',
    message: `restoring replaces the database at ${databasePath} (kept aside): add --yes to confirm`,
  });
  t.strictSame(userIds(databasePath), ['after-backup', 'in-backup'], 'the refusals touched nothing');

  const result = restoreDatabase(backupPath, databasePath, { replace: true, now: () => Date.UTC(2026, 0, 2) });
  t.strictSame(result, {
    path: databasePath,
    from: backupPath,
    users: 1,
    tenants: 0,
    auditEntries: 1,
    replaced: `${databasePath}.replaced-2026-01-02T00-00-00-000Z`,
  });
  t.strictSame(
    readdirSync(dir).filter((name) => /^tenancy\.db(-wal|-shm|\.restoring)/.test(name)),
    [],
    'no staging file and no -wal or -shm left beside the restored database',
  );
  t.strictSame(userIds(databasePath), ['in-backup']);
  t.strictSame(userIds(`${databasePath}.replaced-2026-01-02T00-00-00-000Z`), ['after-backup', 'in-backup']);

  const restored = createStore(openDatabase(databasePath));
  t.teardown(() => restored.close());
  t.match(
    restored.audit.list({ limit: 10 }).map((entry) => [entry.action, entry.detail]),
    [
      ['store.restore', { from: 'backup.db', users: 1, tenants: 0 }],
      ['tenant.stop', null],
    ],
    'the restore is in the audit log, above what the backup held',
  );
});

t.test('a destroyed database with a write-ahead log left beside it: none of it reaches the restored one', async (t) => {
  const { databasePath, backupPath, store } = await withBackup(t);
  // A crash leaves the last commits in the -wal; then the database file itself is destroyed.
  // Replayed into the restored file, that log would bring back (or corrupt) pages of the lost one.
  store.close();
  const crash = spawnSync(
    process.execPath,
    [
      '-e',
      `const db = new (require('better-sqlite3'))(${JSON.stringify(databasePath)});
       db.pragma('wal_autocheckpoint = 0');
       db.prepare("INSERT INTO users (user_id, created_at) VALUES ('only-in-the-wal', 1)").run();
       process.kill(process.pid, 'SIGKILL');`,
    ],
    { cwd: join(import.meta.dirname, '..', '..') },
  );
  t.equal(crash.signal, 'SIGKILL', `the writer crashed (${crash.stderr})`);
  const wal = readFileSync(`${databasePath}-wal`);
  t.ok(wal.includes('only-in-the-wal'), 'its last commit is only in the -wal');
  writeFileSync(databasePath, 'not a database any more');
  writeFileSync(`${databasePath}-wal`, wal);

  const result = restoreDatabase(backupPath, databasePath, { replace: true, now: () => 0 });
  t.equal(result.replaced, `${databasePath}.replaced-1970-01-01T00-00-00-000Z`);
  t.equal(readFileSync(result.replaced ?? '', 'utf8'), 'not a database any more', 'the destroyed file is kept aside');
  t.notOk(existsSync(`${databasePath}-wal`), 'no -wal beside the restored database');
  t.strictSame(userIds(databasePath), ['in-backup']);
});

t.test('a database that is gone: restored without --yes', async (t) => {
  const { databasePath, backupPath, store } = await withBackup(t);
  store.close();
  await rm(databasePath);
  const result = restoreDatabase(backupPath, databasePath, { replace: false });
  t.equal(result.replaced, null);
  t.strictSame(userIds(databasePath), ['in-backup']);
});

t.test('an unusable backup is refused and nothing is touched', async (t) => {
  const { dir, databasePath, store } = await withBackup(t);
  store.close();
  const garbage = join(dir, 'garbage.db');
  writeFileSync(garbage, 'x'.repeat(4096));
  const newer = join(dir, 'newer.db');
  const raw = new Database(newer);
  raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  raw.close();
  const before = readdirSync(dir).sort();

  t.throws(() => restoreDatabase(join(dir, 'missing.db'), databasePath, { replace: true }), {
    code: 'SUP_ERR_RESTORE_REFUSED',
    message: `no backup at ${join(dir, 'missing.db')}`,
  });
  t.throws(() => restoreDatabase(garbage, databasePath, { replace: true }), {
    code: 'SUP_ERR_RESTORE_REFUSED',
    message: /garbage\.db is not a usable backup: file is not a database/,
  });
  t.throws(() => restoreDatabase(newer, databasePath, { replace: true }), { code: 'SUP_ERR_STORE_TOO_NEW' });
  t.strictSame(readdirSync(dir).sort(), before, 'no file added, moved or removed');
  t.strictSame(userIds(databasePath), ['after-backup', 'in-backup']);
});
