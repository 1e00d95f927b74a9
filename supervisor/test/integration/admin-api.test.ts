import { json, seg, startSupervisor } from '@tenancy/test-support';
import t from 'tap';

t.test('admin API: every endpoint, bad tokens, bad input, unknown tenants', async (t) => {
  const supervisor = await startSupervisor(t);

  t.test('bad or missing tokens get 401 and no data', async (t) => {
    for (const [name, token] of [
      ['internal token on admin API', 'internal'],
      ['wrong token', 'not-the-token'],
      ['token with a prefix', `x${supervisor.adminToken}`],
    ] as const) {
      t.same(
        await json(await supervisor.api('GET', '/v1/tenants', undefined, token)),
        {
          status: 401,
          body: {
            statusCode: 401,
            code: 'SUP_ERR_AUTH_INVALID',
            error: 'Unauthorized',
            message: 'missing or invalid bearer token',
          },
        },
        name,
      );
    }
    const none = await fetch(`${supervisor.url}/v1/tenants`);
    t.equal(none.status, 401, 'no header');
    const adminOnInternal = await supervisor.api('PUT', `/internal/v1/users/x`, {}, 'admin');
    t.equal(adminOnInternal.status, 401, 'the admin token does not open the internal API');
  });

  await supervisor.api('PUT', `/internal/v1/users/${seg('ada')}`, { email: 'ada@example.com' }, 'internal');

  t.test('bad input gets 400 with a stable code and no stack', async (t) => {
    const rows: [string, string, string, unknown, 'admin' | 'internal'][] = [
      ['list with a bad state', 'GET', '/v1/tenants?state=sleeping', undefined, 'admin'],
      ['list with limit 0', 'GET', '/v1/tenants?limit=0', undefined, 'admin'],
      ['logs with tail -1', 'GET', `/v1/tenants/${seg('ada')}/logs?tail=-1`, undefined, 'admin'],
      ['delete without confirm', 'DELETE', `/v1/tenants/${seg('ada')}`, undefined, 'admin'],
      ['upsert with an unknown field', 'PUT', '/internal/v1/users/bob', { admin: true }, 'internal'],
      ['upsert with a bad plan name', 'PUT', '/internal/v1/users/bob', { plan: 'Pro Plan!' }, 'internal'],
      [
        'activity with a negative count',
        'POST',
        '/internal/v1/activity',
        { items: [{ userId: 'a', lastActivity: 1, requests: -1, wsFrames: 0, streamMs: 0 }] },
        'internal',
      ],
      ['wake with a string', 'POST', `/internal/v1/tenants/${seg('ada')}/wake`, { wait: 'yes please' }, 'internal'],
    ];
    for (const [name, method, path, body, token] of rows) {
      const res = await json(await supervisor.api(method, path, body, token));
      t.equal(res.status, 400, name);
      t.equal(res.body.code, 'SUP_ERR_REQUEST_INVALID', name);
      t.notMatch(JSON.stringify(res.body), /at .*\.ts:\d+/, `${name}: no stack`);
    }
    const bad = await fetch(`${supervisor.url}/internal/v1/users/bob`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${supervisor.internalToken}`, 'content-type': 'application/json' },
      body: '{"email": ',
    });
    t.equal(bad.status, 400, 'malformed JSON');
  });

  t.test('unknown tenants get 404', async (t) => {
    for (const action of ['disable', 'enable']) {
      const res = await json(await supervisor.api('POST', `/v1/users/${seg('nobody-here')}/${action}`));
      t.same([res.status, res.body.code], [404, 'SUP_ERR_USER_NOT_FOUND'], action);
    }
    for (const [method, path] of [
      ['GET', '/v1/tenants/nobody'],
      ['GET', '/v1/tenants/nobody/logs'],
      ['POST', '/v1/tenants/nobody/stop'],
      ['POST', '/v1/tenants/nobody/start'],
      ['DELETE', '/v1/tenants/nobody?confirm=nobody'],
    ] as const) {
      const res = await json(await supervisor.api(method, path));
      t.equal(res.status, 404, `${method} ${path}`);
      t.match(res.body.code, /^SUP_ERR_(TENANT|USER)_NOT_FOUND$/);
    }
    t.equal((await supervisor.api('GET', '/v1/nothing-here')).status, 404);
  });

  t.test('start, status, list, logs, summary, stop, delete', async (t) => {
    const started = await json(await supervisor.api('POST', `/v1/tenants/${seg('ada')}/start`));
    t.equal(started.status, 200);
    t.match(started.body, {
      userId: 'ada',
      state: 'running',
      plan: 'free',
      limits: { memoryBytes: 4 * 1024 ** 3, cpus: 2, pids: 512, egress: false },
    });
    t.match(started.body.tenantId, /^[0-9a-f]{24}$/);

    const list = await json(await supervisor.api('GET', '/v1/tenants?state=running'));
    t.same(
      list.body.items.map((item: { userId: string }) => item.userId),
      ['ada'],
    );
    t.equal((await json(await supervisor.api('GET', '/v1/tenants?state=asleep'))).body.items.length, 0);

    const logs = await supervisor.api('GET', `/v1/tenants/${seg('ada')}/logs?tail=50`);
    t.equal(logs.status, 200);
    t.match(logs.headers.get('content-type'), /^text\/plain/);

    const summary = { messages: 3, replies: 3, tokensUsed: 120, bytesStored: 2048, lastActivity: 1_700_000_000_000 };
    t.equal((await supervisor.api('POST', `/v1/tenants/${seg('ada')}/summary`, summary)).status, 204);
    const totals = await json(await supervisor.api('GET', '/v1/summary'));
    t.match(totals.body, {
      tenants: { running: 1 },
      usage: { messages: 3, replies: 3, tokensUsed: 120, bytesStored: 2048 },
    });

    const stop = await json(await supervisor.api('POST', `/v1/tenants/${seg('ada')}/stop`));
    t.match(stop.body, { state: 'asleep', stopReason: 'admin' });
    const again = await json(await supervisor.api('POST', `/v1/tenants/${seg('ada')}/stop`));
    t.equal(again.status, 200, 'stop is idempotent');

    const wrong = await json(await supervisor.api('DELETE', `/v1/tenants/${seg('ada')}?confirm=someone-else`));
    t.same([wrong.status, wrong.body.code], [400, 'SUP_ERR_CONFIRM_MISMATCH']);
    t.equal((await supervisor.api('DELETE', `/v1/tenants/${seg('ada')}?confirm=ada`)).status, 204);
    t.equal(
      (await supervisor.api('DELETE', `/v1/tenants/${seg('ada')}?confirm=ada`)).status,
      204,
      'delete is idempotent',
    );
    t.equal((await supervisor.api('GET', `/v1/tenants/${seg('ada')}`)).status, 404, 'gone');

    const audit = await json(await supervisor.api('GET', '/v1/audit?limit=20'));
    const actions = audit.body.items.map((item: { action: string }) => item.action);
    t.ok(actions.includes('tenant.delete') && actions.includes('tenant.stop') && actions.includes('tenant.wake'));
  });

  t.test('a tenant may push only its own summary with its own token', async (t) => {
    const { deriveIdentity } = await import('../../src/runtime/names.js');
    await supervisor.api('PUT', `/internal/v1/users/${seg('tom')}`, {}, 'internal');
    await supervisor.api('POST', `/internal/v1/tenants/${seg('tom')}/wake`, { wait: false }, 'internal');
    const token = deriveIdentity(supervisor.namespaceKey, 'tom').summaryToken;
    const summary = { messages: 1, replies: 1, tokensUsed: 0, bytesStored: 0, lastActivity: null };
    t.equal((await supervisor.api('POST', `/v1/tenants/${seg('tom')}/summary`, summary, token)).status, 204);
    t.equal(
      (await supervisor.api('POST', `/v1/tenants/${seg('ada')}/summary`, summary, token)).status,
      401,
      'not another tenant',
    );
    t.equal((await supervisor.api('GET', `/v1/tenants/${seg('tom')}`, undefined, token)).status, 401, 'nothing else');
  });

  t.test('health, readiness and metrics', async (t) => {
    t.same(await json(await fetch(`${supervisor.url}/health`)), { status: 200, body: { status: 'ok' } });
    t.same(await json(await fetch(`${supervisor.url}/ready`)), { status: 200, body: { status: 'ready' } });
    const metrics = await fetch(`${supervisor.url}/metrics`);
    const text = await metrics.text();
    t.match(text, /tenancy_wakes_total\{result="ok"\} \d/);
    t.match(text, /tenancy_stops_total\{reason="admin"\} 1/);
    t.match(text, /tenancy_wake_duration_seconds_bucket/);
  });
});
