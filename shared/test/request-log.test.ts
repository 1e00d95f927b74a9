import Fastify from 'fastify';
import { pino } from 'pino';
import t from 'tap';
import { RequestLog } from '../src/request-log.js';

/** A Fastify app using RequestLog, with every log line it writes collected as JSON. */
function appWithLog(level: string) {
  const lines: { level: number; msg: string; req?: { url: string } }[] = [];
  const destination = { write: (line: string) => void lines.push(JSON.parse(line)) };
  const app = Fastify({ loggerInstance: pino({ level }, destination), logController: new RequestLog() });
  app.get('/health', async () => ({ ok: true }));
  app.get('/thing', async () => ({ ok: true }));
  app.get('/broken', async () => {
    throw new Error('boom');
  });
  return { app, lines };
}

t.test('at info, a request writes one line; a probe writes none', async (t) => {
  const { app, lines } = appWithLog('info');
  t.teardown(() => app.close());
  await app.inject({ url: '/thing' });
  await app.inject({ url: '/health' });
  t.same(
    lines.map((l) => [l.msg, l.req?.url]),
    [['request completed', '/thing']],
  );
});

t.test('at debug, the incoming line is there too', async (t) => {
  const { app, lines } = appWithLog('debug');
  t.teardown(() => app.close());
  await app.inject({ url: '/thing' });
  t.same(
    lines.map((l) => l.msg),
    ['incoming request', 'request completed'],
  );
});

t.test('a failed request is logged as an error', async (t) => {
  const { app, lines } = appWithLog('info');
  t.teardown(() => app.close());
  const res = await app.inject({ url: '/broken' });
  t.equal(res.statusCode, 500);
  t.ok(lines.some((l) => l.level >= 50));
});
