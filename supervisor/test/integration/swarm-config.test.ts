import { startSupervisor } from '@tenancy/test-support';
import t from 'tap';

t.test(
  'swarm mode fails closed at start: no disk quotas there, so it wants UNSAFE_TENANT_DISK_UNBOUNDED',
  async (t) => {
    await t.rejects(
      startSupervisor(t, { TENANT_RUNTIME: 'swarm' }),
      /exited with 78[\s\S]*UNSAFE_TENANT_DISK_UNBOUNDED=true/,
    );
  },
);

t.test('a malformed SWARM_NODE_ENGINES is a configuration error', async (t) => {
  for (const value of ['node1', 'node1=http://192.0.2.2', 'node1=unix:///a,node1=unix:///b']) {
    await t.rejects(
      startSupervisor(t, { TENANT_RUNTIME: 'swarm', UNSAFE_TENANT_DISK_UNBOUNDED: 'true', SWARM_NODE_ENGINES: value }),
      /exited with 78/,
      value,
    );
  }
});

t.test('swarm mode on an engine that is no swarm manager does not start', async (t) => {
  await t.rejects(
    startSupervisor(t, { TENANT_RUNTIME: 'swarm', UNSAFE_TENANT_DISK_UNBOUNDED: 'true' }),
    /not a manager of a swarm/,
  );
});
