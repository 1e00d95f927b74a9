import { json, seg, startSupervisor, testDocker } from '@tenancy/test-support';
import t from 'tap';
import { deriveIdentity } from '../../src/runtime/names.js';

t.test('usage reaches the central aggregates when a tenant is stopped, with no push needed', async (t) => {
  const supervisor = await startSupervisor(t, {
    TENANT_ENV: JSON.stringify({ GREETING_STYLE: 'plain' }),
  });
  t.equal((await supervisor.api('PUT', `/internal/v1/users/${seg('maya')}`, {}, 'internal')).status, 200);
  const started = await json(await supervisor.api('POST', `/v1/tenants/${seg('maya')}/start`));
  t.equal(started.status, 200);
  t.equal(started.body.state, 'running');

  // Chat straight with the tenant app, as the gateway would (its secret header included).
  const secret = deriveIdentity(supervisor.namespaceKey, 'maya').secret;
  const endpoint = started.body.endpoint as string;
  for (const message of ['Hello!', 'help']) {
    const res = await fetch(`${endpoint}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenancy-tenant-secret': secret },
      body: JSON.stringify({ message }),
    });
    t.equal(res.status, 200);
    await res.arrayBuffer();
  }

  const stopped = await json(await supervisor.api('POST', `/v1/tenants/${seg('maya')}/stop`));
  t.match(stopped.body, { state: 'asleep', stopReason: 'admin' });
  const totals = await json(await supervisor.api('GET', '/v1/summary'));
  t.match(totals.body.usage, { tenants: 1, messages: 2, replies: 2, tokensUsed: 0 });

  const docker = testDocker();
  const [container] = await docker.listContainers({
    all: true,
    filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
  });
  const info = await docker.getContainer(container?.Id ?? 'missing').inspect();
  t.ok(info.Config.Env.includes('GREETING_STYLE=plain'), 'TENANT_ENV reached the tenant app');
  t.notOk(
    info.Config.Env.some((entry: string) => entry.startsWith('SUMMARY_URL=')),
    'no push target unless TENANT_SUMMARY_URL is set',
  );
});

t.test('a malformed TENANT_ENV stops the supervisor at start with a configuration error', async (t) => {
  for (const value of ['{not json', '{"TENANT_SECRET":"x"}', '{"A":1}']) {
    await t.rejects(startSupervisor(t, { TENANT_ENV: value }), /exited with 78/, value);
  }
});
