import { rmSync } from 'node:fs';
import { readJson, seg, startSupervisor, testDocker } from '@tenancy/test-support';
import Database from 'better-sqlite3';
import t from 'tap';
import { run } from '../../src/cli/admin-cli.js';

/** Every row of a table of the database at `path`, read from the outside (the supervisor keeps it open). */
function rows(path: string, sql: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

t.test(
  'back up, destroy the central database, restore: users, tenants and audit as backed up, and the running tenants found running',
  async (t) => {
    const supervisor = await startSupervisor(t);
    const internal = (method: string, path: string, body?: unknown) => supervisor.api(method, path, body, 'internal');
    const wake = async (user: string) =>
      readJson(await internal('POST', `/internal/v1/tenants/${seg(user)}/wake`, { wait: true }));
    const stop = async (user: string) => (await supervisor.api('POST', `/v1/tenants/${seg(user)}/stop`)).status;
    const cli = async (...args: string[]) => {
      const lines: string[] = [];
      await run(args, { DATABASE_PATH: supervisor.databasePath }, (text) => lines.push(text));
      return lines.join('\n');
    };

    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin']) {
      await internal('PUT', `/internal/v1/users/${seg(user)}`, { email: `${user}@example.com`, plan: 'free' });
    }
    const alice = await wake('alice');
    await wake('bob');
    t.equal(await stop('bob'), 200);
    await wake('dave');
    t.equal(await stop('dave'), 200);
    await wake('erin');
    t.equal((await supervisor.api('POST', `/v1/users/${seg('carol')}/disable`)).status, 200);

    // The state the backup holds.
    const usersAtBackup = rows(supervisor.databasePath, 'SELECT * FROM users ORDER BY user_id');
    const auditAtBackup = (await readJson(await supervisor.api('GET', '/v1/audit?limit=1000'))).items;
    const tenantsAtBackup = (await readJson(await supervisor.api('GET', '/v1/tenants'))).items;
    t.strictSame(
      tenantsAtBackup.map((tenant: { userId: string; state: string }) => [tenant.userId, tenant.state]),
      [
        ['alice', 'running'],
        ['bob', 'asleep'],
        ['dave', 'asleep'],
        ['erin', 'running'],
      ],
    );
    const backup = await readJson(await supervisor.api('POST', '/v1/backup'));

    // The engine moves on after the backup: dave wakes (the backup has him asleep), erin stops
    // (the backup has her running).
    const dave = await wake('dave');
    t.equal(dave.state, 'running');
    t.equal(await stop('erin'), 200);

    await t.rejects(cli('restore', backup.path, '--yes'), {
      message: `SUP_ERR_RESTORE_REFUSED: the database at ${supervisor.databasePath} is in use: stop the supervisor first`,
    });

    // The supervisor stops (tenants keep running) and its database is lost.
    await supervisor.kill('SIGTERM');
    for (const suffix of ['', '-wal', '-shm']) rmSync(supervisor.databasePath + suffix, { force: true });

    t.equal(
      await cli('restore', backup.path),
      [
        `restored ${backup.path} to ${supervisor.databasePath}: 5 users, 4 tenants, ${auditAtBackup.length} audit entries`,
        'there was no database to replace',
        'start the supervisor: it reconciles the tenants with the engine',
      ].join('\n'),
    );
    await supervisor.start();

    t.strictSame(
      rows(supervisor.databasePath, 'SELECT * FROM users ORDER BY user_id'),
      usersAtBackup,
      'users as backed up (carol still disabled)',
    );

    const audit = (await readJson(await supervisor.api('GET', '/v1/audit?limit=1000'))).items;
    const lastBackedUp = auditAtBackup[0].id;
    t.strictSame(
      audit.filter((entry: { id: number }) => entry.id <= lastBackedUp),
      auditAtBackup,
      'the audit log as backed up',
    );
    t.strictSame(
      audit
        .filter((entry: { id: number }) => entry.id > lastBackedUp)
        .map((entry: { action: string; target: string | null }) => [entry.action, entry.target]),
      [
        ['tenant.crashed', 'erin'],
        ['store.restore', null],
      ],
      'then the restore, then what reconciliation found',
    );

    // Tenants: the backup's records, settled on the engine's truth.
    const tenants = (await readJson(await supervisor.api('GET', '/v1/tenants'))).items;
    const brief = (list: { userId: string; tenantId: string; plan: string; state: string }[]) =>
      list.map(({ userId, tenantId, plan }) => ({ userId, tenantId, plan }));
    t.strictSame(brief(tenants), brief(tenantsAtBackup), 'the same tenants, ids and plans');
    t.strictSame(
      tenants.map((tenant: { userId: string; state: string }) => [tenant.userId, tenant.state]),
      [
        ['alice', 'running'],
        ['bob', 'asleep'],
        ['dave', 'running'],
        ['erin', 'asleep'],
      ],
      'running tenants are found running, whatever the backup said',
    );
    for (const [user, before] of [
      ['alice', alice],
      ['dave', dave],
    ] as const) {
      const route = await readJson(await internal('GET', `/internal/v1/tenants/${seg(user)}/route`));
      t.equal(route.endpoint.url, before.endpoint.url, `${user}: the same container, adopted`);
      t.equal((await fetch(`${route.endpoint.url}/health`)).status, 200, `${user}: it answers`);
    }
    const containers = await testDocker().listContainers({
      all: true,
      filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
    });
    t.equal(
      containers.filter((container) => container.State === 'running').length,
      2,
      'nothing was started or duplicated by the restore',
    );

    // The restored database takes new writes: a sleeping tenant wakes.
    t.equal((await wake('bob')).state, 'running');
  },
);
