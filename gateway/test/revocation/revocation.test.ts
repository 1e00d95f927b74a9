import { startRedisServer } from '@tenancy/test-support';
import { Redis } from 'ioredis';
import t from 'tap';
import { echoTenant, fakeSupervisor, startGateway } from '../harness.js';

/** Commands Redis has processed, by name, from its own statistics. */
async function commandStats(url: string): Promise<Record<string, number>> {
  const probe = new Redis(url);
  const info = await probe.info('commandstats');
  probe.disconnect();
  return Object.fromEntries([...info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
}

/** Commands between two snapshots, leaving out the ones the snapshots themselves send. */
function commandsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const ownProbe = new Set(['info', 'client', 'client|setinfo', 'hello', 'select']);
  return Object.fromEntries(
    Object.entries(after)
      .filter(([name, calls]) => !ownProbe.has(name) && calls !== (before[name] ?? 0))
      .map(([name, calls]) => [name, calls - (before[name] ?? 0)]),
  );
}

t.test('steady state: 1,000 authenticated requests cost Redis no command at all', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const cookie = await gw.login('busy-user');
  await fetch(`${gw.url}/warm`, { headers: { cookie } });
  const before = await commandStats(redis.url);
  let ok = 0;
  for (let i = 0; i < 1_000; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, () => fetch(`${gw.url}/x`, { headers: { cookie } })));
    for (const res of batch) {
      if (res.status === 200) ok++;
      await res.arrayBuffer();
    }
  }
  t.equal(ok, 1_000, 'every request was served');
  const during = commandsBetween(before, await commandStats(redis.url));
  t.same(during, {}, `Redis commands during 1,000 requests: ${JSON.stringify(during)}`);
});

t.test('a revocation on one replica takes effect on another within 100 ms', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const a = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const b = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: fakeSupervisor(tenant.url).client,
    env: { COOKIE_JWT_SECRET: a.config.COOKIE_JWT_SECRET },
  });
  const cookie = await a.login('replicated');
  t.equal((await fetch(`${b.url}/x`, { headers: { cookie } })).status, 200, 'replica B accepts the session');
  const started = performance.now();
  await fetch(`${a.url}/auth/logout`, { method: 'POST', headers: { cookie } });
  let status = 200;
  while (status === 200 && performance.now() - started < 1_000) {
    status = (await fetch(`${b.url}/x`, { headers: { cookie } })).status;
  }
  const ms = performance.now() - started;
  t.equal(status, 401);
  t.ok(ms < 100, `replica B refused the revoked session ${ms.toFixed(1)} ms after logout`);
});

t.test('Redis down: fail closed with 503 within the bound; Redis back: works again without a restart', async (t) => {
  const redis = await startRedisServer(t, { persistence: true });
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const cookie = await gw.login('resilient');
  const revoked = await gw.login('resilient-revoked');
  await fetch(`${gw.url}/auth/logout`, { method: 'POST', headers: { cookie: revoked } });

  await redis.stop();
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const res = await fetch(`${gw.url}/x`, { headers: { cookie } });
    times.push(performance.now() - started);
    t.equal(res.status, 503);
    t.equal(((await res.json()) as { code: string }).code, 'GW_ERR_REVOCATION_UNAVAILABLE');
  }
  t.ok(Math.max(...times) < 1_000, `answered 503 in at most ${Math.max(...times).toFixed(0)} ms`);

  await redis.start();
  let status = 503;
  const started = Date.now();
  while (status !== 200 && Date.now() - started < 10_000) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = (await fetch(`${gw.url}/x`, { headers: { cookie } })).status;
  }
  t.equal(status, 200, `accepted again ${Date.now() - started} ms after Redis came back`);
  t.equal(
    (await fetch(`${gw.url}/x`, { headers: { cookie: revoked } })).status,
    401,
    'the revocation survived the Redis restart',
  );
});
