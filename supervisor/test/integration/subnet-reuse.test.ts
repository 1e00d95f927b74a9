import { type JsonBody, readJson, type SupervisorProcess, seg, startSupervisor } from '@tenancy/test-support';
import t from 'tap';

/**
 * Subnets are held while tenants sleep, not forever (issue 11, gap 3): a pool with room for 8
 * tenant networks serves 30 distinct users over time, on the real engine, and a user whose
 * network was taken down for another comes back with their files.
 */

async function wake(supervisor: SupervisorProcess, userId: string): Promise<{ status: number; body: JsonBody }> {
  for (;;) {
    const res = await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
    const body = await readJson(res);
    // 503 + Retry-After (the start queue is long on a loaded machine) means "ask again".
    if (res.status !== 503 || body.code !== 'SUP_ERR_WAKE_PENDING') return { status: res.status, body };
    await new Promise((resolve) => setTimeout(resolve, Number(res.headers.get('retry-after') ?? 1) * 1000));
  }
}

t.test('a pool with room for 8 tenants serves 30 distinct users over time', async (t) => {
  // A /25 of this run's own test range, cut into /28s: 8 networks at most.
  const slice = (process.pid % 180) + 20;
  const supervisor = await startSupervisor(t, {
    TENANT_SUBNET_POOL: `10.${slice}.128.0/25`,
    TENANT_SUBNET_PREFIX: '28',
    MAX_RUNNING_TENANTS: '8',
  });
  const users = Array.from({ length: 30 }, (_, i) => `pool-user-${i}`);
  for (const user of users) {
    t.equal((await supervisor.api('PUT', `/internal/v1/users/${seg(user)}`, {}, 'internal')).status, 200);
  }

  // The first user leaves a file behind before going to sleep.
  const first = await wake(supervisor, users[0] as string);
  t.equal(first.status, 200, JSON.stringify(first.body));
  const headers = { 'x-tenancy-tenant-secret': first.body.endpoint.secret };
  const put = await fetch(`${first.body.endpoint.url}/files/kept.txt`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'text/plain' },
    body: 'written before my network was given away',
  });
  await put.arrayBuffer();
  t.equal(put.status, 200);
  await supervisor.api('POST', `/v1/tenants/${seg(users[0] as string)}/stop`);

  // The rest, six at a time: woken together, then put to sleep.
  const rest = users.slice(1);
  for (let i = 0; i < rest.length; i += 6) {
    const batch = rest.slice(i, i + 6);
    const results = await Promise.all(batch.map((user) => wake(supervisor, user)));
    for (const [index, result] of results.entries()) {
      t.equal(result.status, 200, `${batch[index]} woke: ${JSON.stringify(result.body)}`);
    }
    await Promise.all(batch.map((user) => supervisor.api('POST', `/v1/tenants/${seg(user)}/stop`)));
  }

  const audit = await readJson(await supervisor.api('GET', '/v1/audit?action=tenant.network-released&limit=100'));
  t.ok(audit.items.length >= 22, `${audit.items.length} sleepers gave their subnet back`);

  // The first user's network went long ago; they come back on a new one, with their file.
  const again = await wake(supervisor, users[0] as string);
  t.equal(again.status, 200, JSON.stringify(again.body));
  const read = await fetch(`${again.body.endpoint.url}/files/kept.txt`, { headers });
  t.equal(read.status, 200);
  t.equal(await read.text(), 'written before my network was given away');
});
