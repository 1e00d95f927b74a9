import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { seg, startSupervisor, testDocker } from '@tenancy/test-support';
import t from 'tap';
import tar from 'tar-stream';
import { run } from '../../src/cli/admin-cli.js';
import { deriveIdentity, objectNames } from '../../src/runtime/names.js';
import { exec } from './helpers.js';

/** One entry of a parsed archive: its type, and its bytes for small files (large ones: only the size). */
interface Entry {
  type: string;
  size: number;
  body?: Buffer;
}

/**
 * Reads a tar (or gzipped tar) response to its end with a real tar parser. `onBytes` hears every
 * chunk's running total: the memory test samples the supervisor there.
 */
async function readArchive(
  res: Response,
  options: { gzip?: boolean; onBytes?: (total: number) => void; keepBytes?: number } = {},
) {
  const keep = options.keepBytes ?? 1024 * 1024;
  const entries = new Map<string, Entry>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= keep) chunks.push(chunk);
    });
    stream.on('end', () => {
      entries.set(header.name, {
        type: header.type ?? 'file',
        size,
        ...(size <= keep ? { body: Buffer.concat(chunks) } : {}),
      });
      next();
    });
  });
  const body = Readable.fromWeb(res.body as never);
  let total = 0;
  body.on('data', (chunk: Buffer) => {
    total += chunk.length;
    options.onBytes?.(total);
  });
  await new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
    body.on('error', reject);
    (options.gzip ? body.pipe(createGunzip()) : body).pipe(extract);
  });
  return entries;
}

/** Resident and peak memory of a process, bytes, from /proc. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

t.test('export: one archive of both volumes and the record, running, paused or stopped, streamed', async (t) => {
  const supervisor = await startSupervisor(t, { PAUSE_TIMEOUT: '1h' });
  const docker = testDocker();
  const userId = 'ada@example.com';
  const identity = deriveIdentity(supervisor.namespaceKey, userId);
  const names = objectNames(supervisor.instance, identity.hash);
  await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, { email: userId }, 'internal');
  const woke = await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
  t.equal(woke.status, 200, 'the tenant runs');
  const wrote = await exec(docker, names.container, [
    'node',
    '-e',
    "require('fs').writeFileSync('/data/files/note.txt', 'written by the tenant\\n')",
  ]);
  t.equal(wrote.exitCode, 0, 'the tenant wrote a file');

  const exportOf = async (state: string, format?: string) => {
    const res = await supervisor.api('GET', `/v1/users/${seg(userId)}/export${format ? `?format=${format}` : ''}`);
    t.equal(res.status, 200, `${state}: 200`);
    return res;
  };
  const check = (state: string, entries: Map<string, Entry>) => {
    t.equal(
      entries.get('tenancy-export/volumes/files/note.txt')?.body?.toString(),
      'written by the tenant\n',
      `${state}: the file the tenant wrote`,
    );
    const history = [...entries.keys()].filter((name) => /^tenancy-export\/volumes\/history\/[^/]+\.db$/.test(name));
    t.equal(history.length, 1, `${state}: the history database`);
    const account = JSON.parse(entries.get('tenancy-export/account.json')?.body?.toString() ?? '{}');
    t.equal(account.user.userId, userId, `${state}: the user record`);
    t.equal(account.user.email, userId, `${state}: with the email`);
    t.equal(account.tenant.tenantId, identity.hash, `${state}: the tenant record`);
    t.ok(
      account.audit.some((entry: { action: string }) => entry.action === 'user.login'),
      `${state}: audit entries about the user`,
    );
    for (const [name, entry] of entries) {
      for (const secret of [identity.secret, identity.summaryToken, supervisor.namespaceKey]) {
        t.notOk(entry.body?.includes(secret), `${state}: no secret in ${name}`);
      }
    }
  };

  const running = await exportOf('running');
  t.equal(running.headers.get('content-type'), 'application/x-tar');
  t.match(running.headers.get('content-disposition'), /^attachment; filename="tenancy-export-\d{4}-\d{2}-\d{2}\.tar"$/);
  check('running', await readArchive(running));

  t.equal((await supervisor.api('POST', `/v1/tenants/${seg(userId)}/pause`)).status, 200);
  const gz = await exportOf('paused', 'tar.gz');
  t.equal(gz.headers.get('content-type'), 'application/gzip');
  check('paused', await readArchive(gz, { gzip: true }));
  t.equal((await docker.getContainer(names.container).inspect()).State.Paused, true, 'still paused after the export');

  t.equal((await supervisor.api('POST', `/v1/tenants/${seg(userId)}/stop`)).status, 200);
  check('stopped', await readArchive(await exportOf('stopped')));
  const after = await docker.getContainer(names.container).inspect();
  t.equal(after.State.Running, false, 'not started by the export');

  const helpers = await docker.listContainers({
    all: true,
    filters: { label: [`dev.tenancy.instance=${supervisor.instance}`, 'dev.tenancy.role=export'] },
  });
  t.equal(helpers.length, 0, 'no export helper left behind');

  const audit = (await (await supervisor.api('GET', `/v1/audit?target=${seg(userId)}&action=user.export`)).json()) as {
    items: { actor: string; result: string }[];
  };
  t.equal(audit.items.length, 3, 'every export audited');
  t.equal(audit.items[0]?.actor, 'bootstrap', 'under the admin who asked');

  t.test('a running tenant writing its history exports a consistent database each time', async (t) => {
    await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
    const container = (await docker.getContainer(names.container).inspect()).Id;
    // A second writer in the tenant, on the app's database: a row per transaction, a checkpoint
    // every few pages (the moments a copy of database and WAL taken apart would not match), and
    // no fsync, so that it writes fast enough to meet the read (without the hold, the first
    // export was already "database disk image is malformed").
    // Bounded: it ends when told (the file `stop`) or after 100,000 rows. It reports how many rows
    // are committed in `acknowledged`.
    const writer = exec(docker, container, [
      'node',
      '-e',
      `const D = require('/app/node_modules/better-sqlite3'); const fs = require('fs');
       const db = new D('/data/history/history.db');
       db.pragma('journal_mode = WAL'); db.pragma('synchronous = OFF'); db.pragma('busy_timeout = 5000'); db.pragma('wal_autocheckpoint = 4');
       const insert = db.prepare("INSERT INTO messages (role, content, tokens, created_at) VALUES ('user', ?, 0, ?)");
       const text = 'x'.repeat(100);
       for (let n = 1; n <= 100000; n++) {
         insert.run(n + ':' + text, Date.now());
         if (n % 25 === 0) { fs.writeFileSync('/data/files/acknowledged', String(n)); if (fs.existsSync('/data/files/stop')) break; }
       }`,
    ]);
    const acknowledged = async () => {
      const read = await exec(docker, container, [
        'node',
        '-e',
        "process.stdout.write(require('fs').existsSync('/data/files/acknowledged') ? require('fs').readFileSync('/data/files/acknowledged', 'utf8') : '0')",
      ]);
      return Number(read.output.trim());
    };
    const dir = mkdtempSync(join(tmpdir(), 'export-history-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const { default: Database } = await import('better-sqlite3');
    try {
      // The writer has begun (exec is slow to start on a busy host), or ended without a row.
      let writerEnded = false;
      void writer.finally(() => {
        writerEnded = true;
      });
      while ((await acknowledged()) === 0 && !writerEnded) await new Promise((resolve) => setTimeout(resolve, 100));
      for (let round = 1; round <= 5; round++) {
        const before = await acknowledged();
        const since = Date.now() / 1000;
        const entries = await readArchive(await exportOf(`writing ${round}`), { keepBytes: 64 * 1024 * 1024 });
        // Every file of the history volume, as exported, opened as SQLite opens it after a crash.
        const copy = join(dir, String(round));
        mkdirSync(copy);
        for (const [name, entry] of entries) {
          const file = /^tenancy-export\/volumes\/history\/([^/]+)$/.exec(name)?.[1];
          if (file && entry.body) writeFileSync(join(copy, file), entry.body);
        }
        const db = new Database(join(copy, 'history.db'));
        const integrity = db.pragma('integrity_check', { simple: true });
        const rows = db.prepare('SELECT count(*) AS n, min(id) AS low, max(id) AS high FROM messages').get() as {
          n: number;
          low: number;
          high: number;
        };
        db.close();
        t.equal(integrity, 'ok', `round ${round}: the exported database is intact`);
        t.equal(rows.n, rows.high - rows.low + 1, `round ${round}: no rows missing in between`);
        t.ok(
          rows.n >= before,
          `round ${round}: every row committed before the export (${before}) is in it (${rows.n})`,
        );
        // The tenant was frozen for the read and thawed after it.
        const events = await new Promise<{ Action: string; timeNano: number }[]>((resolve, reject) => {
          docker.getEvents(
            {
              since,
              until: Math.floor(Date.now() / 1000) + 1,
              filters: { container: [container], event: ['pause', 'unpause'] },
            },
            (err, stream) => {
              if (err || !stream) return reject(err);
              let text = '';
              stream.on('data', (chunk: Buffer) => {
                text += chunk.toString();
              });
              stream.on('end', () =>
                resolve(
                  text
                    .split('\n')
                    .filter(Boolean)
                    .map((line) => JSON.parse(line) as { Action: string; timeNano: number }),
                ),
              );
            },
          );
        });
        t.strictSame(
          events.map((event) => event.Action),
          ['pause', 'unpause'],
          `round ${round}: frozen once for the read, then thawed`,
        );
        const [paused, thawed] = events;
        if (paused && thawed) {
          const frozenMs = (thawed.timeNano - paused.timeNano) / 1e6;
          t.comment(`round ${round}: frozen ${frozenMs.toFixed(1)} ms for a history of ${rows.n} rows`);
        }
      }
      t.equal((await docker.getContainer(container).inspect()).State.Paused, false, 'running, not frozen, after');
    } finally {
      await exec(docker, container, ['node', '-e', "require('fs').writeFileSync('/data/files/stop', '')"]);
      const written = await writer;
      t.equal(written.exitCode, 0, `the writer ended cleanly ${written.output}`);
    }
  });

  t.test('a 200 MB file streams through in bounded memory', async (t) => {
    await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
    const big = await exec(docker, names.container, [
      'node',
      '-e',
      "const fs=require('fs');const fd=fs.openSync('/data/files/big.bin','w');const b=Buffer.alloc(1<<20,7);for(let i=0;i<200;i++)fs.writeSync(fd,b);fs.closeSync(fd)",
    ]);
    t.equal(big.exitCode, 0, 'the tenant wrote 200 MB');
    const pid = supervisor.pid();
    if (!pid) throw new Error('no supervisor process');
    const before = memoryOf(pid);
    let highest = before.rss;
    let nextSample = 0;
    const entries = await readArchive(await exportOf('large'), {
      onBytes: (total) => {
        // Sampled every 10 MB received: while the stream passes, not after a guessed delay.
        if (total < nextSample) return;
        nextSample = total + 10 * 1024 * 1024;
        highest = Math.max(highest, memoryOf(pid).rss);
      },
    });
    t.equal(entries.get('tenancy-export/volumes/files/big.bin')?.size, 200 * 1024 * 1024, 'the whole file');
    const grew = Math.max(highest, memoryOf(pid).peak) - before.rss;
    t.comment(
      `supervisor RSS before ${Math.round(before.rss / 2 ** 20)} MiB, grew by ${Math.round(grew / 2 ** 20)} MiB`,
    );
    t.ok(grew < 64 * 1024 * 1024, `the supervisor's memory grew by less than 64 MiB (${grew} bytes)`);
  });

  t.test('tenancy-admin export streams the same archive to a file', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'export-cli-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'export.tar');
    const lines: string[] = [];
    const env = { SUPERVISOR_URL: supervisor.url, ADMIN_TOKEN: supervisor.adminToken };
    t.equal(await run(['export', userId, '--out', file], env, (text) => lines.push(text)), 0);
    t.match(lines.join('\n'), `exported ${userId} to ${file} (`);
    const entries = await readArchive(new Response(readFileSync(file)));
    t.ok(entries.has('tenancy-export/account.json'), 'the record');
    t.ok(entries.has('tenancy-export/volumes/history/history.db'), 'the history');
    await t.rejects(
      run(['export', userId, '--out', file], env, () => undefined),
      /EEXIST/,
      'never overwrites a file',
    );
    await t.rejects(
      run(['export', 'nobody', '--out', join(dir, 'x.tar')], env, () => undefined),
      /404 SUP_ERR_USER_NOT_FOUND/,
    );
  });

  t.test('an unknown user gets 404', async (t) => {
    const res = await supervisor.api('GET', '/v1/users/nobody/export');
    t.equal(res.status, 404);
    t.equal(((await res.json()) as { code: string }).code, 'SUP_ERR_USER_NOT_FOUND');
  });
});
