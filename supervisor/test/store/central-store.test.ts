import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Teardown } from '@tenancy/test-support';
import Database from 'better-sqlite3';
import t from 'tap';
import { createStore, openDatabase } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations.js';

async function tempDir(t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'store-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(t: Teardown, now?: () => number) {
  const path = join(await tempDir(t), 'tenancy.db');
  const store = createStore(openDatabase(path), now);
  t.teardown(() => store.close());
  return { store, path };
}

t.test('opening migrates, sets the pragmas, and re-opening is idempotent', async (t) => {
  const path = join(await tempDir(t), 'tenancy.db');
  const db = openDatabase(path);
  t.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'synchronous = FULL');
  t.equal(db.pragma('foreign_keys', { simple: true }), 1);
  t.equal(db.pragma('busy_timeout', { simple: true }), 5000);
  createStore(db).users.upsert('kept', {});
  db.close();
  const again = openDatabase(path);
  t.equal(createStore(again).users.get('kept')?.userId, 'kept', 'data kept, migrations not re-run');
  again.close();
});

t.test('a database from a newer supervisor is refused', async (t) => {
  const path = join(await tempDir(t), 'tenancy.db');
  const raw = new Database(path);
  raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  raw.close();
  t.throws(() => openDatabase(path), { code: 'SUP_ERR_STORE_TOO_NEW' });
});

t.test('users: upsert creates, updates, and keeps what is omitted', async (t) => {
  let clock = 1_000;
  const { store } = await openStore(t, () => clock);
  t.same(store.users.upsert('u1', {}), {
    userId: 'u1',
    email: null,
    plan: 'free',
    onboardingCompleted: false,
    disabled: false,
  });
  clock = 2_000;
  t.same(store.users.upsert('u1', { email: 'a@b.c', plan: 'pro', onboardingCompleted: true }), {
    userId: 'u1',
    email: 'a@b.c',
    plan: 'pro',
    onboardingCompleted: true,
    disabled: false,
  });
  t.match(store.users.upsert('u1', { plan: 'team' }), { email: 'a@b.c', plan: 'team', onboardingCompleted: true });
  t.equal(store.users.setDisabled('u1', true), true);
  t.equal(store.users.get('u1')?.disabled, true);
  t.equal(store.users.setDisabled('ghost', true), false);
});

t.test('tenants: ensure, update, list with filters and pages, counts, subnets, remove', async (t) => {
  const { store } = await openStore(t);
  for (const id of ['c', 'a', 'b', 'd']) {
    store.users.upsert(id, {});
    store.tenants.ensure(id, `hash-${id}`);
  }
  t.match(store.tenants.ensure('a', 'hash-a'), { userId: 'a', tenantHash: 'hash-a', state: 'asleep', wakeCount: 0 });
  t.match(store.tenants.update('b', { state: 'running', subnet: '10.0.0.0/28', wakeCount: 3 }), {
    state: 'running',
    subnet: '10.0.0.0/28',
    wakeCount: 3,
  });
  store.tenants.update('d', { state: 'running', subnet: '10.0.0.16/28' });
  t.equal(store.tenants.getByHash('hash-d')?.userId, 'd');
  t.same(
    store.tenants.list({ limit: 2 }).map((x) => x.userId),
    ['a', 'b'],
  );
  t.same(
    store.tenants.list({ limit: 2, after: 'b' }).map((x) => x.userId),
    ['c', 'd'],
  );
  t.same(
    store.tenants.list({ state: 'running', limit: 10 }).map((x) => x.userId),
    ['b', 'd'],
  );
  t.same(store.tenants.countByState(), { asleep: 2, running: 2 });
  let seen: string[] = [];
  const reserved = store.tenants.reserveSubnet('c', (taken) => {
    seen = [...taken].sort();
    return '10.0.0.32/28';
  });
  t.strictSame(seen, ['10.0.0.0/28', '10.0.0.16/28'], 'the pick sees every subnet other tenants hold');
  t.equal(reserved, '10.0.0.32/28');
  t.equal(
    store.tenants.reserveSubnet('c', () => '10.0.0.48/28'),
    '10.0.0.32/28',
    'a tenant keeps its subnet: no second pick',
  );
  store.tenants.releaseSubnet('c');
  t.equal(store.tenants.get('c')?.subnet, null, 'given back');
  t.throws(() => store.tenants.update('c', { subnet: '10.0.0.0/28' }), /UNIQUE/, 'a subnet belongs to one tenant');
  t.equal(store.tenants.remove('b'), true);
  t.equal(store.tenants.get('b'), undefined);
  t.equal(store.tenants.remove('b'), false);
});

t.test('touchActivity never moves activity or the idle deadline backwards', async (t) => {
  const { store } = await openStore(t);
  store.users.upsert('u', {});
  store.tenants.ensure('u', 'h');
  const rows: [string, number, number, number][] = [
    ['first activity', 1_000, 1_000, 61_000],
    ['newer activity', 5_000, 5_000, 65_000],
    ['older activity changes nothing', 2_000, 5_000, 65_000],
  ];
  for (const [name, at, lastActivity, idleDeadline] of rows) {
    t.match(store.tenants.touchActivity('u', at, 60_000), { lastActivity, idleDeadline }, name);
  }
  t.equal(store.tenants.touchActivity('nobody', 1, 1), undefined);
});

t.test('the audit log is append-only and pages newest first', async (t) => {
  const { store, path } = await openStore(t);
  for (let i = 1; i <= 5; i++) {
    store.audit.append({
      actor: 'admin',
      action: i % 2 ? 'tenant.stop' : 'tenant.wake',
      target: `u${i % 2}`,
      result: 'ok',
      detail: { i },
    });
  }
  const all = store.audit.list({ limit: 10 });
  t.same(
    all.map((e) => e.detail?.i),
    [5, 4, 3, 2, 1],
  );
  t.same(
    store.audit.list({ limit: 2, beforeId: all[1]?.id ?? 0 }).map((e) => e.detail?.i),
    [3, 2],
  );
  t.same(
    store.audit.list({ limit: 10, action: 'tenant.wake' }).map((e) => e.detail?.i),
    [4, 2],
  );
  t.same(
    store.audit.list({ limit: 10, target: 'u1' }).map((e) => e.detail?.i),
    [5, 3, 1],
  );
  const raw = new Database(path);
  t.teardown(() => raw.close());
  t.throws(() => raw.prepare('UPDATE audit SET actor = ?').run('mallory'), /append-only/);
  t.throws(() => raw.prepare('DELETE FROM audit').run(), /append-only/);
});

t.test('summaries: the latest report per tenant, and totals', async (t) => {
  const { store } = await openStore(t);
  for (const id of ['a', 'b']) {
    store.users.upsert(id, {});
    store.tenants.ensure(id, id);
  }
  store.summaries.ingest('a', { messages: 1, replies: 1, tokensUsed: 10, bytesStored: 100, lastActivity: 5 });
  store.summaries.ingest('a', { messages: 2, replies: 2, tokensUsed: 20, bytesStored: 200, lastActivity: 6 });
  store.summaries.ingest('b', { messages: 3, replies: 3, tokensUsed: 30, bytesStored: 300, lastActivity: null });
  t.match(store.summaries.get('a'), { messages: 2, tokensUsed: 20, lastActivity: 6 });
  t.same(store.summaries.totals(), { tenants: 2, messages: 5, replies: 5, tokensUsed: 50, bytesStored: 500 });
});

t.test('an online backup taken while the store keeps writing is complete and consistent', async (t) => {
  const { store, path } = await openStore(t);
  store.users.upsert('before-backup', {});
  // Enough pages that the copy takes a while and overlaps the writer below (one transaction).
  const bulk = new Database(path);
  const fill = bulk.prepare(
    "INSERT INTO audit (at, actor, action, result, detail) VALUES (1, 'bulk', 'fill', 'ok', ?)",
  );
  bulk.transaction(() => {
    for (let i = 0; i < 30_000; i++) fill.run('x'.repeat(200));
  })();
  bulk.close();
  // The supervisor writes through the same connection it backs up from; SQLite folds those
  // writes into the copy (writes from another connection would restart it).
  const writer = store;
  let written = 0;
  const writing = setInterval(() => {
    for (let i = 0; i < 20; i++) writer.audit.append({ actor: 'w', action: 'x', target: null, result: 'ok' });
    written += 20;
  }, 1);
  const destination = join(await tempDir(t), 'backup.db');
  const result = await store.backup(destination);
  clearInterval(writing);
  t.equal(result.path, destination);
  t.ok(result.bytes > 0);
  const copy = new Database(destination, { readonly: true });
  t.teardown(() => copy.close());
  t.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
  t.equal((copy.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n, 1);
  t.equal((copy.prepare("SELECT count(*) AS n FROM audit WHERE actor = 'bulk'").get() as { n: number }).n, 30_000);
  t.comment(`${written} audit rows written during the backup`);
});

t.test('kill -9 while writing leaves an intact database holding every committed row', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'tenancy.db');
  const writer = `
    const { createStore, openDatabase } = await import(${JSON.stringify(join(import.meta.dirname, '../../src/store/index.ts'))});
    const store = createStore(openDatabase(${JSON.stringify(path)}));
    for (let i = 0; ; i++) {
      store.audit.append({ actor: 'writer', action: 'write', target: null, result: 'ok', detail: { i } });
      process.stdout.write(i + '\\n');
    }`;
  const child = spawn(
    process.execPath,
    ['--conditions=tenancy-source', '--import=tsx', '--input-type=module', '-e', writer],
    {
      // stderr forwarded, not inherited: an orphan holding it would keep tap waiting forever.
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr?.pipe(process.stderr);
  // Whatever happens to this test, the writer must not outlive it.
  t.teardown(() => child.kill('SIGKILL'));
  let acknowledged = -1;
  let buffer = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      const last = lines.at(-1);
      if (last !== undefined) acknowledged = Number(last);
      if (acknowledged >= 300 && child.exitCode === null) child.kill('SIGKILL');
    });
    child.once('exit', () => resolve());
  });
  t.ok(acknowledged >= 300, `writer acknowledged ${acknowledged + 1} rows before the kill`);
  const db = openDatabase(path);
  t.teardown(() => db.close());
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const rows = (db.prepare("SELECT count(*) AS n FROM audit WHERE actor = 'writer'").get() as { n: number }).n;
  t.ok(rows >= acknowledged + 1, `${rows} rows on disk ≥ ${acknowledged + 1} acknowledged`);
});

t.test('an unsynced transaction commits at synchronous = NORMAL and leaves FULL behind', async (t) => {
  const db = openDatabase(join(await tempDir(t), 'tenancy.db'));
  const store = createStore(db);
  t.teardown(() => store.close());
  const level = () => db.pragma('synchronous', { simple: true });

  t.equal(
    store.transaction(() => level(), { synced: false }),
    1,
    'NORMAL while it runs',
  );
  t.equal(level(), 2, 'FULL after it');
  t.equal(
    store.transaction(() => level()),
    2,
    'a synced one stays FULL',
  );
  t.equal(
    store.transaction(() => store.transaction(() => level(), { synced: false })),
    2,
    'inside a synced transaction it joins it',
  );
  t.throws(() =>
    store.transaction(
      () => {
        throw new Error('boom');
      },
      { synced: false },
    ),
  );
  t.equal(level(), 2, 'FULL again after a failed one');

  store.users.upsert('alice', {});
  store.transaction(() => store.tenants.ensure('alice', 'a'.repeat(24)), { synced: false });
  t.equal(store.tenants.get('alice')?.tenantHash, 'a'.repeat(24), 'its writes are committed');
});
