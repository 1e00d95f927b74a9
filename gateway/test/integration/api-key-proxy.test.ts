import { randomBytes } from 'node:crypto';
import type { VerifiedApiKey } from '@tenancy/shared';
import { startRedisServer } from '@tenancy/test-support';
import t from 'tap';
import { hashApiKey, mintApiKey } from '../../src/api-keys/key-format.js';
import { errors } from '../../src/errors.js';
import { tenantLabel } from '../../src/origins/tenant-label.js';
import { echoTenant, fakeSupervisor, openWebSocket, startGateway } from '../harness.js';

/** A stand-in supervisor that knows one API key, of `userId`, and counts its verifications. */
function keyedSupervisor(tenantUrl: string, userId: string, email: string | null) {
  const fake = fakeSupervisor(tenantUrl);
  const { id, key } = mintApiKey();
  const counts = { verifications: 0 };
  fake.client.verifyApiKey = async (keyId, keyHash) => {
    counts.verifications++;
    if (keyId !== id || keyHash !== hashApiKey(key)) throw errors.apiKeyInvalid();
    const record: VerifiedApiKey = {
      id,
      userId,
      name: 'script',
      scope: 'tenant',
      createdAt: Date.now(),
      expiresAt: null,
      lastUsedAt: Date.now(),
      revokedAt: null,
      revokedBy: null,
      email,
      plan: 'free',
    };
    return record;
  };
  return { client: fake.client, key, counts };
}

/**
 * What reaches the tenant of a request made with an API key: the user's identity, never the
 * key. The key's record comes from a stand-in supervisor here (api-keys.test.ts runs the real one).
 */
t.test('a key never reaches the tenant: not over HTTP, not over a WebSocket; another bearer passes', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const { client, key, counts } = keyedSupervisor(tenant.url, 'keyed', 'keyed@example.com');
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: client });

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
  t.equal(counts.verifications, 1, 'verified once, then from memory');

  // A tenant app's own bearer token is none of the platform's business: it passes, with the cookie.
  const cookie = await gw.login('cookie-user');
  const own = await fetch(`${gw.url}/echo`, { headers: { cookie, authorization: 'Bearer app-own-token' } });
  t.equal(own.status, 200);
  t.equal(((await own.json()) as { headers: Record<string, string> }).headers.authorization, 'Bearer app-own-token');

  const mistyped = `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`;
  const refusedWs = await openWebSocket(gw, '', { authorization: `Bearer ${mistyped}` });
  t.equal(refusedWs.status, 401, 'a malformed key opens nothing');
});

t.test('subdomain mode: a key works on its user’s own tenant host, and on no other', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const { client, key } = keyedSupervisor(tenant.url, 'alice', null);
  const labelKey = randomBytes(32).toString('base64url');
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: client,
    env: {
      PUBLIC_BASE_URL: 'http://localhost:8080',
      TENANT_ROUTING: 'subdomain',
      TENANT_DOMAIN: 'localhost',
      TENANT_LABEL_KEY: labelKey,
    },
  });
  const hostOf = (userId: string) => `${tenantLabel(labelKey, userId)}.localhost:8080`;
  const call = (host: string, url: string) =>
    gw.app.inject({ method: 'GET', url, headers: { host, authorization: `Bearer ${key}` } });

  const own = await call(hostOf('alice'), '/notes');
  t.equal(own.statusCode, 200);
  t.equal(own.json().headers['x-tenancy-user-id'], 'alice');
  t.equal(own.json().headers.authorization, undefined);
  const other = await call(hostOf('bob'), '/notes');
  t.equal(other.statusCode, 403);
  t.equal(other.json().code, 'GW_ERR_TENANT_FORBIDDEN');
  const warmup = await gw.app.inject({
    method: 'POST',
    url: '/warmup',
    headers: { host: 'localhost:8080', authorization: `Bearer ${key}` },
  });
  t.equal(warmup.statusCode, 200, 'warmup on the platform host');
  t.equal(warmup.json().user_id, 'alice');
});
