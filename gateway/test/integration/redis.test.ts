import { startRedisServer, testRedisUrl } from '@tenancy/test-support';
import { Redis } from 'ioredis';
import t from 'tap';

// Foundation check: the run's real Redis answers commands and pub/sub, and a test can own a
// Redis with persistence that survives a restart (what session revocation relies on).
t.test('the shared test Redis answers commands and delivers pub/sub messages', async (t) => {
  const prefix = `test:${process.pid}:`;
  const redis = new Redis(testRedisUrl(), { keyPrefix: prefix });
  const subscriber = new Redis(testRedisUrl());
  t.teardown(() => {
    redis.disconnect();
    subscriber.disconnect();
  });

  t.equal(await redis.set('greeting', 'hello', 'EX', 60), 'OK');
  t.equal(await redis.get('greeting'), 'hello');

  const channel = `${prefix}events`;
  const received = new Promise<string>((resolve) =>
    subscriber.once('message', (_channel, message) => resolve(message)),
  );
  await subscriber.subscribe(channel);
  t.equal(await redis.publish(channel, 'revoked:abc'), 1, 'one subscriber got it');
  t.equal(await received, 'revoked:abc');
});

t.test('a persistent Redis keeps its keys across a restart', async (t) => {
  const server = await startRedisServer(t, { persistence: true, password: 'test-password-1234' });
  const first = new Redis(server.url);
  await first.set('revoked:session-1', '1', 'EX', 600);
  await first.quit();

  await server.stop();
  await server.start();

  const second = new Redis(server.url);
  t.teardown(() => second.disconnect());
  t.equal(await second.get('revoked:session-1'), '1');
  const ttl = await second.ttl('revoked:session-1');
  t.ok(ttl > 590 && ttl <= 600, `ttl kept (${ttl})`);
});
