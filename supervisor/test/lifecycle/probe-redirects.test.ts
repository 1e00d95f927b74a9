import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Teardown } from '@tenancy/test-support';
import t from 'tap';
import { waitUntilHealthy } from '../../src/lifecycle/readiness.js';
import { readTenantSummary } from '../../src/lifecycle/tenant-summary.js';

/** A listener on 127.0.0.1 that records every request and answers with `answer`. */
async function listener(
  t: Teardown,
  answer: (path: string) => { status: number; headers?: Record<string, string>; body?: string },
) {
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    const { status, headers, body } = answer(req.url ?? '');
    res.writeHead(status, headers).end(body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const SUMMARY = '{"messages":1,"replies":1,"tokensUsed":0,"bytesStored":0,"lastActivity":null}';

/**
 * A tenant that answers its probes with a redirect to another address would make the supervisor
 * fetch that address from inside the tenant networks (a server-side request forgery, with the
 * tenant secret for the summary). The second listener stands for that address: it must see nothing.
 */
t.test('the health and summary probes refuse a redirect from a tenant: its target sees no request', async (t) => {
  const target = await listener(t, (path) =>
    path === '/summary'
      ? { status: 200, headers: { 'content-type': 'application/json' }, body: SUMMARY }
      : { status: 200 },
  );
  const tenant = await listener(t, (path) => ({ status: 302, headers: { location: `${target.url}${path}` } }));

  const probing = new AbortController();
  const stopped = new Error('enough probes');
  const health = waitUntilHealthy(
    new URL('/health', tenant.url),
    { firstIntervalMs: 5, maxIntervalMs: 10 },
    probing.signal,
    (failed) => {
      if (failed === 3) probing.abort(stopped);
    },
  );
  await t.rejects(health, stopped, 'a redirect is not a healthy answer');
  t.equal(tenant.seen.length, 3, 'the tenant was probed three times');

  t.equal(await readTenantSummary(tenant.url, 'tenant-secret-0123456789'), undefined, 'no summary through a redirect');
  t.same(tenant.seen.at(-1)?.path, '/summary');
  t.same(target.seen, [], 'the redirect target saw no request');
});
