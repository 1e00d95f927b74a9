import { createHash } from 'node:crypto';
import t from 'tap';
import { hashAdminToken, mintAdminToken } from '../../src/admins/admin-tokens.js';
import { build, TOKENS } from './build.js';

/** Named admin identities: created and revoked with the bootstrap token, each audited as itself. */

const TOKEN_SHAPE = /^tnya_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;
const unauthorized = {
  statusCode: 401,
  code: 'SUP_ERR_AUTH_INVALID',
  error: 'Unauthorized',
  message: 'missing or invalid bearer token',
};
const forbidden = {
  statusCode: 403,
  code: 'SUP_ERR_ADMIN_FORBIDDEN',
  error: 'Forbidden',
  message: 'only the bootstrap ADMIN_TOKEN may create or revoke admin identities',
};

t.test('the bootstrap token creates an identity; its token is shown once and stored only as a hash', async (t) => {
  const { request, store } = await build(t);
  const before = Date.now();
  const res = await request('POST', '/v1/admins', { body: { name: 'alice', expiresInSeconds: 3600 } });
  t.equal(res.statusCode, 201);
  const created = res.json();
  t.match(created.token, TOKEN_SHAPE);
  t.equal(created.id, TOKEN_SHAPE.exec(created.token)?.[1], 'the id is the token prefix');
  t.strictSame(Object.keys(created).sort(), [
    'createdAt',
    'createdBy',
    'expiresAt',
    'id',
    'lastUsedAt',
    'name',
    'revokedAt',
    'revokedBy',
    'token',
  ]);
  t.ok(created.createdAt >= before && created.createdAt <= Date.now());
  t.equal(created.expiresAt - created.createdAt, 3_600_000, 'expires an hour after creation');
  t.match(created, { name: 'alice', createdBy: 'bootstrap', lastUsedAt: null, revokedAt: null, revokedBy: null });

  const { token, ...view } = created;
  t.strictSame((await request('GET', '/v1/admins')).json(), { items: [view] }, 'the list never shows the token');
  const stored = store.admins.credential(created.id);
  t.equal(stored?.tokenHash, createHash('sha256').update(token).digest('hex'), 'SHA-256 of the token is kept');
  t.notOk(JSON.stringify(stored).includes(token.slice(18)), 'the secret is not kept');
  t.match(store.audits().at(-1), {
    actor: 'bootstrap',
    action: 'admin.create',
    target: 'admin:alice',
    result: 'ok',
    detail: { id: created.id, expiresAt: created.expiresAt },
  });

  const forever = (await request('POST', '/v1/admins', { body: { name: 'ci.deploy@example.com' } })).json();
  t.equal(forever.expiresAt, null, 'without expiresInSeconds it never expires');
});

t.test('a named token works on the admin API and every action is audited under its name', async (t) => {
  const { request, store, controller } = await build(t);
  store.addUser('ada');
  const { token } = (await request('POST', '/v1/admins', { body: { name: 'alice' } })).json();

  t.equal((await request('POST', '/v1/tenants/ada/start', { token })).statusCode, 200);
  t.equal((await request('POST', '/v1/tenants/ada/pause', { token })).statusCode, 200);
  t.equal((await request('POST', '/v1/tenants/ada/stop', { token })).statusCode, 200);
  t.equal((await request('POST', '/v1/users/ada/disable', { token })).statusCode, 200);
  t.equal((await request('POST', '/v1/users/ada/enable', { token })).statusCode, 200);
  t.equal((await request('POST', '/v1/backup', { token })).statusCode, 200);
  await controller.wake('ada', { wait: true });
  t.equal((await request('DELETE', '/v1/tenants/ada?confirm=ada', { token })).statusCode, 204);
  // The bootstrap token still works, and is named as itself.
  t.equal((await request('POST', '/v1/users/ada/disable')).statusCode, 200);

  t.strictSame(
    store
      .audits()
      .filter((entry) => entry.actor !== 'gateway')
      .map(({ actor, action, target }) => [actor, action, target]),
    [
      ['bootstrap', 'admin.create', 'admin:alice'],
      ['admin:alice', 'tenant.wake', 'ada'],
      ['admin:alice', 'tenant.pause', 'ada'],
      ['admin:alice', 'tenant.stop', 'ada'],
      ['admin:alice', 'user.disable', 'ada'],
      ['admin:alice', 'user.enable', 'ada'],
      ['admin:alice', 'store.backup', null],
      ['admin:alice', 'tenant.stop', 'ada'],
      ['admin:alice', 'tenant.delete', 'ada'],
      ['bootstrap', 'user.disable', 'ada'],
    ],
  );
  const [alice] = (await request('GET', '/v1/admins', { token })).json().items;
  t.ok(alice.lastUsedAt !== null && alice.lastUsedAt <= Date.now(), 'the last use is recorded');
});

t.test('only the bootstrap token creates or revokes identities', async (t) => {
  const { request } = await build(t);
  const alice = (await request('POST', '/v1/admins', { body: { name: 'alice' } })).json();
  const bob = (await request('POST', '/v1/admins', { body: { name: 'bob' } })).json();

  const create = await request('POST', '/v1/admins', { body: { name: 'mallory' }, token: alice.token });
  t.strictSame([create.statusCode, create.json()], [403, forbidden]);
  const revoke = await request('DELETE', `/v1/admins/${bob.id}`, { token: alice.token });
  t.strictSame([revoke.statusCode, revoke.json()], [403, forbidden]);
  t.strictSame(
    (await request('GET', '/v1/admins', { token: alice.token })).json().items.map((i: { name: string }) => i.name),
    ['alice', 'bob'],
    'but may list them',
  );
});

t.test('a revoked, expired, altered or unknown token is refused with the same 401', async (t) => {
  const { request, store } = await build(t);
  const alice = (await request('POST', '/v1/admins', { body: { name: 'alice' } })).json();
  t.equal((await request('GET', '/v1/summary', { token: alice.token })).statusCode, 200);

  const revoked = await request('DELETE', `/v1/admins/${alice.id}`);
  t.equal(revoked.statusCode, 200);
  t.match(revoked.json(), { id: alice.id, revokedBy: 'bootstrap' });
  t.ok(revoked.json().revokedAt >= alice.createdAt);
  const after = await request('GET', '/v1/summary', { token: alice.token });
  t.strictSame([after.statusCode, after.json()], [401, unauthorized], 'refused from the next request');
  const twice = await request('DELETE', `/v1/admins/${alice.id}`);
  t.strictSame([twice.statusCode, twice.json()], [200, revoked.json()], 'revoking again changes nothing');
  t.equal(store.audits().filter((e) => e.action === 'admin.revoke').length, 1, 'and is audited once');

  // Expired a millisecond ago: written straight to the store, as no API call makes one in the past.
  const old = mintAdminToken();
  store.admins.create({ id: old.id, name: 'old', tokenHash: old.hash, createdBy: 'test', ttlMs: -1 });
  const expired = await request('GET', '/v1/summary', { token: old.token });
  t.strictSame([expired.statusCode, expired.json()], [401, unauthorized], 'expired');

  const bob = (await request('POST', '/v1/admins', { body: { name: 'bob' } })).json();
  const altered = `${bob.token.slice(0, -1)}${bob.token.endsWith('A') ? 'B' : 'A'}`;
  t.equal(hashAdminToken(altered) === hashAdminToken(bob.token), false);
  for (const [what, token] of [
    ['another secret under a real id', altered],
    ['an unknown id', `tnya_000000000000_${bob.token.slice(18)}`],
    ['not a token at all', 'tnya_'],
  ] as const) {
    const res = await request('GET', '/v1/summary', { token });
    t.strictSame([res.statusCode, res.json()], [401, unauthorized], what);
  }
  t.equal((await request('GET', '/v1/summary', { token: bob.token })).statusCode, 200, 'bob still works');
  t.equal((await request('GET', '/v1/summary', { token: TOKENS.admin })).statusCode, 200);
});

t.test('names are unique forever; unknown ids and bad input are refused', async (t) => {
  const { request } = await build(t);
  const alice = (await request('POST', '/v1/admins', { body: { name: 'alice' } })).json();
  await request('DELETE', `/v1/admins/${alice.id}`);
  const again = await request('POST', '/v1/admins', { body: { name: 'alice' } });
  t.strictSame(
    [again.statusCode, again.json()],
    [
      409,
      {
        statusCode: 409,
        code: 'SUP_ERR_ADMIN_NAME_TAKEN',
        error: 'Conflict',
        message: 'an admin identity named "alice" exists (or existed)',
      },
    ],
    'a revoked name is not reused, so the audit log stays unambiguous',
  );
  const unknown = await request('DELETE', '/v1/admins/0123456789ab');
  t.strictSame(
    [unknown.statusCode, unknown.json()],
    [
      404,
      {
        statusCode: 404,
        code: 'SUP_ERR_ADMIN_NOT_FOUND',
        error: 'Not Found',
        message: 'no admin identity "0123456789ab"',
      },
    ],
  );
  for (const body of [
    { name: '' },
    { name: 'has space' },
    { name: 'x', expiresInSeconds: 5 },
    { name: 'x', role: 'root' },
  ]) {
    const res = await request('POST', '/v1/admins', { body });
    t.equal(res.json().code, 'SUP_ERR_REQUEST_INVALID', JSON.stringify(body));
  }
  t.equal((await request('GET', '/v1/admins', { token: null })).statusCode, 401);
});
