import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { freePort, startRedisServer } from '@tenancy/test-support';
import t, { type Test } from 'tap';
import { capturingLogger, echoTenant, fakeSupervisor, openWebSocket, startGateway, until } from '../harness.js';

t.test('spoofed identity and forwarding headers never reach the tenant; trusted ones are set', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const cookie = await gw.login('spoof-user', { email: 'spoof@example.com' });
  const spoofed = {
    'X-Forwarded-For': '6.6.6.6',
    'X-Forwarded-Host': 'evil.example',
    'X-Forwarded-Proto': 'gopher',
    Forwarded: 'for=6.6.6.6',
    'X-Real-IP': '6.6.6.6',
    'X-User-Id': 'admin',
    'X-User': 'admin',
    'X-Tenant-Id': 'other',
    'X-Tenancy-User-Id': 'admin',
    'X-TENANCY-TENANT-SECRET': 'guess',
    X_Forwarded_For: '6.6.6.6',
    'x-tenancy_user_plan': 'enterprise',
    'CF-Connecting-IP': '6.6.6.6',
    'X-Request-Id': 'client-chosen',
  };
  const res = await fetch(`${gw.url}/inspect?q=1`, {
    method: 'POST',
    headers: { cookie: `${cookie}; theme=dark`, ...spoofed, 'content-type': 'text/plain' },
    body: 'hello tenant',
  });
  t.equal(res.status, 200);
  const seen = (await res.json()) as { url: string; method: string; body: string; headers: Record<string, string> };
  t.equal(seen.url, '/inspect?q=1', 'path and query pass unchanged');
  t.equal(seen.method, 'POST');
  t.equal(seen.body, 'hello tenant', 'the body streams through');
  t.equal(seen.headers['x-tenancy-user-id'], 'spoof-user');
  t.equal(seen.headers['x-tenancy-user-email'], 'spoof@example.com');
  t.equal(seen.headers['x-tenancy-user-plan'], 'free');
  t.equal(seen.headers['x-tenancy-tenant-secret'], 'tenant-secret-1');
  // The gateway adopts the edge's request id (nginx always replaces a client's, see nginx/test).
  t.equal(seen.headers['x-request-id'], 'client-chosen');
  t.equal(seen.headers.cookie, 'theme=dark', 'the session cookie is removed, other cookies kept');
  for (const name of [
    'x-forwarded-for',
    'x-forwarded-host',
    'x-forwarded-proto',
    'forwarded',
    'x-real-ip',
    'x-user-id',
    'x-user',
    'x-tenant-id',
    'x_forwarded_for',
    'x-tenancy_user_plan',
    'cf-connecting-ip',
  ]) {
    t.equal(seen.headers[name], undefined, `${name} stripped`);
  }
});

t.test(
  'platform and edge cookies and credentials reach the tenant neither over HTTP nor over a WebSocket',
  async (t) => {
    const redis = await startRedisServer(t);
    const tenant = await echoTenant(t);
    const loginToken = 'login-token-0123456789abcdef0123';
    const gw = await startGateway(t, {
      redisUrl: redis.url,
      supervisor: fakeSupervisor(tenant.url).client,
      env: { LOGIN_TOKEN: loginToken },
    });
    const session = await gw.login('cookie-user');
    const headers = {
      cookie: `theme=dark; ${session}; CF_Authorization=eyJhbGciOiJSUzI1NiJ9.access.jwt; __cf_bm=bot; cf_clearance=c; _cfuvid=u; CF_AppSession=s; lang=en`,
      authorization: `Bearer ${loginToken}`,
      'cf-access-client-id': 'service-token.access',
      'cf-access-client-secret': 'service-token-secret',
      'cf-access-authenticated-user-email': 'someone@example.com',
    };
    const expectations = (t: Test, seen: Record<string, unknown>) => {
      t.equal(seen.cookie, 'theme=dark; lang=en', 'only the tenant’s own cookies, in order');
      for (const name of [
        'authorization',
        'cf-access-client-id',
        'cf-access-client-secret',
        'cf-access-authenticated-user-email',
      ]) {
        t.equal(seen[name], undefined, `${name} stripped`);
      }
      t.equal(seen['x-tenancy-user-id'], 'cookie-user');
    };

    const res = await fetch(`${gw.url}/echo`, { headers });
    t.equal(res.status, 200);
    const echoed = (await res.json()) as { headers: Record<string, unknown> };
    t.test('HTTP', async (t) => expectations(t, echoed.headers));

    const upgrade = await new Promise<{ status: number; socket?: Duplex }>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: gw.port,
        path: '/ws',
        headers: {
          ...headers,
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      req.on('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, socket }));
      req.on('response', (res) => resolve({ status: res.statusCode ?? 0 }));
      req.on('error', reject);
      req.end();
    });
    t.equal(upgrade.status, 101);
    upgrade.socket?.end();
    // The client hung up first: the tunnel goes too (the echo tenant never hangs up by itself).
    await until('the tunnel is closed', async () =>
      /^tenancy_gateway_websockets_open 0$/m.test(await (await fetch(`${gw.url}/metrics`)).text()),
    );
    const seenByUpgrade = tenant.received.at(-1);
    t.equal(seenByUpgrade?.url, '/ws');
    t.test('WebSocket', async (t) => expectations(t, { ...seenByUpgrade?.headers }));
  },
);

t.test('SSE streams through unbuffered', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const cookie = await gw.login('sse-user');
  const res = await fetch(`${gw.url}/stream`, { headers: { cookie, accept: 'text/event-stream' } });
  const reader = res.body?.getReader();
  // The tenant sends the rest only when told: a buffering proxy would hold this read forever.
  const first = await reader?.read();
  t.match(Buffer.from(first?.value ?? []).toString(), /data: one/);
  t.notMatch(Buffer.from(first?.value ?? []).toString(), /data: two/, 'the first event came alone, before the end');
  tenant.endStreams();
  let rest = '';
  for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader?.read())
    rest += Buffer.from(chunk.value).toString();
  t.match(rest, /data: two/);
});

t.test('upstream trouble becomes 502 or 504 with stable codes, and the gateway stays up', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const deadPort = await freePort();
  const dead = fakeSupervisor(`http://127.0.0.1:${deadPort}`);
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: fakeSupervisor(tenant.url).client,
    env: { UPSTREAM_TIMEOUT: '500ms' },
  });
  const cookie = await gw.login('trouble');
  const hung = await fetch(`${gw.url}/hang`, { headers: { cookie } });
  t.same([hung.status, ((await hung.json()) as { code: string }).code], [504, 'GW_ERR_UPSTREAM_TIMEOUT']);
  const reset = await fetch(`${gw.url}/reset`, { headers: { cookie } });
  t.same([reset.status, ((await reset.json()) as { code: string }).code], [502, 'GW_ERR_UPSTREAM_UNAVAILABLE']);

  const gwDead = await startGateway(t, { redisUrl: redis.url, supervisor: dead.client });
  const deadCookie = await gwDead.login('asleep');
  const refused = await fetch(`${gwDead.url}/x`, { headers: { cookie: deadCookie } });
  t.same([refused.status, ((await refused.json()) as { code: string }).code], [502, 'GW_ERR_UPSTREAM_UNAVAILABLE']);
  t.equal((await fetch(`${gw.url}/health`)).status, 200, 'still serving');
});

t.test('WebSockets are authenticated before the upgrade, echo through, and close on revocation', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const open = (cookie: string) => openWebSocket(gw, cookie);
  const before = tenant.received.length;
  t.equal((await open('tenancy_session=forged')).status, 401, 'no session, no upgrade');
  t.equal(tenant.received.length, before, 'the tenant never saw it');

  const cookie = await gw.login('ws-user');
  const { status, socket } = await open(cookie);
  t.equal(status, 101);
  const echoed = await new Promise<string>((resolve) => {
    socket?.once('data', (chunk: Buffer) => resolve(chunk.toString()));
    socket?.write('ping');
  });
  t.equal(echoed, 'echo:ping');
  t.equal(tenant.received.at(-1)?.headers['x-tenancy-user-id'], 'ws-user');
  t.equal(tenant.received.at(-1)?.headers.cookie, undefined, 'no session cookie on the upgrade either');

  const closed = new Promise<void>((resolve) => socket?.once('close', () => resolve()));
  await fetch(`${gw.url}/auth/logout`, { method: 'POST', headers: { cookie } });
  // The tenant never closes it: only the revocation can (the session lives 30 minutes more).
  await closed;
  t.pass(`the revoked session's WebSocket closed`);
});

t.test('a proxied request writes one info line; the rest of its story is at debug', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const { logger, lines } = capturingLogger('debug');
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client, logger });
  const cookie = await gw.login('log-user');
  const reqId = 'one-line-per-request-1';
  const res = await fetch(`${gw.url}/notes?page=2`, { headers: { cookie, 'x-request-id': reqId } });
  t.equal(res.status, 200);
  await res.arrayBuffer();
  // The completed line is written when the response finishes, which may be just after the client has it.
  for (let i = 0; i < 100 && !lines.some((l) => l.reqId === reqId && l.msg === 'request completed'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const mine = lines.filter((line) => line.reqId === reqId);
  const info = mine.filter((line) => line.level >= 30);
  t.same(
    info.map((line) => line.msg),
    ['request completed'],
  );
  t.match(info[0], { req: { method: 'GET', url: '/notes?page=2' }, res: { statusCode: 200 } });
  t.same(
    mine.filter((line) => line.level === 20).map((line) => line.msg),
    ['incoming request', 'proxying to the tenant'],
  );

  const health = lines.length;
  t.equal((await fetch(`${gw.url}/health`)).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(lines.length, health, 'probes write nothing, at any level');
});
