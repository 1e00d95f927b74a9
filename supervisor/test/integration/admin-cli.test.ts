import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seg, startSupervisor } from '@tenancy/test-support';
import Database from 'better-sqlite3';
import t from 'tap';
import { run } from '../../src/cli/admin-cli.js';

t.test('tenancy-admin drives the real admin API', async (t) => {
  const supervisor = await startSupervisor(t);
  await supervisor.api('PUT', `/internal/v1/users/${seg('cli user')}`, { email: 'cli@example.com' }, 'internal');
  const env = { SUPERVISOR_URL: supervisor.url, ADMIN_TOKEN: supervisor.adminToken };
  const cli = async (...args: string[]) => {
    const lines: string[] = [];
    const code = await run(args, env, (text) => lines.push(text));
    return { code, out: lines.join('\n') };
  };

  const started = await cli('start', 'cli user');
  t.equal(started.code, 0);
  t.match(started.out, /^FIELD\s+VALUE\nuser\s+cli user\n/);
  t.match(started.out, /state\s+running/);
  t.match(started.out, /limits\s+4 GiB, 2 CPUs, 512 PIDs, egress off/);

  const list = await cli('list');
  t.match(list.out, /^USER\s+STATE\s+LAST ACTIVITY\s+SLEEPS AT\s+STOP REASON\s+WAKES\ncli user\s+running\s+\d{4}-/);
  const asJson = JSON.parse((await cli('list', '--json')).out);
  t.equal(asJson.items[0].userId, 'cli user');

  t.equal((await cli('logs', 'cli user', '--tail', '5')).code, 0);
  t.match((await cli('stop', 'cli user')).out, /state\s+asleep/);
  t.match((await cli('audit', '--user', 'cli user')).out, /bootstrap\s+tenant\.stop\s+cli user\s+ok/);
  t.match((await cli('summary')).out, /tenants asleep\s+1/);

  const backup = JSON.parse((await cli('backup', '--json')).out);
  t.match(backup, { path: /tenancy-.*\.db$/, bytes: Number });
  const copy = new Database(backup.path, { readonly: true });
  t.teardown(() => copy.close());
  t.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
  t.equal((copy.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n, 1, 'the backup holds the data');

  t.match((await cli('start', 'cli user')).out, /state\s+running/);
  t.match((await cli('status', 'cli user')).out, /last seen\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n.*account\s+active/s);
  t.equal((await cli('disable', 'cli user')).out, 'disabled cli user');
  t.match((await cli('status', 'cli user')).out, /state\s+asleep/, 'disabling stopped the container');
  await t.rejects(cli('start', 'cli user'), /403 SUP_ERR_USER_DISABLED/);
  t.equal((await cli('enable', 'cli user')).out, 'enabled cli user');
  const audit = JSON.parse((await cli('audit', '--user', 'cli user', '--json')).out);
  t.match(
    audit.items.slice(0, 3).map((item: { action: string; result: string }) => `${item.action}:${item.result}`),
    ['user.enable:ok', 'tenant.wake:denied', 'user.disable:ok'],
  );
  await t.rejects(cli('delete', 'cli user'), /add --yes to confirm/);
  t.equal((await cli('delete', 'cli user', '--yes')).out, 'deleted cli user');
  await t.rejects(cli('status', 'cli user'), /404 SUP_ERR_TENANT_NOT_FOUND/);
  await t.rejects(
    run(['list'], { SUPERVISOR_URL: supervisor.url, ADMIN_TOKEN: 'wrong' }, () => undefined),
    /401 SUP_ERR_AUTH_INVALID/,
  );
  await t.rejects(
    run(['list'], {}, () => undefined),
    /set ADMIN_TOKEN/,
  );
  t.equal(await run([], env, () => undefined), 2, 'no command: usage and exit 2');

  // An empty ADMIN_TOKEN= line (as .env.example has) must not hide ADMIN_TOKEN_FILE.
  const dir = mkdtempSync(join(tmpdir(), 'cli-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'admin-token'), `${supervisor.adminToken}\n`);
  const fromFile = { SUPERVISOR_URL: supervisor.url, ADMIN_TOKEN: '', ADMIN_TOKEN_FILE: join(dir, 'admin-token') };
  t.equal(await run(['list'], fromFile, () => undefined), 0, 'the token file is used');
});
