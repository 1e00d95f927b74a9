import { readJson, seg } from '@tenancy/test-support';
import t from 'tap';
import { curlWithJar } from './curl.js';
import { startPlatform } from './platform.js';
import { chatAgainAndCheckHistory, loginWarmupHello } from './seed-steps.js';

const USER = 'e2e-seed-user';

t.test('the seed flow through nginx with curl: login → warmup → chat, sleep, chat again', async (t) => {
  const platform = await startPlatform(t, {
    // Short enough to watch the container pause, then stop, inside a test.
    supervisor: { IDLE_TIMEOUT: '3s', PAUSE_TIMEOUT: '1s', REAPER_INTERVAL: '250ms' },
    // The default route cache: the supervisor's feed of stops keeps it honest.
    gateway: { ACTIVITY_FLUSH_INTERVAL: '500ms' },
  });
  const curl = curlWithJar(t, platform.url);

  await loginWarmupHello(t, curl, USER);

  // No traffic: the supervisor pauses the container, then stops it, with reason idle.
  const asleep = await waitForTenant(platform.supervisor, USER, (tenant) => tenant.state === 'asleep', 20_000);
  t.match(asleep, { state: 'asleep', stopReason: 'idle', endpoint: null });
  const history = await readJson(await platform.supervisor.api('GET', `/v1/audit?target=${seg(USER)}`));
  t.match(
    history.items.map((item: { action: string }) => item.action).slice(0, 2),
    ['tenant.stop', 'tenant.pause'],
    'paused first, then stopped',
  );

  // The next message wakes it again (the API client is held until it is ready), and the history
  // on the tenant's own volume holds both conversations.
  await chatAgainAndCheckHistory(t, curl, USER);
  const woke = await readJson(await platform.supervisor.api('GET', `/v1/tenants/${seg(USER)}`));
  t.match(woke, { state: 'running', wakeCount: 2 }, 'woken a second time');

  // Paused (the first stage of sleep), the next request thaws it and is answered.
  await platform.supervisor.api('POST', `/v1/tenants/${seg(USER)}/pause`);
  const whilePaused = await curl.call('GET', '/auth/session');
  t.match(whilePaused.json, { tenant: { state: 'paused' } }, 'the session shows the first stage of sleep');
  const afterPause = await curl.call('POST', '/chat', { message: 'awake?' });
  t.equal(afterPause.status, 200, `the request to a paused container is answered: ${afterPause.body}`);
  t.match(
    await readJson(await platform.supervisor.api('GET', `/v1/tenants/${seg(USER)}`)),
    { state: 'running', wakeCount: 3 },
    'woken for it',
  );

  // An operator stops the container between two requests: the gateway forgets its route at
  // once (the supervisor's feed of stops), so the next request wakes it instead of failing.
  const stopped = await readJson(await platform.supervisor.api('POST', `/v1/tenants/${seg(USER)}/stop`));
  t.match(stopped, { state: 'asleep', stopReason: 'admin' });
  const afterStop = await curl.call('POST', '/chat', { message: 'still there?' });
  t.equal(afterStop.status, 200, `the request right after the stop is answered: ${afterStop.body}`);
  t.match(
    await readJson(await platform.supervisor.api('GET', `/v1/tenants/${seg(USER)}`)),
    { state: 'running', wakeCount: 4 },
    'woken for it',
  );

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
