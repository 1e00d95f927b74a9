import { randomBytes } from 'node:crypto';
import { readJson, startSupervisor, testRedisUrl } from '@tenancy/test-support';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadGatewayConfig } from '../../src/config.js';

/** A cookie jar as curl keeps one: the latest Set-Cookie value per name. */
class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(res: Response): void {
    for (const header of res.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const [name, ...value] = (pair ?? '').split('=');
      if (!name) continue;
      if (/expires=Thu, 01 Jan 1970/i.test(header) || value.join('=') === '') this.cookies.delete(name.trim());
      else this.cookies.set(name.trim(), value.join('='));
    }
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

t.test('the seed flow through the gateway: login → warmup → a request reaches the user’s own container', async (t) => {
  const supervisor = await startSupervisor(t);
  const config = loadGatewayConfig({
    GATEWAY_PORT: '0',
    AUTH_MODE: 'dev',
    DEV_AUTH_ENABLED: 'true',
    COOKIE_JWT_SECRET: randomBytes(32).toString('base64url'),
    SUPERVISOR_URL: supervisor.url,
    SUPERVISOR_TOKEN: supervisor.internalToken,
    REDIS_URL: testRedisUrl(),
    LOG_LEVEL: 'silent',
  });
  const redis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const subscriber = new Redis(config.REDIS_URL);
  t.teardown(() => {
    redis.disconnect();
    subscriber.disconnect();
  });
  const app = await buildApp(config, { redis, subscriber, logger: pino({ level: 'silent' }) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const jar = new CookieJar();
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        cookie: jar.header(),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      redirect: 'manual',
    });
    jar.store(res);
    return res;
  };

  const unauthenticated = await call('GET', '/chat');
  t.equal(unauthenticated.status, 401);
  t.equal((await readJson(unauthenticated)).code, 'GW_ERR_SESSION_MISSING');

  const login = await call('POST', '/auth/login', {
    user_id: 'test-user',
    email: 'test@example.com',
    plan: 'free',
    onboarding_completed: true,
  });
  t.equal(login.status, 200);
  t.match(await readJson(login), { user_id: 'test-user', email: 'test@example.com', plan: 'free' });
  const cookie = login.headers.getSetCookie()[0] ?? '';
  t.match(cookie, /^tenancy_session=[\w-]+\.[\w-]+\.[\w-]+; /);
  t.match(cookie, /HttpOnly/);
  t.match(cookie, /SameSite=Lax/);
  t.match(cookie, /Path=\//);

  const warmup = await call('POST', '/warmup', { user_id: 'test-user' });
  t.equal(warmup.status, 200);
  t.match(await readJson(warmup), { user_id: 'test-user', state: 'running', ready: true });

  const mismatch = await call('POST', '/warmup', { user_id: 'someone-else' });
  t.equal(mismatch.status, 403);

  // The seed's request, answered by the user's own container.
  const chat = await call('POST', '/chat', { message: 'Hello!' });
  t.equal(chat.status, 200);
  t.match(await readJson(chat), {
    reply: 'Hello! Your private container is awake and listening. Type "help" to see what I can do.',
    user_id: 'test-user',
  });
  const history = await readJson(await call('GET', '/history'));
  t.same(
    history.items.map((m: { role: string; content: string }) => m.role),
    ['assistant', 'user'],
    'stored in the tenant’s own history',
  );

  const session = await call('GET', '/auth/session');
  t.match(await readJson(session), { user_id: 'test-user', tenant: { state: 'running' } });

  const logout = await call('POST', '/auth/logout');
  t.equal(logout.status, 200);
  t.match(logout.headers.getSetCookie()[0] ?? '', /^tenancy_session=;/);
  const replay = await fetch(`${base}/anything`, { headers: { cookie: cookie.split(';')[0] ?? '' } });
  t.equal(replay.status, 401, 'the logged-out cookie is refused even when replayed');
  t.equal((await readJson(replay)).code, 'GW_ERR_SESSION_INVALID');
});
