import { startRedisServer } from '@tenancy/test-support';
import { pino } from 'pino';
import t from 'tap';
import { echoTenant, fakeSupervisor, startGateway, type TestGateway, until } from '../harness.js';
import { commandStats, commandsBetween } from '../redis-commands.js';
import { startRedisProxy } from '../redis-proxy.js';

t.test('steady state: 1,000 authenticated requests cost Redis no command at all', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const cookie = await gw.login('busy-user');
  await fetch(`${gw.url}/warm`, { headers: { cookie } });
  // On a loaded machine the first load can time out; its retry makes the view current later.
  await until('the revocation view is trusted', () => gw.revocationViewTrusted());
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

t.test('a revocation on one replica takes effect on another at once, through pub/sub', async (t) => {
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
  await until('replica B trusts its view', () => b.revocationViewTrusted());
  const started = performance.now();
  await fetch(`${a.url}/auth/logout`, { method: 'POST', headers: { cookie } });
  let status = 200;
  await until('replica B refuses the revoked session', async () => {
    status = (await fetch(`${b.url}/x`, { headers: { cookie } })).status;
    return status !== 200;
  });
  t.equal(status, 401);
  t.ok(await b.revocationViewTrusted(), 'from its own view, which stayed trusted: no Redis round trip');
  // A figure, not a threshold: how fast it propagates belongs to a benchmark.
  t.comment(`replica B refused the revoked session ${(performance.now() - started).toFixed(1)} ms after logout`);
});

t.test('Redis down: fail closed with 503 within the bound; Redis back: works again without a restart', async (t) => {
  const redis = await startRedisServer(t, { persistence: true });
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const cookie = await gw.login('resilient');
  const revoked = await gw.login('resilient-revoked');
  await fetch(`${gw.url}/auth/logout`, { method: 'POST', headers: { cookie: revoked } });

  await redis.stop();
  await until('the revocation view is no longer trusted', async () => !(await gw.revocationViewTrusted()));
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const res = await fetch(`${gw.url}/x`, { headers: { cookie } });
    times.push(performance.now() - started);
    t.equal(res.status, 503);
    t.equal(((await res.json()) as { code: string }).code, 'GW_ERR_REVOCATION_UNAVAILABLE');
  }
  // Bounded by REDIS_TIMEOUT (300 ms here): a gateway that waited for Redis without a bound would
  // hang this test until tap's timeout. The figure is printed, not asserted.
  t.comment(`answered 503 in at most ${Math.max(...times).toFixed(0)} ms`);

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

/** Redis commands `count` authenticated requests cost, by name. */
async function commandsFor(gw: TestGateway, redisUrl: string, cookie: string, count: number) {
  const before = await commandStats(redisUrl);
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${gw.url}/x`, { headers: { cookie } });
    statuses.push(res.status);
    await res.arrayBuffer();
  }
  return { statuses, commands: commandsBetween(before, await commandStats(redisUrl)) };
}

/** A logger that keeps every line it writes, parsed. */
function capturedLog() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const count = (msg: string) => lines.filter((line) => line.msg === msg).length;
  return { logger, lines, count };
}

t.test(
  'a failed first load is retried until the view is current; meanwhile /ready, the metric and one log line say so',
  async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startRedisProxy(t, redis.port);
    proxy.refuse('scan');
    const log = capturedLog();
    const tenant = await echoTenant(t);
    const gw = await startGateway(t, {
      redisUrl: proxy.url,
      supervisor: fakeSupervisor(tenant.url).client,
      logger: log.logger,
      // Refusals come back at once; the stale checks below must not time out on a busy machine.
      env: { REDIS_TIMEOUT: '5s' },
    });
    t.ok(proxy.refused('scan') >= 1, 'the first load was refused');

    const stale = await fetch(`${gw.url}/ready`);
    t.equal(stale.status, 503);
    t.strictSame(await stale.json(), {
      status: 'not ready',
      redis: true,
      supervisor: true,
      revocationView: false,
      statusCode: 503,
      code: 'GW_ERR_REVOCATION_VIEW_STALE',
      error: 'Service Unavailable',
      message: 'the revocation view is not current: every request asks Redis until it is reloaded',
    });
    t.equal(await gw.revocationViewTrusted(), false, 'the metric shows the view is not trusted');
    const cookie = await gw.login('patient-user');
    const whileStale = await commandsFor(gw, redis.url, cookie, 3);
    t.strictSame(whileStale.statuses, [200, 200, 200], 'requests are served, checked against Redis itself');
    t.strictSame(whileStale.commands, { exists: 3, get: 3 }, 'each request asked Redis twice');

    // Retries happen by themselves, and a long stale spell is still logged once.
    await until('three loads were refused', () => proxy.refused('scan') >= 3);
    proxy.release();
    await until('the revocation view is trusted', () => gw.revocationViewTrusted());

    const ready = await fetch(`${gw.url}/ready`);
    t.equal(ready.status, 200);
    t.strictSame(await ready.json(), { status: 'ready', redis: true, supervisor: true, revocationView: true });
    const recovered = await commandsFor(gw, redis.url, cookie, 100);
    t.equal(recovered.statuses.filter((status) => status === 200).length, 100, 'every request was served');
    t.strictSame(recovered.commands, {}, 'requests cost Redis no command again');
    t.equal(proxy.connections, 2, 'no reconnect: the gateway still uses its first two connections');
    t.equal(log.count('revocation view stale'), 1, 'staleness logged once');
    t.equal(log.count('revocation view current'), 1, 'recovery logged once');
    t.ok(log.count('revocation reload failed') >= 2, 'later failed loads logged at debug level');
    t.equal(log.count('revocation subscription lost'), 0);
  },
);

t.test(
  'a first load that times out (Redis slow to answer SCAN) is retried once Redis answers, without a reconnect',
  async (t) => {
    const redis = await startRedisServer(t);
    const proxy = await startRedisProxy(t, redis.port);
    proxy.hold('scan');
    const tenant = await echoTenant(t);
    const gw = await startGateway(t, { redisUrl: proxy.url, supervisor: fakeSupervisor(tenant.url).client });
    t.equal(proxy.held('scan'), 1, 'the first load is held');
    t.equal(await gw.revocationViewTrusted(), false, 'the load timed out: the view is not trusted');

    proxy.release();
    await until('the revocation view is trusted', () => gw.revocationViewTrusted());
    const cookie = await gw.login('slow-redis-user');
    const recovered = await commandsFor(gw, redis.url, cookie, 100);
    t.equal(recovered.statuses.filter((status) => status === 200).length, 100, 'every request was served');
    t.strictSame(recovered.commands, {}, 'requests cost Redis no command');
    t.equal(proxy.connections, 2, 'no reconnect: the gateway still uses its first two connections');
  },
);
