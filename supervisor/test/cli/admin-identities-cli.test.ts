import t from 'tap';
import { run } from '../../src/cli/admin-cli.js';
import { build, TOKENS } from '../http/build.js';

/** tenancy-admin admins / admin-create / admin-revoke, over HTTP against the in-process admin API. */

t.test('an operator gets a named token with tenancy-admin, acts under their name, and is revoked', async (t) => {
  const { app, store } = await build(t);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const cli = async (token: string, ...args: string[]) => {
    const lines: string[] = [];
    const code = await run(args, { SUPERVISOR_URL: url, ADMIN_TOKEN: token }, (text) => lines.push(text));
    return { code, out: lines.join('\n') };
  };

  const created = await cli(TOKENS.admin, 'admin-create', 'alice', '--expires', '90d');
  t.equal(created.code, 0);
  const [first, second, token] = created.out.split('\n');
  t.match(first, /^created admin identity alice \(id ([0-9a-f]{12}), expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)$/);
  t.equal(second, 'its token, shown this once (give it to its holder as ADMIN_TOKEN or ADMIN_TOKEN_FILE):');
  t.match(token, /^tnya_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  const id = token?.slice(5, 17) ?? '';
  const [alice] = store.admins.list();
  t.equal(alice?.expiresAt && alice.expiresAt - alice.createdAt, 90 * 86_400_000, '--expires 90d');

  store.users.upsert('ada', {});
  t.equal((await cli(token ?? '', 'disable', 'ada')).out, 'disabled ada', 'alice acts with her own token');
  t.match((await cli(TOKENS.admin, 'audit', '--user', 'ada')).out, /admin:alice\s+user\.disable\s+ada\s+ok/);

  const list = await cli(token ?? '', 'admins');
  t.match(
    list.out,
    new RegExp(`^ID\\s+NAME\\s+CREATED\\s+BY\\s+EXPIRES\\s+LAST USED\\s+REVOKED\\n${id}\\s+alice\\s+\\d{4}-`),
  );
  t.notMatch(list.out, token ?? '', 'the list never shows a token');

  await t.rejects(cli(token ?? '', 'admin-create', 'mallory'), /403 SUP_ERR_ADMIN_FORBIDDEN/);
  await t.rejects(cli(TOKENS.admin, 'admin-create', 'bob', '--expires', 'soon'), /--expires: not a duration/);
  await t.rejects(cli(TOKENS.admin, 'admin-create'), /admin-create needs a name/);
  t.equal((await cli(TOKENS.admin, 'admin-revoke', id)).out, `revoked admin identity alice (id ${id})`);
  await t.rejects(cli(token ?? '', 'list'), /401 SUP_ERR_AUTH_INVALID/, 'her token is refused from now on');
  const json = JSON.parse((await cli(TOKENS.admin, 'admins', '--json')).out);
  t.match(json.items, [{ id, name: 'alice', revokedBy: 'bootstrap' }]);
  t.match(
    (await cli(TOKENS.admin, 'audit', '--action', 'admin.revoke')).out,
    new RegExp(`bootstrap\\s+admin\\.revoke\\s+admin:alice\\s+ok\\s+\\{"id":"${id}"\\}`),
  );
});
