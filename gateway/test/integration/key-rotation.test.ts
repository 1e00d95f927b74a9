import { randomBytes } from 'node:crypto';
import { startRedisServer } from '@tenancy/test-support';
import { decodeProtectedHeader } from 'jose';
import t from 'tap';
import { keyIdOf } from '../../src/session/tokens.js';
import { echoTenant, fakeSupervisor, startGateway } from '../harness.js';

const kidOf = (cookie: string) => decodeProtectedHeader(cookie.split('=')[1] ?? '').kid;

t.test('rotating COOKIE_JWT_SECRET signs nobody out; dropping the old key ends its sessions', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const supervisor = fakeSupervisor(tenant.url).client;
  const oldKey = randomBytes(32).toString('base64url');
  const newKey = randomBytes(32).toString('base64url');

  const before = await startGateway(t, { redisUrl: redis.url, supervisor, env: { COOKIE_JWT_SECRET: oldKey } });
  const oldCookie = await before.login('rotated-user');
  t.equal(kidOf(oldCookie), keyIdOf(oldKey));

  // The replicas restarted with the new key, the old one kept as previous.
  const rotated = await startGateway(t, {
    redisUrl: redis.url,
    supervisor,
    env: { COOKIE_JWT_SECRET: newKey, COOKIE_JWT_PREVIOUS_SECRETS: oldKey },
  });
  const kept = await fetch(`${rotated.url}/x`, { headers: { cookie: oldCookie } });
  t.equal(kept.status, 200, 'the session from before the rotation goes on');
  t.equal(kept.headers.getSetCookie().length, 0, 'in the first half of its window it is not replaced yet');
  const newCookie = await rotated.login('new-user');
  t.equal(kidOf(newCookie), keyIdOf(newKey), 'a new session is signed with the new key');

  // 20 minutes on (SESSION_TTL 30m): the refresh re-signs the old session with the new key.
  const later = await startGateway(t, {
    redisUrl: redis.url,
    supervisor,
    env: { COOKIE_JWT_SECRET: newKey, COOKIE_JWT_PREVIOUS_SECRETS: oldKey },
    now: () => Date.now() + 20 * 60_000,
  });
  const refreshed = await fetch(`${later.url}/x`, { headers: { cookie: oldCookie } });
  t.equal(refreshed.status, 200);
  const replacement = (refreshed.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
  t.equal(kidOf(replacement), keyIdOf(newKey), 'refreshed with the new key');

  // The old key removed: what it signed is refused, the rest goes on.
  const removed = await startGateway(t, { redisUrl: redis.url, supervisor, env: { COOKIE_JWT_SECRET: newKey } });
  const refused = await fetch(`${removed.url}/x`, { headers: { cookie: oldCookie } });
  t.equal(refused.status, 401);
  t.equal(((await refused.json()) as { code: string }).code, 'GW_ERR_SESSION_INVALID');
  t.equal((await fetch(`${removed.url}/x`, { headers: { cookie: newCookie } })).status, 200);
  t.equal((await fetch(`${removed.url}/x`, { headers: { cookie: replacement } })).status, 200);
});
