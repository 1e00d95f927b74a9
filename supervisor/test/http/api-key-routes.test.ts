import { createHash } from 'node:crypto';
import t from 'tap';
import { build, TOKENS } from './build.js';

/** The API-key routes as the gateway and an admin meet them, in process on the real store. */

const internal = { token: TOKENS.internal };
const hashOf = (key: string) => createHash('sha256').update(key).digest('hex');
const KEY = `tny_AAAAAAAAAAAA${'s'.repeat(43)}000000`;
const body = (extra: Record<string, unknown> = {}) => ({
  id: 'AAAAAAAAAAAA',
  name: 'laptop',
  keyHash: hashOf(KEY),
  scope: 'tenant',
  expiresAt: null,
  ...extra,
});

t.test('create, verify (first use audited once), list, revoke (announced on the feed), refused after', async (t) => {
  const { request, store } = await build(t);
  await request('PUT', '/internal/v1/users/ada', { ...internal, body: { email: 'ada@example.com' } });

  const created = await request('POST', '/internal/v1/users/ada/api-keys', { ...internal, body: body() });
  t.equal(created.statusCode, 201, created.body);
  t.match(created.json(), { id: 'AAAAAAAAAAAA', userId: 'ada', name: 'laptop', scope: 'tenant', expiresAt: null });

  const verify = () =>
    request('POST', '/internal/v1/api-keys/AAAAAAAAAAAA/verify', { ...internal, body: { keyHash: hashOf(KEY) } });
  const first = await verify();
  t.equal(first.statusCode, 200, first.body);
  t.match(first.json(), { userId: 'ada', email: 'ada@example.com', plan: 'free', lastUsedAt: Number });
  t.equal((await verify()).statusCode, 200);
  const wrong = await request('POST', '/internal/v1/api-keys/AAAAAAAAAAAA/verify', {
    ...internal,
    body: { keyHash: hashOf(`${KEY}x`) },
  });
  t.equal(wrong.statusCode, 401);
  t.equal(wrong.json().code, 'SUP_ERR_API_KEY_INVALID');

  const list = await request('GET', '/internal/v1/users/ada/api-keys', internal);
  t.equal(list.json().items.length, 1);
  t.notOk(list.body.includes(hashOf(KEY)), 'the hash is never answered');

  const notTheirs = await request('DELETE', '/internal/v1/users/bob/api-keys/AAAAAAAAAAAA', internal);
  t.equal(notTheirs.statusCode, 404);
  t.equal(notTheirs.json().code, 'SUP_ERR_API_KEY_NOT_FOUND');
  const revoked = await request('DELETE', '/internal/v1/users/ada/api-keys/AAAAAAAAAAAA', internal);
  t.equal(revoked.statusCode, 200);
  t.match(revoked.json(), { revokedAt: Number, revokedBy: 'self' });
  t.equal((await verify()).statusCode, 401, 'a revoked key is refused');

  const admin = await request('DELETE', '/v1/api-keys/AAAAAAAAAAAA');
  t.equal(admin.statusCode, 200, 'revoking again is no error');
  t.equal(admin.json().revokedBy, 'self', 'and changes nothing');
  const actions = store.audit
    .list({ target: 'ada', limit: 20 })
    .map((entry) => entry.action)
    .filter((action) => action.startsWith('api-key.'));
  t.strictSame(actions, ['api-key.revoke', 'api-key.first-use', 'api-key.create']);
});

t.test('a user whose account is being deleted is refused with their keys', async (t) => {
  const { request } = await build(t);
  await request('PUT', '/internal/v1/users/eve', { ...internal, body: {} });
  t.equal((await request('POST', '/internal/v1/users/eve/api-keys', { ...internal, body: body() })).statusCode, 201);
  const verify = () =>
    request('POST', '/internal/v1/api-keys/AAAAAAAAAAAA/verify', { ...internal, body: { keyHash: hashOf(KEY) } });
  t.equal((await verify()).statusCode, 200);
  const deletion = await request('POST', '/internal/v1/users/eve/deletion', { ...internal, body: {} });
  t.equal(deletion.statusCode, 202, deletion.body);
  const refused = await verify();
  t.equal(refused.statusCode, 403);
  t.equal(refused.json().code, 'SUP_ERR_ACCOUNT_DELETION_PENDING');
});

t.test('refused: an expired key, a disabled user, an unknown user, the 51st live key', async (t) => {
  const { request } = await build(t);
  await request('PUT', '/internal/v1/users/ada', { ...internal, body: {} });
  const expired = await request('POST', '/internal/v1/users/ada/api-keys', {
    ...internal,
    body: body({ expiresAt: Date.now() - 1 }),
  });
  t.equal(expired.statusCode, 201);
  const verify = await request('POST', '/internal/v1/api-keys/AAAAAAAAAAAA/verify', {
    ...internal,
    body: { keyHash: hashOf(KEY) },
  });
  t.equal(verify.statusCode, 401);
  const unknown = await request('POST', '/internal/v1/users/nobody/api-keys', {
    ...internal,
    body: body({ id: 'BBBBBBBBBBBB' }),
  });
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().code, 'SUP_ERR_USER_NOT_FOUND');
  for (let i = 0; i < 50; i++) {
    const res = await request('POST', '/internal/v1/users/ada/api-keys', {
      ...internal,
      body: body({ id: `C${String(i).padStart(11, '0')}` }),
    });
    t.equal(res.statusCode, 201);
  }
  const tooMany = await request('POST', '/internal/v1/users/ada/api-keys', {
    ...internal,
    body: body({ id: 'DDDDDDDDDDDD' }),
  });
  t.equal(tooMany.statusCode, 409);
  t.equal(tooMany.json().code, 'SUP_ERR_API_KEY_LIMIT');
});
