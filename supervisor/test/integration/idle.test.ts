import { readJson, seg, startSupervisor } from '@tenancy/test-support';
import t from 'tap';

t.test('an idle tenant is put to sleep with reason idle; reported activity keeps another running', async (t) => {
  const supervisor = await startSupervisor(t, { IDLE_TIMEOUT: '3s', REAPER_INTERVAL: '250ms' });
  for (const userId of ['idle-user', 'active-user']) {
    t.equal((await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, {}, 'internal')).status, 200);
    const woke = await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
    t.equal(woke.status, 200);
  }

  const started = Date.now();
  while (Date.now() - started < 5_000) {
    const res = await supervisor.api(
      'POST',
      '/internal/v1/activity',
      { items: [{ userId: 'active-user', lastActivity: Date.now(), requests: 1, wsFrames: 0, streamMs: 0 }] },
      'internal',
    );
    t.equal(res.status, 204);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  const idle = await readJson(await supervisor.api('GET', `/v1/tenants/${seg('idle-user')}`));
  const active = await readJson(await supervisor.api('GET', `/v1/tenants/${seg('active-user')}`));
  t.match(idle, { state: 'asleep', stopReason: 'idle', endpoint: null });
  t.match(active, { state: 'running', stopReason: null });
  t.ok(active.idleDeadline > Date.now(), 'the active tenant has a deadline in the future');

  const audit = await readJson(await supervisor.api('GET', `/v1/audit?target=${seg('idle-user')}&action=tenant.stop`));
  t.match(audit.items[0], { actor: 'system', action: 'tenant.stop', target: 'idle-user', result: 'ok' });

  // The container is kept for a fast next start, and the volumes with it.
  const again = await supervisor.api(
    'POST',
    `/internal/v1/tenants/${seg('idle-user')}/wake`,
    { wait: true },
    'internal',
  );
  t.match(await readJson(again), { state: 'running' });
});
