import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort, startNginx, type Teardown } from '@tenancy/test-support';
import t from 'tap';
import { NGINX_INCLUDES, renderNginx } from '../../../scripts/render-nginx.js';

/** A stand-in gateway: echoes what it received, streams SSE slowly, and tunnels upgrades. */
async function fakeGateway(t: Teardown) {
  const seen: IncomingHttpHeaders[] = [];
  const heldStreams = new Set<() => void>();
  const server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.url === '/stream') {
      // The end waits for the test (endStreams): a client can only have the first event before
      // it if nothing on the way buffers the stream.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      heldStreams.add(() => res.end('data: last\n\n'));
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
  });
  const tunnels = new Set<import('node:stream').Duplex>();
  server.on('upgrade', (req, socket) => {
    seen.push(req.headers);
    tunnels.add(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (chunk) => socket.write(Buffer.concat([Buffer.from('echo:'), chunk])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    for (const socket of tunnels) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    /** Ends every `/stream` response so far. */
    endStreams() {
      for (const end of heldStreams) end();
      heldStreams.clear();
    },
  };
}

async function startEdge(t: Teardown, trustedProxies: string[] = [], tenantDomain?: string) {
  const gateway = await fakeGateway(t);
  const port = await freePort();
  const config = (dir: string) =>
    renderNginx({
      listen: `127.0.0.1:${port}`,
      gateways: [gateway.address],
      trustedProxies,
      accessLog: `${dir}/logs/access.log`,
      ...(tenantDomain ? { tenantDomain } : {}),
    });
  await startNginx(t, config, NGINX_INCLUDES, `http://127.0.0.1:${port}/health`);
  return { url: `http://127.0.0.1:${port}`, port, gateway };
}

t.test('the rendered config passes nginx -t and answers its own /health', async (t) => {
  const edge = await startEdge(t);
  const res = await fetch(`${edge.url}/health`);
  t.equal(res.status, 200);
  t.same(await res.json(), { status: 'ok' });
  t.equal(edge.gateway.seen.length, 0, 'the gateway was not asked');
});

t.test('the gateway’s readiness and metrics are not published at the edge', async (t) => {
  const edge = await startEdge(t);
  for (const path of ['/ready', '/metrics']) {
    const res = await fetch(`${edge.url}${path}`);
    await res.arrayBuffer();
    t.equal(res.status, 404, path);
  }
  t.equal(edge.gateway.seen.length, 0, 'the gateway was not asked');
});

t.test('client-sent forwarding headers are overwritten when the peer is not a trusted proxy', async (t) => {
  const edge = await startEdge(t);
  const res = await fetch(`${edge.url}/chat`, {
    headers: {
      'x-forwarded-for': '6.6.6.6',
      'x-real-ip': '6.6.6.6',
      'cf-connecting-ip': '6.6.6.6',
      forwarded: 'for=6.6.6.6',
      'x-request-id': 'client-chosen',
    },
  });
  t.equal(res.status, 200);
  const { headers } = (await res.json()) as { headers: Record<string, string> };
  t.equal(headers['x-forwarded-for'], '127.0.0.1');
  t.equal(headers['x-real-ip'], '127.0.0.1');
  t.equal(headers['cf-connecting-ip'], undefined);
  t.equal(headers.forwarded, undefined);
  t.match(headers['x-request-id'], /^[0-9a-f]{32}$/, 'nginx sets its own request id');
  t.equal(res.headers.get('x-request-id'), headers['x-request-id'], 'and returns it to the client');
  t.equal(res.headers.get('x-content-type-options'), 'nosniff');
  t.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN');
  t.equal(res.headers.get('referrer-policy'), 'same-origin');
  t.equal(res.headers.get('content-security-policy'), "frame-ancestors 'self'");
  t.equal(res.headers.get('server'), 'nginx', 'no version in the Server header');
});

/** One request to the edge naming `host` (fetch may not set Host), with a body of `size` bytes. */
function asHost(port: number, host: string, path: string, size = 0) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: size ? 'PUT' : 'GET', headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end(size ? Buffer.alloc(size) : undefined);
  });
}

t.test('tenant hosts: the same headers and limits, and every path is passed to the gateway', async (t) => {
  const edge = await startEdge(t, [], 'localhost');
  const tenantHost = `${'a'.repeat(26)}.localhost:${edge.port}`;
  for (const host of [`localhost:${edge.port}`, tenantHost]) {
    const res = await asHost(edge.port, host, '/page');
    t.equal(res.status, 200, host);
    t.equal(res.headers['x-content-type-options'], 'nosniff', host);
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', host);
    t.equal(res.headers['content-security-policy'], "frame-ancestors 'self'", `${host}: framed by itself only`);
    t.equal(res.headers['referrer-policy'], 'same-origin', host);
    t.match(res.headers['x-request-id'], /^[0-9a-f]{32}$/, host);
    const seen = JSON.parse(res.body) as { headers: Record<string, string> };
    t.equal(seen.headers.host, host.replace(/:\d+$/, ''), 'the gateway is told the host, without the port');
    t.equal(seen.headers['x-real-ip'], '127.0.0.1');
  }
  // On a tenant host /health, /ready and /metrics are the tenant's, not the edge's or the gateway's.
  const before = edge.gateway.seen.length;
  for (const path of ['/health', '/ready', '/metrics']) {
    const res = await asHost(edge.port, tenantHost, path);
    t.equal(res.status, 200, path);
    t.equal((JSON.parse(res.body) as { url: string }).url, path, `${path} reached the gateway`);
  }
  t.equal(edge.gateway.seen.length, before + 3);
  t.equal((await asHost(edge.port, `localhost:${edge.port}`, '/ready')).status, 404, 'but not on the platform');
  // The same size limit.
  const big = await asHost(edge.port, tenantHost, '/files/big', 26 * 1024 * 1024);
  t.equal(big.status, 413);
  t.equal(edge.gateway.seen.length, before + 3, 'refused before the gateway');
});

t.test('a trusted proxy may name the client with CF-Connecting-IP or X-Forwarded-For', async (t) => {
  const edge = await startEdge(t, ['127.0.0.1']);
  const cf = await fetch(`${edge.url}/x`, { headers: { 'cf-connecting-ip': '203.0.113.7' } });
  t.equal(((await cf.json()) as { headers: Record<string, string> }).headers['x-real-ip'], '203.0.113.7');
  const xff = await fetch(`${edge.url}/x`, { headers: { 'x-forwarded-for': '198.51.100.9' } });
  t.equal(((await xff.json()) as { headers: Record<string, string> }).headers['x-real-ip'], '198.51.100.9');
});

/** A request's status through the edge at `url` (its body read, so the connection is reused). */
function statusAt(url: string) {
  return async (path: string, init?: RequestInit): Promise<number> => {
    const res = await fetch(`${url}${path}`, init);
    await res.arrayBuffer();
    return res.status;
  };
}

t.test('logins are rate limited per client; sign-in pages and session reads go at the general rate', async (t) => {
  const edge = await startEdge(t);
  const status = statusAt(edge.url);
  const logins: number[] = [];
  for (let i = 0; i < 15; i++) logins.push(await status('/auth/login', { method: 'POST', body: '{}' }));
  t.strictSame(logins, [...Array(11).fill(200), ...Array(4).fill(429)], 'rate plus burst allowed, then 429');

  // Past the login limit, the same client still loads the sign-in page and its script and reads
  // its session, far more than the 10 a minute that once covered all of /auth/.
  const reads: Record<string, number[]> = { '/auth/login': [], '/auth/login.js': [], '/auth/session': [] };
  for (let i = 0; i < 20; i++) for (const path of Object.keys(reads)) reads[path]?.push(await status(path));
  for (const [path, statuses] of Object.entries(reads)) t.strictSame(statuses, Array(20).fill(200), `GET ${path}`);
  t.equal(await status('/auth/logout', { method: 'POST' }), 200, 'signing out is not a credential check');
  t.equal(await status('/chat'), 200, 'other paths are not affected');
  t.equal(await status('/auth/login', { method: 'POST', body: '{}' }), 429, 'and logins are still refused');
  // A backend signing users in with LOGIN_TOKEN is held by the general rate only (the gateway
  // limits failed credential checks itself: gateway/test/integration/login-modes.test.ts).
  const backend: number[] = [];
  for (let i = 0; i < 20; i++) {
    backend.push(await status('/auth/login', { method: 'POST', body: '{}', headers: { authorization: 'Bearer x' } }));
  }
  t.strictSame(backend, Array(20).fill(200), 'logins with Authorization pass at the general rate');
});

t.test('admin console sign-ins are rate limited per client, in a budget of their own', async (t) => {
  const edge = await startEdge(t);
  const status = statusAt(edge.url);
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const signIns: number[] = [];
  for (let i = 0; i < 15; i++) {
    signIns.push(await status('/_tenancy/admin/login', { method: 'POST', body: 'token=x', headers: form }));
  }
  t.strictSame(signIns, [...Array(11).fill(200), ...Array(4).fill(429)], 'rate plus burst allowed, then 429');
  const withHeader = await status('/_tenancy/admin/login', {
    method: 'POST',
    body: 'token=x',
    headers: { ...form, authorization: 'Bearer x' },
  });
  t.equal(withHeader, 429, 'an Authorization header does not get past it');
  const pages: number[] = [];
  for (let i = 0; i < 20; i++) pages.push(await status('/_tenancy/admin/login'));
  t.strictSame(pages, Array(20).fill(200), 'the sign-in page itself goes at the general rate');
  t.equal(await status('/_tenancy/admin/logout', { method: 'POST' }), 200, 'signing out is not limited');
  t.equal(await status('/auth/login', { method: 'POST', body: '{}' }), 200, "users' sign-ins keep their own budget");
});

t.test('oversized bodies are refused with 413 before reaching the gateway', async (t) => {
  const edge = await startEdge(t);
  const res = await fetch(`${edge.url}/files/big`, { method: 'PUT', body: Buffer.alloc(26 * 1024 * 1024) });
  t.equal(res.status, 413);
  t.equal(edge.gateway.seen.length, 0);
});

t.test('SSE passes through unbuffered', async (t) => {
  const edge = await startEdge(t);
  const res = await fetch(`${edge.url}/stream`);
  const reader = res.body?.getReader();
  // The stream has not ended (the gateway holds it): this read returns only if nginx passed the
  // first event on as it came. Buffered, it would wait for the end, which never comes first.
  const first = await reader?.read();
  t.match(Buffer.from(first?.value ?? []).toString(), /data: first/, 'the first event, while the stream is open');
  edge.gateway.endStreams();
  while (!(await reader?.read())?.done) {}
});

t.test('WebSocket upgrades are passed to the gateway and tunnelled', async (t) => {
  const edge = await startEdge(t);
  const echoed = await new Promise<string>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: edge.port,
      path: '/ws',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.on('upgrade', (res, socket) => {
      if (res.statusCode !== 101) reject(new Error(`status ${res.statusCode}`));
      socket.once('data', (chunk) => {
        resolve(chunk.toString());
        socket.destroy();
      });
      socket.write('hello');
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  t.equal(echoed, 'echo:hello');
  t.equal(edge.gateway.seen.at(-1)?.upgrade, 'websocket');
});
