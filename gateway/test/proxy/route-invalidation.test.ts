import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import t from 'tap';
import { RouteCache } from '../../src/proxy/route-cache.js';
import { RouteInvalidation } from '../../src/proxy/route-invalidation.js';
import { createSupervisorClient } from '../../src/supervisor/client.js';

const running = (url: string) => ({ state: 'running' as const, endpoint: { url, secret: 's'.repeat(20) } });

async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test('routes of stopped tenants are dropped at once; a reconnection drops them all', async (t) => {
  // A stand-in for the supervisor's feed, over real HTTP: the test writes events to it.
  const feeds: ServerResponse[] = [];
  let authorization = '';
  const server = createServer((req, res) => {
    authorization = req.headers.authorization ?? '';
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: hello\ndata: {}\n\n');
    feeds.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const supervisor = createSupervisorClient(
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    'x'.repeat(32),
  );
  const routes = new RouteCache(60_000);
  const invalidation = new RouteInvalidation(supervisor, routes, pino({ level: 'silent' }), { retryMs: 50 });
  invalidation.start();
  t.teardown(() => invalidation.stop());

  await until(() => invalidation.following);
  t.equal(feeds.length, 1);
  t.equal(authorization, `Bearer ${'x'.repeat(32)}`, 'the feed is asked for with the internal token');
  routes.set('alice', running('http://10.201.0.2:8080'));
  routes.set('bob', running('http://10.201.0.18:8080'));
  feeds[0]?.write(': keep-alive\n\nevent: unroute\ndata: {"userId":"alice"}\n\n');
  await until(() => routes.get('alice') === undefined);
  t.ok(routes.get('bob'), 'other routes stay');

  // The feed breaks: stops may be missed meanwhile, so the reconnection forgets every route.
  feeds[0]?.destroy();
  await until(() => !invalidation.following);
  await until(() => invalidation.following);
  t.equal(feeds.length, 2, 'reconnected');
  t.equal(routes.get('bob'), undefined, 'and dropped the rest');
  feeds[1]?.write('event: unroute\ndata: {"userId":"carol"}\n\nevent: unroute\ndata: not json\n\n');
  routes.set('dave', running('http://10.201.0.34:8080'));
  feeds[1]?.write('event: unroute\ndata: {"userId":"dave"}\n\n');
  await until(() => routes.get('dave') === undefined);
  t.equal(feeds.length, 2, 'a malformed event does not break the feed');
});

t.test('a disabled user announced on the feed is revoked, and their route dropped', async (t) => {
  const feeds: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: hello\ndata: {}\n\n');
    feeds.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const supervisor = createSupervisorClient(
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    'x'.repeat(32),
  );
  const routes = new RouteCache(60_000);
  const revoked: string[] = [];
  const invalidation = new RouteInvalidation(supervisor, routes, pino({ level: 'silent' }), {
    retryMs: 50,
    onRevoke: (userId) => revoked.push(userId),
  });
  invalidation.start();
  t.teardown(() => invalidation.stop());
  await until(() => invalidation.following);

  routes.set('alice', running('http://10.201.0.2:8080'));
  routes.set('bob', running('http://10.201.0.18:8080'));
  feeds[0]?.write('event: revoke\ndata: {"userId":"alice"}\n\nevent: revoke\ndata: nonsense\n\n');
  await until(() => revoked.length > 0);
  t.strictSame(revoked, ['alice']);
  t.equal(routes.get('alice'), undefined, 'the route is dropped too');
  t.ok(routes.get('bob'), 'other routes stay');
  feeds[0]?.write('event: unroute\ndata: {"userId":"bob"}\n\n');
  await until(() => routes.get('bob') === undefined);
  t.strictSame(revoked, ['alice'], 'an unroute revokes nothing');
});
