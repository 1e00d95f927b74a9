import type { Readable } from 'node:stream';
import { readJson, seg, startSupervisor, testDocker } from '@tenancy/test-support';
import t from 'tap';

t.test('50 concurrent wakes of a sleeping tenant produce one container start and 50 successes', async (t) => {
  const supervisor = await startSupervisor(t);
  const userId = 'concurrent user/with?odd#chars';
  const upsert = await supervisor.api(
    'PUT',
    `/internal/v1/users/${seg(userId)}`,
    { email: 'c@example.com', plan: 'free', onboardingCompleted: true },
    'internal',
  );
  t.equal(upsert.status, 200);
  t.same(await readJson(upsert), {
    userId,
    email: 'c@example.com',
    plan: 'free',
    onboardingCompleted: true,
    disabled: false,
  });

  // Count the engine's own start events for this deployment while the wakes run.
  const docker = testDocker();
  const events = (await docker.getEvents({
    filters: {
      type: ['container'],
      event: ['start', 'create'],
      label: [`dev.tenancy.instance=${supervisor.instance}`],
    },
  })) as unknown as Readable;
  const seen: string[] = [];
  events.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) seen.push(JSON.parse(line).Action);
  });
  t.teardown(() => events.destroy());

  const responses = await Promise.all(
    Array.from({ length: 50 }, () =>
      supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal'),
    ),
  );
  const bodies = await Promise.all(responses.map((res) => readJson(res)));
  t.same(
    responses.map((res) => res.status),
    Array(50).fill(200),
  );
  t.ok(bodies.every((body) => body.state === 'running' && typeof body.endpoint?.url === 'string'));
  t.equal(new Set(bodies.map((body) => body.endpoint.url)).size, 1, 'one endpoint');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same(seen, ['create', 'start'], 'exactly one create and one start');

  const { url, secret } = bodies[0].endpoint;
  const health = await fetch(`${url}/health`, { headers: { 'x-tenancy-tenant-secret': secret } });
  t.equal(health.status, 200, 'the tenant answers at the reported endpoint');

  const tenant = await readJson(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`));
  t.match(tenant, { userId, state: 'running', wakeCount: 1, stopReason: null, plan: 'free' });
  t.ok(tenant.lastWakeMs > 0 && tenant.lastWakeMs < 45_000, `woke in ${tenant.lastWakeMs} ms`);
  t.comment(`cold wake (create + start + health) took ${tenant.lastWakeMs} ms`);

  // Progress of a running tenant: one `ready` event, then the stream ends.
  const sse = await fetch(`${supervisor.url}/internal/v1/tenants/${seg(userId)}/wake/events`, {
    headers: { authorization: `Bearer ${supervisor.internalToken}` },
  });
  t.equal(sse.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  t.match(await sse.text(), /^event: progress\ndata: \{"phase":"ready","percent":100/);

  // Stop, then a warm wake reuses the stopped container.
  const stopped = await supervisor.api('POST', `/v1/tenants/${seg(userId)}/stop`);
  t.match(await readJson(stopped), { state: 'asleep', stopReason: 'admin' });
  const sseWake = await fetch(`${supervisor.url}/internal/v1/tenants/${seg(userId)}/wake/events`, {
    headers: { authorization: `Bearer ${supervisor.internalToken}` },
  });
  const phases = [...(await sseWake.text()).matchAll(/"phase":"([a-z-]+)"/g)].map((match) => match[1]);
  t.equal(phases.at(-1), 'ready', `progress: ${phases.join(' → ')}`);
  t.ok(phases.includes('waiting-health'));
  const warm = await readJson(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`));
  t.match(warm, { state: 'running', wakeCount: 2 });
  t.comment(`warm wake (start + health) took ${warm.lastWakeMs} ms`);
});
