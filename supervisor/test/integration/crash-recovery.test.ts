import { readJson, seg, startSupervisor, testDocker } from '@tenancy/test-support';
import t from 'tap';

const wakeStates = new Set(['running', 'asleep']);

for (const moment of ['during a wake', 'during a stop'] as const) {
  t.test(`kill -9 of the supervisor ${moment}, then a restart, ends consistent`, async (t) => {
    const supervisor = await startSupervisor(t, { STOP_GRACE: '5s' });
    const userId = `crash-${moment.split(' ')[2]}`;
    await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, {}, 'internal');

    if (moment === 'during a wake') {
      await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: false }, 'internal');
      // Let it get past creating, into starting or waiting for health.
      for (let i = 0; i < 200; i++) {
        const route = await readJson(
          await supervisor.api('GET', `/internal/v1/tenants/${seg(userId)}/route`, undefined, 'internal'),
        );
        if (route.phase === 'starting' || route.phase === 'waiting-health' || route.state === 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    } else {
      await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
      void supervisor.api('POST', `/v1/tenants/${seg(userId)}/stop`).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    await supervisor.kill('SIGKILL');
    await supervisor.start();

    const tenant = await readJson(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`));
    t.ok(wakeStates.has(tenant.state), `settled in ${tenant.state}, never stuck`);
    const containers = await testDocker().listContainers({
      all: true,
      filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
    });
    t.equal(containers.length, 1, 'one container for the tenant');
    const running = containers[0]?.State === 'running';
    t.equal(tenant.state, running ? 'running' : 'asleep', 'the store agrees with the engine');

    const woke = await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
    const route = await readJson(woke);
    t.equal(route.state, 'running');
    const health = await fetch(`${route.endpoint.url}/health`);
    t.equal(health.status, 200, 'reachable after a new wake');
    t.equal(
      (
        await testDocker().listContainers({
          all: true,
          filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
        })
      ).length,
      1,
      'still one container',
    );
  });
}

t.test('a restarted supervisor adopts running tenants instead of stopping them', async (t) => {
  const supervisor = await startSupervisor(t);
  await supervisor.api('PUT', `/internal/v1/users/${seg('adopted')}`, {}, 'internal');
  const before = await readJson(
    await supervisor.api('POST', `/internal/v1/tenants/${seg('adopted')}/wake`, { wait: true }, 'internal'),
  );
  await supervisor.kill('SIGTERM');
  await supervisor.start();
  const after = await readJson(
    await supervisor.api('GET', `/internal/v1/tenants/${seg('adopted')}/route`, undefined, 'internal'),
  );
  t.equal(after.state, 'running');
  t.equal(after.endpoint.url, before.endpoint.url, 'same container, same endpoint');
});
