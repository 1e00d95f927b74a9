import {
  type JsonBody,
  readJson,
  type SupervisorProcess,
  seg,
  startSupervisor,
  testDocker,
} from '@tenancy/test-support';
import t from 'tap';

/**
 * Wakes the user's tenant the way a client following the contract does: a 503 with Retry-After
 * (the start queue is long on a loaded machine) is asked again after that time; anything else
 * ends it. Returns every answer's status and the last body.
 */
async function wakeLikeAClient(
  supervisor: SupervisorProcess,
  userId: string,
): Promise<{ statuses: number[]; body: JsonBody }> {
  const statuses: number[] = [];
  for (;;) {
    const res = await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
    const body = await readJson(res);
    statuses.push(res.status);
    if (res.status !== 503 || body.code !== 'SUP_ERR_WAKE_PENDING') return { statuses, body };
    await new Promise((resolve) => setTimeout(resolve, Number(res.headers.get('retry-after') ?? 1) * 1000));
  }
}

async function containerStates(supervisor: SupervisorProcess): Promise<Map<string, string>> {
  const containers = await testDocker().listContainers({
    all: true,
    filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
  });
  return new Map(containers.map((container) => [container.Names[0]?.slice(1) ?? '', container.State]));
}

t.test('50 first wakes of distinct users at once all succeed; then 20 of them paused and woken at once', async (t) => {
  const supervisor = await startSupervisor(t, { WAKE_CONCURRENCY: '4', MAX_RUNNING_TENANTS: '100' });
  const began = Date.now();
  t.teardown(() => {
    if (t.passing()) return;
    const ready = supervisor.output.filter((line) => line.includes('"tenant ready"')).length;
    const trouble = supervisor.output.filter((line) => /"level":(40|50|"warn"|"error")/.test(line));
    t.comment(
      `after ${Date.now() - began} ms: ${ready} tenants ready; last warnings:\n${trouble.slice(-10).join('\n')}`,
    );
  });
  const users = Array.from({ length: 50 }, (_, i) => `crowd-${i}`);
  for (const user of users) {
    t.equal((await supervisor.api('PUT', `/internal/v1/users/${seg(user)}`, {}, 'internal')).status, 200);
  }

  const first = await Promise.all(users.map((user) => wakeLikeAClient(supervisor, user)));
  t.comment(`50 first wakes took ${Date.now() - began} ms`);
  const failures = first.filter((result) => result.statuses.some((status) => status !== 200 && status !== 503));
  t.strictSame(failures, [], 'no wake failed (503 + Retry-After only means "ask again")');
  t.ok(
    first.every((result) => result.body.state === 'running'),
    'every tenant runs',
  );
  t.equal(new Set(first.map((result) => result.body.endpoint?.url)).size, 50, 'fifty distinct endpoints');

  const networks = await testDocker().listNetworks({
    filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
  });
  const subnets = networks.map((network) => network.IPAM?.Config?.[0]?.Subnet);
  t.equal(networks.length, 50, 'one network each');
  t.equal(new Set(subnets).size, 50, 'no duplicate subnet');

  // Two-stage sleep, first stage, for twenty of them at once.
  const sleepers = users.slice(0, 20);
  const paused = await Promise.all(
    sleepers.map(async (user) => readJson(await supervisor.api('POST', `/v1/tenants/${seg(user)}/pause`))),
  );
  t.ok(
    paused.every((tenant) => tenant.state === 'paused' && typeof tenant.pausedAt === 'number'),
    'all paused',
  );
  const frozen = await containerStates(supervisor);
  t.equal([...frozen.values()].filter((state) => state === 'paused').length, 20, 'the engine shows 20 paused');

  const resumedAt = Date.now();
  const resumed = await Promise.all(sleepers.map((user) => wakeLikeAClient(supervisor, user)));
  t.comment(`20 paused tenants woke in ${Date.now() - resumedAt} ms`);
  t.ok(
    resumed.every((result) => result.statuses.every((status) => status === 200) && result.body.state === 'running'),
    'every paused tenant woke on its first request',
  );
  t.strictSame(
    resumed.map((result) => result.body.endpoint.url),
    first.slice(0, 20).map((result) => result.body.endpoint.url),
    'the same containers, thawed',
  );
  const thawed = await containerStates(supervisor);
  t.equal([...thawed.values()].filter((state) => state === 'running').length, 50, 'all 50 running again');
  const health = await Promise.all(
    resumed.map(
      async (result) =>
        (
          await fetch(`${result.body.endpoint.url}/health`, {
            headers: { 'x-tenancy-tenant-secret': result.body.endpoint.secret },
          })
        ).status,
    ),
  );
  t.strictSame(health, Array(20).fill(200), 'each answers at once');
});

t.test('a paused tenant survives a supervisor kill -9 and wakes with its data', async (t) => {
  const supervisor = await startSupervisor(t);
  const userId = 'paused-through-a-crash';
  await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, {}, 'internal');
  const { body: route } = await wakeLikeAClient(supervisor, userId);
  const headers = { 'x-tenancy-tenant-secret': route.endpoint.secret };
  const put = await fetch(`${route.endpoint.url}/files/note.txt`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'text/plain' },
    body: 'written before the pause',
  });
  t.equal(put.status, 200);

  const pausedView = await readJson(await supervisor.api('POST', `/v1/tenants/${seg(userId)}/pause`));
  t.equal(pausedView.state, 'paused');
  await supervisor.kill('SIGKILL');
  await supervisor.start();

  const after = await readJson(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`));
  t.match(after, { state: 'paused', pausedAt: pausedView.pausedAt }, 'adopted as paused, pause time kept');
  const { statuses, body: woke } = await wakeLikeAClient(supervisor, userId);
  t.strictSame(statuses, [200]);
  t.equal(woke.endpoint.url, route.endpoint.url, 'the same container');
  const note = await fetch(`${woke.endpoint.url}/files/note.txt`, { headers });
  t.equal(await note.text(), 'written before the pause');
  const audit = await readJson(await supervisor.api('GET', `/v1/audit?target=${seg(userId)}&action=tenant.wake`));
  t.match(audit.items[0], { action: 'tenant.wake', result: 'ok', detail: { resume: true } });
});
