import { json, seg, startSupervisor, testDocker } from '@tenancy/test-support';
import t from 'tap';
import { erasedUserId } from '../../src/accounts/account-deletion.js';
import { deriveIdentity, objectNames } from '../../src/runtime/names.js';
import { exec } from './helpers.js';

/** Every Docker object of the supervisor's instance: containers, networks, volumes. */
async function objectsOf(instance: string): Promise<string[]> {
  const docker = testDocker();
  const filters = { label: [`dev.tenancy.instance=${instance}`] };
  const containers = await docker.listContainers({ all: true, filters });
  const networks = await docker.listNetworks({ filters });
  const { Volumes } = await docker.listVolumes({ filters });
  return [
    ...containers.map((c) => `container ${c.Names[0]}`),
    ...networks.map((n) => `network ${n.Name}`),
    ...(Volumes ?? []).map((v) => `volume ${v.Name}`),
  ];
}

t.test('account deletion: refused at once, restorable with its data, erased after the grace', async (t) => {
  // A grace long enough for the restore below, short enough that the erasure comes within the test.
  const supervisor = await startSupervisor(t, { DELETION_GRACE: '8s', REAPER_INTERVAL: '200ms' });
  const docker = testDocker();
  const userId = 'grace@example.com';
  const names = objectNames(supervisor.instance, deriveIdentity(supervisor.namespaceKey, userId).hash);
  const internal = (method: string, path: string, body?: unknown) => supervisor.api(method, path, body, 'internal');
  await internal('PUT', `/internal/v1/users/${seg(userId)}`, { email: userId });
  t.equal((await internal('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true })).status, 200);
  await exec(docker, names.container, ['node', '-e', "require('fs').writeFileSync('/data/files/keep.txt', 'mine')"]);

  const asked = await json(await internal('POST', `/internal/v1/users/${seg(userId)}/deletion`, {}));
  t.equal(asked.status, 202, 'deletion scheduled');
  t.ok(asked.body.deletionDueAt > Date.now(), 'in the future');
  t.equal((await docker.getContainer(names.container).inspect()).State.Running, false, 'container stopped at once');
  for (const [method, path] of [
    ['GET', `/internal/v1/tenants/${seg(userId)}/route`],
    ['POST', `/internal/v1/tenants/${seg(userId)}/wake`],
  ] as const) {
    const refused = await json(await internal(method, path, method === 'POST' ? { wait: true } : undefined));
    t.same([refused.status, refused.body.code], [403, 'SUP_ERR_ACCOUNT_DELETION_PENDING'], `${method} refused`);
  }

  const restored = await json(await internal('DELETE', `/internal/v1/users/${seg(userId)}/deletion`, {}));
  t.equal(restored.status, 200, 'restored within the grace');
  t.equal(restored.body.deletionDueAt, undefined, 'no deletion scheduled any more');
  t.equal((await internal('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true })).status, 200, 'wakes');
  const kept = await exec(docker, names.container, [
    'node',
    '-e',
    "process.stdout.write(require('fs').readFileSync('/data/files/keep.txt'))",
  ]);
  t.equal(kept.output, 'mine', 'with its data');
  const again = await json(await internal('DELETE', `/internal/v1/users/${seg(userId)}/deletion`, {}));
  t.same([again.status, again.body.code], [409, 'SUP_ERR_ACCOUNT_DELETION_NOT_PENDING'], 'nothing left to cancel');

  // Asked again: erased by the reaper once the grace ends; the test waits for the user row to go.
  t.equal((await internal('POST', `/internal/v1/users/${seg(userId)}/deletion`, {})).status, 202);
  const pseudonym = erasedUserId(supervisor.namespaceKey, userId);
  for (;;) {
    const res = await supervisor.api('GET', `/v1/audit?action=user.erase&target=${seg(pseudonym)}`);
    if (((await res.json()) as { items: unknown[] }).items.length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  t.same(await objectsOf(supervisor.instance), [], 'every Docker object of the tenant removed');
  const gone = await json(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`));
  t.equal(gone.status, 404, 'the tenant record is gone');
  const byId = await json(await supervisor.api('GET', `/v1/audit?target=${seg(userId)}&limit=500`));
  t.same(byId.body.items, [], 'no audit entry names the user any more');
  const byPseudonym = await json(await supervisor.api('GET', `/v1/audit?target=${seg(pseudonym)}&limit=500`));
  t.ok(byPseudonym.body.items.length >= 5, 'the history stays under the pseudonym');
  t.notMatch(JSON.stringify(byPseudonym.body.items), userId, 'the user id appears nowhere in it');
  t.notOk(JSON.stringify(byPseudonym.body.items).includes(userId), 'nor the email');
});

t.test('admin erases an account at once', async (t) => {
  const supervisor = await startSupervisor(t);
  const userId = 'now@example.com';
  await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, { email: userId }, 'internal');
  t.equal(
    (await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal')).status,
    200,
  );
  const refused = await json(await supervisor.api('DELETE', `/v1/users/${seg(userId)}?confirm=someone-else`));
  t.same([refused.status, refused.body.code], [400, 'SUP_ERR_CONFIRM_MISMATCH']);
  const erased = await json(await supervisor.api('DELETE', `/v1/users/${seg(userId)}?confirm=${seg(userId)}`));
  t.same(erased, { status: 200, body: { erased: erasedUserId(supervisor.namespaceKey, userId) } });
  t.same(await objectsOf(supervisor.instance), [], 'every Docker object removed');
  const user = await json(await supervisor.api('POST', `/v1/users/${seg(userId)}/disable`));
  t.equal(user.status, 404, 'the user record is gone');
});
