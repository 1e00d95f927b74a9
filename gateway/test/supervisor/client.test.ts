import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Teardown } from '@tenancy/test-support';
import t from 'tap';
import { createSupervisorClient } from '../../src/supervisor/client.js';

/** A stand-in supervisor that answers every request with one status and error code. */
async function answering(t: Teardown, status: number, code: string, headers: Record<string, string> = {}) {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ statusCode: status, code, error: 'x', message: `supervisor says ${code}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return createSupervisorClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'x'.repeat(32));
}

t.test('supervisor errors become the gateway’s own codes; no SUP_ERR_* reaches a user', async (t) => {
  const rows: [number, string, number, string][] = [
    [404, 'SUP_ERR_USER_NOT_FOUND', 401, 'GW_ERR_SESSION_INVALID'],
    [403, 'SUP_ERR_USER_DISABLED', 403, 'GW_ERR_USER_DISABLED'],
    [429, 'SUP_ERR_CAPACITY_FULL', 429, 'GW_ERR_CAPACITY_FULL'],
    [503, 'SUP_ERR_WAKE_TIMEOUT', 503, 'GW_ERR_TENANT_WAKE_TIMEOUT'],
    [503, 'SUP_ERR_WAKE_PENDING', 503, 'GW_ERR_TENANT_WAKE_PENDING'],
    [502, 'SUP_ERR_WAKE_FAILED', 502, 'GW_ERR_TENANT_WAKE_FAILED'],
    [409, 'SUP_ERR_WAKE_CANCELLED', 502, 'GW_ERR_TENANT_WAKE_FAILED'],
    [500, 'SUP_ERR_INTERNAL', 503, 'GW_ERR_SUPERVISOR_UNAVAILABLE'],
    [418, 'SOMETHING_NEW', 503, 'GW_ERR_SUPERVISOR_UNAVAILABLE'],
  ];
  for (const [status, code, expectedStatus, expectedCode] of rows) {
    const client = await answering(t, status, code, code === 'SUP_ERR_CAPACITY_FULL' ? { 'retry-after': '7' } : {});
    const err = await client.wake('alice', { wait: true, timeoutMs: 1_000 }).catch((e: unknown) => e);
    t.match(err, { statusCode: expectedStatus, code: expectedCode }, code);
  }
});

t.test('a supervisor’s Retry-After reaches the caller; one it did not give gets a sane default', async (t) => {
  const rows: [string, Record<string, string>, number][] = [
    ['SUP_ERR_WAKE_PENDING', { 'retry-after': '12' }, 12],
    ['SUP_ERR_WAKE_PENDING', {}, 2],
    ['SUP_ERR_WAKE_PENDING', { 'retry-after': 'soon' }, 2],
    ['SUP_ERR_WAKE_TIMEOUT', { 'retry-after': '4' }, 4],
    ['SUP_ERR_CAPACITY_FULL', {}, 30],
  ];
  for (const [code, headers, seconds] of rows) {
    const client = await answering(t, code === 'SUP_ERR_CAPACITY_FULL' ? 429 : 503, code, headers);
    const err = await client.wake('alice', { wait: true, timeoutMs: 1_000 }).catch((e: unknown) => e);
    t.match(err, { details: { retryAfterSeconds: seconds } }, `${code} ${JSON.stringify(headers)}`);
  }
});
