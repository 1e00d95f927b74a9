import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRedisServer } from '@tenancy/test-support';
import t from 'tap';
import { parse } from 'yaml';
import { echoTenant, fakeSupervisor, startGateway, until } from '../harness.js';

const PASSWORD = 'redis-restart-test-password';

/**
 * The redis-server arguments compose.yaml runs Redis with (persistence and its sync policy), so
 * this test follows the deployed configuration; the password is the test's.
 */
function composeRedisArgs(): string[] {
  const compose = parse(readFileSync(join(import.meta.dirname, '../../../compose.yaml'), 'utf8')) as {
    services: { redis: { command: string[] } };
  };
  const [program, ...args] = compose.services.redis.command;
  if (program !== 'redis-server') throw new Error(`compose.yaml runs ${program}, not redis-server`);
  return args.map((arg) => (arg.startsWith('${REDIS_PASSWORD') ? PASSWORD : arg));
}

/**
 * A revocation must outlive a restart of Redis and of every gateway together: the new gateway
 * has no in-memory view to hide a Redis that lost it, so only what Redis kept on disk counts.
 * Redis runs as compose runs it; the last row runs it without persistence, to show the test
 * tells the difference.
 */
const ROWS = [
  { name: 'Redis stopped (SIGTERM) as compose restarts it', signal: 'SIGTERM', extra: [], survives: true },
  { name: 'Redis killed (SIGKILL): a crash', signal: 'SIGKILL', extra: [], survives: true },
  {
    name: 'control: without persistence the same restart forgets the revocations',
    signal: 'SIGTERM',
    extra: ['--appendonly', 'no'],
    survives: false,
  },
] as const;

t.test('compose runs Redis with an append-only file synced before each answer', async (t) => {
  const args = composeRedisArgs();
  const option = (name: string) => args[args.indexOf(name) + 1];
  t.equal(option('--appendonly'), 'yes');
  t.equal(option('--appendfsync'), 'always');
});

for (const row of ROWS) {
  t.test(`a revoked session stays revoked when Redis and the gateway both restart: ${row.name}`, async (t) => {
    const redis = await startRedisServer(t, { password: PASSWORD, args: [...composeRedisArgs(), ...row.extra] });
    const tenant = await echoTenant(t);
    const first = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
    const status = async (url: string, cookie: string) => (await fetch(`${url}/x`, { headers: { cookie } })).status;

    const loggedOut = await first.login('logged-out');
    const everywhere = await first.login('logged-out-everywhere');
    const kept = await first.login('still-signed-in');
    t.equal((await fetch(`${first.url}/auth/logout`, { method: 'POST', headers: { cookie: loggedOut } })).status, 200);
    t.equal(
      (await fetch(`${first.url}/auth/logout-all`, { method: 'POST', headers: { cookie: everywhere } })).status,
      200,
    );
    t.strictSame(
      [await status(first.url, loggedOut), await status(first.url, everywhere), await status(first.url, kept)],
      [401, 401, 200],
      'before the restarts',
    );

    // Both go down; both come back, Redis on the same data folder and arguments.
    await first.app.close();
    await redis.stop(row.signal);
    await redis.start();
    const second = await startGateway(t, {
      redisUrl: redis.url,
      supervisor: fakeSupervisor(tenant.url).client,
      env: { COOKIE_JWT_SECRET: first.config.COOKIE_JWT_SECRET },
    });
    // Answers from its own view, loaded from Redis at start: not from a fallback that asks Redis.
    await until('the new gateway trusts its revocation view', () => second.revocationViewTrusted());

    const revoked = row.survives ? 401 : 200;
    t.strictSame(
      [await status(second.url, loggedOut), await status(second.url, everywhere), await status(second.url, kept)],
      [revoked, revoked, 200],
      row.survives ? 'the revoked sessions are still refused' : 'the revoked sessions work again',
    );
  });
}
