import { readJson, seg, startSupervisor } from '@tenancy/test-support';
import t from 'tap';

t.test(
  'an idle tenant is paused, then stopped with reason idle; reported activity keeps another running',
  async (t) => {
    const supervisor = await startSupervisor(t, { IDLE_TIMEOUT: '3s', PAUSE_TIMEOUT: '1s', REAPER_INTERVAL: '250ms' });
    for (const userId of ['idle-user', 'active-user']) {
      t.equal((await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, {}, 'internal')).status, 200);
      const woke = await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
      t.equal(woke.status, 200);
    }

    // Keep one tenant busy until the other has gone through both stages of sleep.
    let idle = await readJson(await supervisor.api('GET', `/v1/tenants/${seg('idle-user')}`));
    for (let round = 0; idle.state !== 'asleep' && round < 240; round++) {
      const res = await supervisor.api(
        'POST',
        '/internal/v1/activity',
        { items: [{ userId: 'active-user', lastActivity: Date.now(), requests: 1, wsFrames: 0, streamMs: 0 }] },
        'internal',
      );
      t.equal(res.status, 204);
      await new Promise((resolve) => setTimeout(resolve, 250));
      idle = await readJson(await supervisor.api('GET', `/v1/tenants/${seg('idle-user')}`));
    }
    const active = await readJson(await supervisor.api('GET', `/v1/tenants/${seg('active-user')}`));
    const history = await readJson(await supervisor.api('GET', `/v1/audit?target=${seg('idle-user')}`));
    t.strictSame(
      history.items.map((item: { action: string }) => item.action).reverse(),
      ['user.login', 'tenant.wake', 'tenant.pause', 'tenant.stop'],
      'woken, then paused, then stopped',
    );
    t.match(idle, { state: 'asleep', stopReason: 'idle', endpoint: null, pausedAt: null });
    t.match(active, { state: 'running', stopReason: null });
    t.ok(active.idleDeadline > Date.now(), 'the active tenant has a deadline in the future');

    const paused = await readJson(
      await supervisor.api('GET', `/v1/audit?target=${seg('idle-user')}&action=tenant.pause`),
    );
    t.match(paused.items[0], { actor: 'system', action: 'tenant.pause', result: 'ok', detail: { reason: 'idle' } });
    const audit = await readJson(
      await supervisor.api('GET', `/v1/audit?target=${seg('idle-user')}&action=tenant.stop`),
    );
    t.match(audit.items[0], { actor: 'system', action: 'tenant.stop', target: 'idle-user', result: 'ok' });

    // The container is kept for a fast next start, and the volumes with it.
    const again = await supervisor.api(
      'POST',
      `/internal/v1/tenants/${seg('idle-user')}/wake`,
      { wait: true },
      'internal',
    );
    t.match(await readJson(again), { state: 'running' });
  },
);
