import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { json, seg, startSupervisor, type Teardown } from '@tenancy/test-support';
import t from 'tap';

/**
 * A Docker engine socket of the test's own, in front of the real engine: it forwards every API
 * request until `hang()`, then accepts requests and never answers them, as a deadlocked engine
 * does; `recover()` forwards what it held and everything after. Streams (the event stream the
 * supervisor opened before the hang) keep flowing.
 */
async function hangableEngine(t: Teardown) {
  const real = (process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
  const dir = await mkdtemp(join(tmpdir(), 'tenancy-hung-engine-'));
  const socketPath = join(dir, 'docker.sock');
  let hung = false;
  const held: [IncomingMessage, ServerResponse][] = [];
  const sockets = new Set<Socket>();
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = request(
      { socketPath: real, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };
  const server = createServer((req, res) => {
    if (hung) held.push([req, res]);
    else forward(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dockerHost: `unix://${socketPath}`,
    /** Requests the engine has accepted and not answered. */
    held,
    hang() {
      hung = true;
    },
    recover() {
      hung = false;
      for (const [req, res] of held.splice(0)) if (!res.destroyed) forward(req, res);
    },
  };
}

t.test(
  'a hung engine fails the wake at its budget: the tenant ends failed, its slot is free, stops answer',
  async (t) => {
    const engine = await hangableEngine(t);
    const supervisor = await startSupervisor(t, {
      DOCKER_HOST: engine.dockerHost,
      // Room for the real start at the end on a busy machine; the hung wake waits it out.
      WARMUP_TIMEOUT: '20s',
      // Longer than the wake's budget: the budget is what ends the wake, not a call timeout.
      DOCKER_TIMEOUT: '30s',
      STOP_GRACE: '1s',
      // One slot: a tenant left holding it would turn the next wake into 429 SUP_ERR_CAPACITY_FULL.
      MAX_RUNNING_TENANTS: '1',
      CAPACITY_POLICY: 'reject',
    });
    for (const userId of ['hung-a', 'hung-b']) {
      t.equal((await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, {}, 'internal')).status, 200);
    }
    const wake = (userId: string) =>
      supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal').then(json);

    engine.hang();
    const first = await wake('hung-a');
    t.equal(first.status, 503);
    t.match(first.body, { statusCode: 503, code: 'SUP_ERR_WAKE_TIMEOUT', error: 'Service Unavailable' });
    t.ok(engine.held.length > 0, `the engine held ${engine.held.length} request(s) unanswered`);

    const tenant = await json(await supervisor.api('GET', `/v1/tenants/${seg('hung-a')}`));
    t.match(tenant.body, { state: 'failed', stopReason: 'failed-start', failureCount: 1 });
    const route = await json(
      await supervisor.api('GET', `/internal/v1/tenants/${seg('hung-a')}/route`, undefined, 'internal'),
    );
    t.same(route.body, { state: 'failed', plan: 'free' }, 'the route says failed, not waking');
    // A stop does not queue behind the failed wake's clean-up, which the engine still holds.
    const stopped = await json(await supervisor.api('POST', `/v1/tenants/${seg('hung-a')}/stop`));
    t.equal(stopped.status, 200);
    t.match(stopped.body, { state: 'failed' });

    // The engine answers again, and the one slot is free: another tenant starts.
    engine.recover();
    const other = await wake('hung-b');
    t.equal(other.status, 200, JSON.stringify(other.body));
    t.match(other.body, { state: 'running', endpoint: { url: /^http:\/\// } });
    t.equal((await fetch(`${other.body.endpoint.url}/health`)).status, 200);
  },
);
