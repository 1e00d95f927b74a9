import { readJson, startRedisServer, startSupervisor, type Teardown } from '@tenancy/test-support';
import t from 'tap';
import { createSupervisorClient } from '../../src/supervisor/client.js';
import { capturingLogger, type LogLine, startGateway, until } from '../harness.js';
import { commandStats, commandsBetween } from '../redis-commands.js';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const revokedOn = (lines: LogLine[], keyId: string) =>
  lines.some((line) => line.msg === 'api key revoked' && line.keyId === keyId);

/**
 * A real supervisor (its central SQLite holds the keys; it starts the real tenant container),
 * a real Redis, and two gateway replicas: what one replica does with a key, the other sees.
 */
async function platform(t: Teardown, options: { clockOffsetMs?: number } = {}) {
  const supervisor = await startSupervisor(t);
  const redis = await startRedisServer(t);
  const client = createSupervisorClient(supervisor.url, supervisor.internalToken);
  const logA = capturingLogger('info');
  const logB = capturingLogger('info');
  const offset = options.clockOffsetMs ?? 0;
  const a = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: client,
    logger: logA.logger,
    ...(offset ? { now: () => Date.now() + offset } : {}),
  });
  const b = await startGateway(t, { redisUrl: redis.url, supervisor: client, logger: logB.logger });
  // Both replicas follow the supervisor's feed (admin revocations come that way).
  await until('both replicas follow the feed', () =>
    [logA, logB].every((log) => log.lines.some((line) => line.msg === 'following tenant stops')),
  );
  return { supervisor, redis, a, b, logA, logB };
}

async function createKey(url: string, cookie: string, body: Record<string, unknown>) {
  const res = await fetch(`${url}/auth/api-keys`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await readJson(res) };
}

t.test(
  'create → warm up and chat with curl-style requests on another replica → list → revoke → refused there, from its view',
  async (t) => {
    const { supervisor, redis, a, b, logB } = await platform(t);
    const cookie = await a.login('key-user', { email: 'key@example.com' });

    const created = await createKey(a.url, cookie, { name: 'laptop' });
    t.equal(created.status, 201);
    t.equal(created.headers.get('cache-control'), 'no-store');
    const { key, id } = created.body;
    t.match(key, /^tny_[0-9A-Za-z]{61}$/);
    t.equal(key.slice(4, 16), id);
    t.strictSame(Object.keys(created.body).sort(), [
      'created_at',
      'expires_at',
      'id',
      'key',
      'last_used_at',
      'name',
      'revoked_at',
      'scope',
    ]);
    t.match(created.body, { name: 'laptop', scope: 'tenant', expires_at: null, last_used_at: null, revoked_at: null });

    // No cookie at all: the key alone, as curl would send it.
    const warmup = await fetch(`${b.url}/warmup`, { method: 'POST', headers: bearer(key) });
    t.equal(warmup.status, 200);
    t.match(await readJson(warmup), { user_id: 'key-user', state: 'running', ready: true });
    t.equal(warmup.headers.getSetCookie().length, 0, 'a key gets no cookie');
    const chat = await fetch(`${b.url}/chat`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'Hello!' }),
    });
    t.equal(chat.status, 200);
    t.match(await readJson(chat), { user_id: 'key-user' });

    // A key cannot manage keys: that takes the signed-in user's cookie.
    const withKey = await fetch(`${a.url}/auth/api-keys`, { headers: bearer(key) });
    t.equal(withKey.status, 401);
    t.equal((await readJson(withKey)).code, 'GW_ERR_SESSION_MISSING');

    const list = await readJson(await fetch(`${a.url}/auth/api-keys`, { headers: { cookie } }));
    t.equal(list.items.length, 1);
    t.match(list.items[0], { id, name: 'laptop', scope: 'tenant', revoked_at: null });
    t.type(list.items[0].last_used_at, 'string', 'its first use is recorded');
    t.notOk('key' in list.items[0], 'the key itself is never listed');
    const admin = await readJson(await supervisor.api('GET', '/v1/api-keys?userId=key-user'));
    t.match(admin.items, [{ id, userId: 'key-user', name: 'laptop', revokedAt: null }]);
    t.notOk(JSON.stringify(admin).includes(key.slice(16)), 'nor any part of its secret');

    // Steady state: requests with a known key cost Redis nothing (and the supervisor nothing).
    await until('replica B trusts its revocation view', () => b.revocationViewTrusted());
    const before = await commandStats(redis.url);
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${b.url}/history`, { headers: bearer(key) });
      t.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const during = commandsBetween(before, await commandStats(redis.url));
    t.same(during, {}, `Redis commands during 50 requests with a key: ${JSON.stringify(during)}`);

    // Revoked on replica A; replica B hears it on the revocation channel.
    const revokeSent = Date.now();
    const revoke = await fetch(`${a.url}/auth/api-keys/${id}`, { method: 'DELETE', headers: { cookie } });
    t.equal(revoke.status, 200);
    t.match(await readJson(revoke), { id, revoked_at: String });
    await until('replica B has heard of the revocation', () => revokedOn(logB.lines, id));
    // A figure, not a threshold: from sending the DELETE to replica B's log line (pino's clock).
    const heardAt = logB.lines.find((line) => line.msg === 'api key revoked' && line.keyId === id)?.time;
    t.comment(`replica B heard of the revocation ${Number(heardAt) - revokeSent} ms after the DELETE was sent`);
    const refused = await fetch(`${b.url}/history`, { headers: bearer(key) });
    t.equal(refused.status, 401);
    t.equal((await readJson(refused)).code, 'GW_ERR_API_KEY_INVALID');
    t.ok(await b.revocationViewTrusted(), 'refused from its own view, which stayed trusted');
    const again = await fetch(`${a.url}/warmup`, { method: 'POST', headers: bearer(key) });
    t.equal(again.status, 401, 'and on replica A');

    const audit = await readJson(await supervisor.api('GET', '/v1/audit?target=key-user'));
    const actions = audit.items
      .filter((entry: { action: string }) => entry.action.startsWith('api-key.'))
      .map((entry: { action: string; actor: string; detail: { keyId: string } }) => [
        entry.action,
        entry.actor,
        entry.detail.keyId,
      ]);
    t.strictSame(actions, [
      ['api-key.revoke', 'self', id],
      ['api-key.first-use', 'self', id],
      ['api-key.create', 'self', id],
    ]);
  },
);

t.test('an admin revokes a key through the supervisor: every replica refuses it', async (t) => {
  const { supervisor, a, b, logA, logB } = await platform(t);
  const cookie = await a.login('admin-revoked');
  const { body } = await createKey(a.url, cookie, { name: 'ci' });
  t.equal((await fetch(`${b.url}/warmup`, { method: 'POST', headers: bearer(body.key) })).status, 200);

  const revoke = await supervisor.api('DELETE', `/v1/api-keys/${body.id}`);
  t.equal(revoke.status, 200);
  t.match(await readJson(revoke), { id: body.id, revokedBy: 'bootstrap' });
  await until('both replicas have heard of the revocation', () =>
    [logA, logB].every((log) => revokedOn(log.lines, body.id)),
  );
  for (const gw of [a, b]) {
    const res = await fetch(`${gw.url}/warmup`, { method: 'POST', headers: bearer(body.key) });
    t.equal(res.status, 401);
    t.equal((await readJson(res)).code, 'GW_ERR_API_KEY_INVALID');
  }
  const notMine = await fetch(`${a.url}/auth/api-keys/${body.id.replace(/.$/, '0')}`, {
    method: 'DELETE',
    headers: { cookie: await a.login('someone-else') },
  });
  t.equal(notMine.status, 404);
  t.equal((await readJson(notMine)).code, 'GW_ERR_API_KEY_NOT_FOUND');
  const audit = await readJson(await supervisor.api('GET', '/v1/audit?action=api-key.revoke'));
  t.match(audit.items, [{ actor: 'bootstrap', target: 'admin-revoked', detail: { keyId: body.id } }]);
});

t.test(
  'refused: an expired key, a wrong checksum (without asking the supervisor), and too many failures',
  async (t) => {
    // Replica A's clock runs two minutes behind: a key it makes to last a minute has expired by the
    // supervisor's (and replica B's) clock already.
    const { supervisor, a, b, logB } = await platform(t, { clockOffsetMs: -120_000 });
    const cookie = await a.login('expiring');
    const { body } = await createKey(a.url, cookie, { name: 'short', expires_in_seconds: 60 });
    t.ok(body.expires_at < new Date().toISOString(), 'it expired a minute ago');
    const expired = await fetch(`${b.url}/warmup`, { method: 'POST', headers: bearer(body.key) });
    t.equal(expired.status, 401);
    t.equal((await readJson(expired)).code, 'GW_ERR_API_KEY_INVALID');

    const verifications = () => supervisor.output.filter((line) => line.includes('/verify')).length;
    // The supervisor's log reaches the test through a pipe, after its answer: wait for the line of
    // the expired key's check before counting from it.
    await until('the supervisor logged the expired key’s check', () => verifications() >= 1);
    const asked = verifications();
    const last = body.key.at(-1) === 'a' ? 'b' : 'a';
    const mistyped = `${body.key.slice(0, -1)}${last}`;
    const client = { 'x-real-ip': '203.0.113.7' };
    const wrong = await fetch(`${b.url}/history`, { headers: { ...bearer(mistyped), ...client } });
    t.equal(wrong.status, 401);
    t.equal((await readJson(wrong)).code, 'GW_ERR_API_KEY_INVALID');
    t.match(logB.lines.at(-1), { msg: 'request completed' });
    t.ok(
      logB.lines.some((line) => line.msg === 'api key refused' && line.reason === 'malformed'),
      'refused for its checksum',
    );
    t.equal(verifications(), asked, 'the supervisor was not asked');

    // 10 failures a minute per client (this one has 1 already); then 429 before any check.
    for (let i = 0; i < 9; i++) {
      const res = await fetch(`${b.url}/history`, { headers: { ...bearer(mistyped), ...client } });
      t.equal(res.status, 401);
      await res.arrayBuffer();
    }
    const limited = await fetch(`${b.url}/history`, { headers: { ...bearer(mistyped), ...client } });
    t.equal(limited.status, 429);
    t.match(await readJson(limited), { code: 'GW_ERR_API_KEY_RATE_LIMITED', retryAfterSeconds: Number });
    t.match(limited.headers.get('retry-after'), /^\d+$/);
    const otherClient = await fetch(`${b.url}/history`, {
      headers: { ...bearer(mistyped), 'x-real-ip': '203.0.113.8' },
    });
    t.equal(otherClient.status, 401, 'another client is not held back');
  },
);
