import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Teardown } from '@tenancy/test-support';
import { pino } from 'pino';
import t from 'tap';
import { type Summary, SummaryPusher } from '../../src/summary/summary-pusher.js';

/** A stand-in summary ingest on 127.0.0.1 that records what it receives; can be told to fail. */
async function ingest(t: Teardown) {
  const received: { headers: IncomingHttpHeaders; body: Summary }[] = [];
  let status = 204;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/tenants/alice/summary`,
    received,
    answer: (code: number) => {
      status = code;
    },
  };
}

t.test('pushes the summary with the tenant token, skips repeats, retries failures, pushes at stop', async (t) => {
  const server = await ingest(t);
  let summary: Summary = { messages: 1, replies: 1, tokensUsed: 0, bytesStored: 10, lastActivity: 1000 };
  const pusher = new SummaryPusher({
    url: server.url,
    token: 'tenant-summary-token',
    intervalMs: 60_000,
    collect: async () => summary,
    log: pino({ level: 'silent' }),
  });

  t.equal(await pusher.push(), true);
  t.equal(server.received[0]?.headers.authorization, 'Bearer tenant-summary-token');
  t.same(server.received[0]?.body, summary);
  t.equal(await pusher.push(), false, 'unchanged: not sent again');
  t.equal(server.received.length, 1);

  summary = { ...summary, messages: 2, replies: 2, lastActivity: 2000 };
  server.answer(503);
  t.equal(await pusher.push(), false, 'a refused push is reported');
  server.answer(204);
  t.equal(await pusher.push(), true, 'and sent again next time');
  t.equal(server.received.length, 3);

  summary = { ...summary, bytesStored: 99 };
  pusher.start();
  await pusher.stop();
  t.same(server.received.at(-1)?.body, summary, 'the last figures go out at stop');
});

t.test('an unreachable supervisor never throws out of push', async (t) => {
  const pusher = new SummaryPusher({
    url: 'http://127.0.0.1:1/v1/tenants/alice/summary',
    token: 'x',
    intervalMs: 60_000,
    collect: async () => ({ messages: 0, replies: 0, tokensUsed: 0, bytesStored: 0, lastActivity: null }),
    log: pino({ level: 'silent' }),
  });
  t.equal(await pusher.push(500), false);
});

t.test('idle costs no timer: one push after start, then one per burst of changes, retried on failure', async (t) => {
  const server = await ingest(t);
  let summary: Summary = { messages: 0, replies: 0, tokensUsed: 0, bytesStored: 0, lastActivity: null };
  let collected = 0;
  const pusher = new SummaryPusher({
    url: server.url,
    token: 'tenant-summary-token',
    intervalMs: 40,
    collect: async () => {
      collected++;
      return summary;
    },
    log: pino({ level: 'silent' }),
  });
  t.teardown(() => pusher.stop());
  // Waits for what the pusher does, not for a time: only a check that nothing happens needs a
  // quiet moment, and a slow machine can only make that check easier to pass.
  const until = async (condition: () => boolean) => {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  const quietMoment = () => new Promise((resolve) => setTimeout(resolve, 150));

  t.equal(pusher.armed, false, 'nothing armed before start');
  pusher.start();
  t.equal(pusher.armed, true);
  await until(() => server.received.length === 1 && !pusher.armed);
  t.pass('the figures go out once after the start, and then no timer runs while idle');
  await quietMoment();
  t.equal(collected, 1, 'idle: the summary is not even read');
  t.equal(server.received.length, 1);

  summary = { ...summary, messages: 1, replies: 1, lastActivity: 1000 };
  pusher.changed();
  pusher.changed();
  pusher.changed();
  await until(() => server.received.length === 2 && !pusher.armed);
  t.same(server.received.at(-1)?.body, summary);
  await quietMoment();
  t.equal(server.received.length, 2, 'a burst of changes is one push');

  summary = { ...summary, messages: 2 };
  server.answer(503);
  pusher.changed();
  await until(() => server.received.length >= 3 && pusher.armed);
  t.pass('a failed push is armed again');
  server.answer(204);
  const beforeRetry = server.received.length;
  await until(() => server.received.length > beforeRetry && !pusher.armed);
  t.same(server.received.at(-1)?.body, summary, 'and sent at the retry');
});
