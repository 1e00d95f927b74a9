import type { VerifiedApiKey } from '@tenancy/shared';
import { startRedisServer } from '@tenancy/test-support';
import t from 'tap';
import { hashApiKey, mintApiKey } from '../../src/api-keys/key-format.js';
import { errors } from '../../src/errors.js';
import { echoTenant, fakeSupervisor, openWebSocket, startGateway } from '../harness.js';

/**
 * What reaches the tenant of a request made with an API key: the user's identity, never the
 * key. The key's record comes from a stand-in supervisor here (api-keys.test.ts runs the real one).
 */
t.test('a key never reaches the tenant: not over HTTP, not over a WebSocket; another bearer passes', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const fake = fakeSupervisor(tenant.url);
  const { id, key } = mintApiKey();
  let verifications = 0;
  fake.client.verifyApiKey = async (keyId, keyHash) => {
    verifications++;
    if (keyId !== id || keyHash !== hashApiKey(key)) throw errors.apiKeyInvalid();
    const record: VerifiedApiKey = {
      id,
      userId: 'keyed',
      name: 'script',
      scope: 'tenant',
      createdAt: Date.now(),
      expiresAt: null,
      lastUsedAt: Date.now(),
      revokedAt: null,
      revokedBy: null,
      email: 'keyed@example.com',
      plan: 'free',
    };
    return record;
  };
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fake.client });

  const res = await fetch(`${gw.url}/echo`, { headers: { authorization: `Bearer ${key}` } });
  t.equal(res.status, 200);
  const seen = (await res.json()) as { headers: Record<string, string> };
  t.equal(seen.headers.authorization, undefined, 'the key was removed');
  t.equal(seen.headers['x-tenancy-user-id'], 'keyed');
  t.equal(seen.headers['x-tenancy-user-email'], 'keyed@example.com');
  t.notOk(JSON.stringify(seen).includes(key.slice(4)), 'no part of the key anywhere');

  const ws = await openWebSocket(gw, '', { authorization: `Bearer ${key}` });
  t.equal(ws.status, 101, 'a WebSocket opens with the key alone');
  ws.socket?.destroy();
  const upgrade = tenant.received.at(-1);
  t.equal(upgrade?.url, '/ws');
  t.equal(upgrade?.headers.authorization, undefined, 'nor through the tunnel');
  t.equal(verifications, 1, 'verified once, then from memory');

  // A tenant app's own bearer token is none of the platform's business: it passes, with the cookie.
  const cookie = await gw.login('cookie-user');
  const own = await fetch(`${gw.url}/echo`, { headers: { cookie, authorization: 'Bearer app-own-token' } });
  t.equal(own.status, 200);
  t.equal(((await own.json()) as { headers: Record<string, string> }).headers.authorization, 'Bearer app-own-token');

  const mistyped = `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`;
  const refusedWs = await openWebSocket(gw, '', { authorization: `Bearer ${mistyped}` });
  t.equal(refusedWs.status, 401, 'a malformed key opens nothing');
});
