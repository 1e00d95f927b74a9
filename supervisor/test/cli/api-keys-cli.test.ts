import { createHash } from 'node:crypto';
import t from 'tap';
import { run } from '../../src/cli/admin-cli.js';
import { build, TOKENS } from '../http/build.js';

/** tenancy-admin api-keys / api-key-revoke, over HTTP against the in-process admin API. */

t.test('an operator lists users’ API keys and revokes one: audited, announced to the gateways', async (t) => {
  const { app, store } = await build(t);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const cli = async (...args: string[]) => {
    const lines: string[] = [];
    const code = await run(args, { SUPERVISOR_URL: url, ADMIN_TOKEN: TOKENS.admin }, (text) => lines.push(text));
    return { code, out: lines.join('\n') };
  };
  store.users.upsert('ada', {});
  store.users.upsert('bob', {});
  const hash = createHash('sha256').update('not a real key').digest('hex');
  for (const [userId, id] of [
    ['ada', 'AdaKey000001'],
    ['bob', 'BobKey000001'],
  ] as const)
    store.apiKeys.create(userId, { id, name: `${userId}-laptop`, keyHash: hash, scope: 'tenant', expiresAt: null });

  const all = await cli('api-keys');
  t.equal(all.code, 0);
  t.match(all.out, /^ID\s+USER\s+NAME\s+CREATED\s+EXPIRES\s+LAST USED\s+REVOKED\n/);
  t.match(all.out, /AdaKey000001\s+ada\s+ada-laptop\s+\d{4}-\S+ \S+\s+never/);
  t.match(all.out, /BobKey000001\s+bob\s+bob-laptop/);
  t.notMatch(all.out, hash, 'never a hash');
  const ada = await cli('api-keys', 'ada');
  t.notMatch(ada.out, /BobKey/, 'one user’s keys only');

  // The gateways' feed, as route-events.ts relays it.
  const feed = await fetch(`${url}/internal/v1/events`, { headers: { authorization: `Bearer ${TOKENS.internal}` } });
  const reader = feed.body?.getReader();
  await reader?.read();
  t.teardown(() => reader?.cancel());
  const next = reader?.read().then(({ value }) => new TextDecoder().decode(value));

  t.equal((await cli('api-key-revoke', 'AdaKey000001')).out, 'revoked API key ada-laptop (id AdaKey000001) of ada');
  t.match(await next, /event: revoke-key\ndata: \{"userId":"ada","keyId":"AdaKey000001"\}/);
  t.match(store.apiKeys.get('AdaKey000001'), { revokedBy: 'bootstrap' });
  t.match((await cli('audit', '--action', 'api-key.revoke')).out, /bootstrap\s+api-key\.revoke\s+ada\s+ok/);
  await t.rejects(cli('api-key-revoke', 'NoSuchKey000'), /404 SUP_ERR_API_KEY_NOT_FOUND/);
  await t.rejects(cli('api-key-revoke'), /api-key-revoke needs the key id/);
});
