import { readJson, seg } from '@tenancy/test-support';
import t from 'tap';
import { curlWithJar } from './curl.js';
import { startPlatform } from './platform.js';

const USER = 'e2e-seed-user';

t.test('the seed flow through nginx with curl: login → warmup → chat, sleep, chat again', async (t) => {
  const platform = await startPlatform(t, {
    // Short enough to watch the container fall asleep inside a test.
    supervisor: { IDLE_TIMEOUT: '3s', REAPER_INTERVAL: '250ms' },
    gateway: { ACTIVITY_FLUSH_INTERVAL: '500ms', ROUTE_CACHE_TTL: '1s' },
  });
  const curl = curlWithJar(t, platform.url);

  const login = await curl.call('POST', '/auth/login', {
    user_id: USER,
    email: 'e2e@example.com',
    plan: 'free',
    onboarding_completed: true,
  });
  t.equal(login.status, 200, login.body);
  t.match(login.json, { user_id: USER, email: 'e2e@example.com', plan: 'free' });

  const warmup = await curl.call('POST', '/warmup', { user_id: USER });
  t.equal(warmup.status, 200, warmup.body);
  t.match(warmup.json, { user_id: USER, state: 'running', ready: true });

  const hello = await curl.call('POST', '/chat', { message: 'Hello!' });
  t.equal(hello.status, 200, hello.body);
  t.match(hello.json, {
    user_id: USER,
    reply: 'Hello! Your private container is awake and listening. Type "help" to see what I can do.',
  });

  // No traffic: the supervisor puts the container to sleep with reason idle.
  const asleep = await waitForTenant(platform.supervisor, USER, (tenant) => tenant.state === 'asleep', 20_000);
  t.match(asleep, { state: 'asleep', stopReason: 'idle', endpoint: null });

  // The next message wakes it again (the API client is held until it is ready) ...
  const again = await curl.call('POST', '/chat', { message: 'Are you back?' });
  t.equal(again.status, 200, again.body);
  t.equal(again.json.user_id, USER);
  const woke = await readJson(await platform.supervisor.api('GET', `/v1/tenants/${seg(USER)}`));
  t.match(woke, { state: 'running', wakeCount: 2 }, 'woken a second time');

  // ... and the history on the tenant's own volume holds both conversations.
  const history = await curl.call('GET', '/history');
  t.equal(history.status, 200);
  const messages = history.json.items.filter((m: { role: string }) => m.role === 'user');
  t.same(
    messages.map((m: { content: string }) => m.content),
    ['Are you back?', 'Hello!'],
    'both messages, newest first',
  );
  t.equal(history.json.items.length, 4, 'two messages and two replies');

  // The same cookie, refreshed by the gateway along the way, still names the running tenant.
  const session = await curl.call('GET', '/auth/session');
  t.equal(session.status, 200);
  t.match(session.json, { user_id: USER, tenant: { state: 'running' } });
});

/** Polls the admin API until `done(tenant)` holds. */
async function waitForTenant(
  supervisor: Awaited<ReturnType<typeof startPlatform>>['supervisor'],
  userId: string,
  done: (tenant: { state: string }) => boolean,
  timeoutMs: number,
) {
  const started = Date.now();
  for (;;) {
    const tenant = await readJson(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`));
    if (done(tenant)) return tenant;
    if (Date.now() - started > timeoutMs) throw new Error(`tenant still ${tenant.state} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
