import { readJson, seg, startSupervisor, testDocker } from '@tenancy/test-support';
import t from 'tap';
import { exec } from './helpers.js';

t.test('a memory hog in a tenant is OOM-killed and the supervisor records it', async (t) => {
  const supervisor = await startSupervisor(t, { PLANS: '{"free": {"memoryMb": 256}}' });
  await supervisor.api('PUT', `/internal/v1/users/${seg('hog')}`, {}, 'internal');
  await supervisor.api('POST', `/internal/v1/tenants/${seg('hog')}/wake`, { wait: true }, 'internal');
  const [container] = await testDocker().listContainers({
    filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
  });
  const hog = await exec(testDocker(), container?.Id ?? '', [
    'node',
    '-e',
    'const kept = []; for (let i = 0; i < 64; i++) kept.push(Buffer.alloc(32 << 20, 1))',
  ]);
  t.equal(hog.exitCode, 137, 'the hog was killed');

  let entries: { action: string; target: string }[] = [];
  for (let i = 0; i < 50 && !entries.some((entry) => entry.action === 'tenant.oom'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    entries = (await readJson(await supervisor.api('GET', `/v1/audit?target=${seg('hog')}`))).items;
  }
  t.match(entries[0], { action: 'tenant.oom', target: 'hog', result: 'error', actor: 'system' });
  const metrics = await (await fetch(`${supervisor.url}/metrics`)).text();
  t.match(metrics, /tenancy_tenants\{state="running"\} 1/);
});
