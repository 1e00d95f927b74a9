import type { Duplex } from 'node:stream';
import { startRedisServer } from '@tenancy/test-support';
import t from 'tap';
import { echoTenant, fakeSupervisor, openWebSocket, startGateway } from '../harness.js';

const MIN = 60_000;

/** Resolves when the socket closes; without the gateway closing it, it never would (tap times out). */
const closeOf = (socket: Duplex | undefined) =>
  new Promise<void>((resolve) => {
    socket?.on('error', () => undefined);
    socket?.once('close', () => resolve());
  });

/** Reads an event stream to its end: `ended` when it finished, `cut` when the connection was cut. */
async function readToEnd(res: Response): Promise<{ text: string; how: 'ended' | 'cut' }> {
  const reader = res.body?.getReader();
  let text = '';
  try {
    for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader?.read()) {
      text += Buffer.from(chunk.value).toString();
    }
    return { text, how: 'ended' };
  } catch {
    return { text, how: 'cut' };
  }
}

t.test('a WebSocket closes when its session’s sliding window ends', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: fakeSupervisor(tenant.url).client,
    env: { SESSION_TTL: '3s', SESSION_MAX_AGE: '1h' },
  });
  const cookie = await gw.login('short-window');
  const { status, socket } = await openWebSocket(gw, cookie);
  t.equal(status, 101);
  const echoed = new Promise<string>((resolve) => socket?.once('data', (chunk: Buffer) => resolve(chunk.toString())));
  socket?.write('ping');
  t.equal(await echoed, 'echo:ping', 'the tunnel works while the session lives');
  await closeOf(socket);
  t.pass('the gateway closed the WebSocket');
  t.equal((await openWebSocket(gw, cookie)).status, 401, 'the session has indeed ended');
});

t.test('a WebSocket closes at SESSION_MAX_AGE, however active the session was', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  let clock = Date.now();
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: fakeSupervisor(tenant.url).client,
    env: { SESSION_TTL: '30m', SESSION_MAX_AGE: '1h' },
    now: () => clock,
  });
  const loggedIn = clock;
  let cookie = await gw.login('capped');
  // Used all along, as a browser does: every refresh is kept, the last one capped at one hour.
  for (const minutes of [20, 40]) {
    clock = loggedIn + minutes * MIN;
    const res = await fetch(`${gw.url}/x`, { headers: { cookie } });
    t.equal(res.status, 200);
    cookie = (res.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
  }
  const token = cookie.split('=')[1] ?? '';
  const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp: number };
  t.equal(claims.exp, Math.floor((loggedIn + 60 * MIN) / 1000), 'the last token ends at the cap');

  // Two seconds before the cap (real seconds: the tunnel's timer runs on the real clock).
  clock = claims.exp * 1000 - 2_000;
  const { status, socket } = await openWebSocket(gw, cookie);
  t.equal(status, 101);
  await closeOf(socket);
  t.pass('the gateway closed the WebSocket at the cap');
  clock = claims.exp * 1000;
  t.equal((await fetch(`${gw.url}/x`, { headers: { cookie } })).status, 401, 'the session has indeed ended');
});

t.test('a streamed response is cut when its session ends', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: fakeSupervisor(tenant.url).client,
    env: { SESSION_TTL: '3s', SESSION_MAX_AGE: '1h' },
  });
  const cookie = await gw.login('long-stream');
  const res = await fetch(`${gw.url}/forever`, { headers: { cookie, accept: 'text/event-stream' } });
  t.equal(res.status, 200);
  const { text, how } = await readToEnd(res);
  t.equal(text, 'data: one\n\n', 'the stream flowed while the session lived');
  t.equal(how, 'cut', 'then it was cut, not ended as if complete');
  t.equal((await fetch(`${gw.url}/x`, { headers: { cookie } })).status, 401, 'the session has indeed ended');
});

t.test('a streamed response is cut when its session is revoked', async (t) => {
  const redis = await startRedisServer(t);
  const tenant = await echoTenant(t);
  const gw = await startGateway(t, { redisUrl: redis.url, supervisor: fakeSupervisor(tenant.url).client });
  const cookie = await gw.login('revoked-stream');
  const other = await gw.login('revoked-stream');
  const res = await fetch(`${gw.url}/forever`, { headers: { cookie, accept: 'text/event-stream' } });
  const kept = await fetch(`${gw.url}/forever`, { headers: { cookie: other, accept: 'text/event-stream' } });
  t.equal(res.status, 200);
  const read = readToEnd(res);
  const logout = await fetch(`${gw.url}/auth/logout`, { method: 'POST', headers: { cookie } });
  t.equal(logout.status, 200);
  t.strictSame(await read, { text: 'data: one\n\n', how: 'cut' });
  // The same user's other session is not this one: its stream goes on.
  const reader = kept.body?.getReader();
  t.equal(Buffer.from((await reader?.read())?.value ?? []).toString(), 'data: one\n\n');
  await reader?.cancel();
});
