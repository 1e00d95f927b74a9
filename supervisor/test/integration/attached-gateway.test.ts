import { randomBytes } from 'node:crypto';
import {
  createTestContainer,
  createTestNetwork,
  type Teardown,
  testDocker,
  testImages,
  testLabels,
} from '@tenancy/test-support';
import type Docker from 'dockerode';
import t from 'tap';
import { createDockerRuntime } from '../../src/runtime/docker-runtime.js';
import { exec, testRuntime, testSpec } from './helpers.js';

/** A stand-in gateway replica on a network of its own (as in compose): any long-running container. */
async function startGatewayReplica(t: Teardown, docker: Docker, network: string, name?: string) {
  const gateway = await createTestContainer(t, docker, {
    ...(name ? { name } : {}),
    Image: testImages.nodeBase,
    Cmd: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
    User: '1000:1000',
    HostConfig: { NetworkMode: network },
  });
  await gateway.start();
  return { gateway, name: (await gateway.inspect()).Name.replace(/^\//, '') };
}

/** What the replica gets when it asks the tenant's health endpoint: a status, or `unreachable`. */
async function probeFrom(docker: Docker, containerId: string, endpointUrl: string): Promise<string> {
  // Retried while the app starts (start() does not wait for health).
  const probeScript = `const url = ${JSON.stringify(`${endpointUrl}/health`)};
    (async () => { for (let i = 0; i < 40; i++) {
      try { const r = await fetch(url, { signal: AbortSignal.timeout(500) }); console.log(r.status); return; }
      catch { await new Promise((ok) => setTimeout(ok, 50)); }
    } console.log('unreachable'); })();`;
  return (await exec(docker, containerId, ['node', '-e', probeScript])).output.trim();
}

t.test('compose mode: an attached gateway reaches its tenant, and deleting the tenant still works', async (t) => {
  const docker = testDocker();
  const own = (await (await createTestNetwork(t, docker, { internal: true })).inspect()).Name;
  const { gateway, name: gatewayName } = await startGatewayReplica(t, docker, own);

  const { instance } = testRuntime(t); // for its teardown of everything labelled with `instance`
  const runtime = createDockerRuntime({
    docker,
    instance,
    extraLabels: testLabels(),
    port: 8080,
    attach: [gatewayName],
  });
  const spec = testSpec(instance, `attached-${randomBytes(3).toString('hex')}`);
  await runtime.ensure(spec);
  const { endpointUrl } = await runtime.start(spec.names);

  t.equal(await probeFrom(docker, gateway.id, endpointUrl), '200', 'the gateway replica reaches the tenant');

  // compose re-creates a replica (make up after a change): the new one starts without the
  // tenant networks; the runtime reports it, and reattach() gives them back.
  const events: string[] = [];
  const unwatch = runtime.watch(
    (event) => events.push(event.type),
    () => undefined,
  );
  t.teardown(unwatch);
  await new Promise((resolve) => setTimeout(resolve, 200)); // the event stream is open
  await gateway.remove({ force: true });
  const replacement = await startGatewayReplica(t, docker, own, gatewayName);
  for (let i = 0; i < 50 && !events.includes('peer-start'); i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(events.includes('peer-start'), 'the replica’s start is reported');
  const before = Object.keys((await replacement.gateway.inspect()).NetworkSettings.Networks);
  t.notOk(before.includes(spec.names.network), 'the new replica lacks the tenant network');
  await runtime.reattach();
  await runtime.reattach(); // idempotent
  t.equal(await probeFrom(docker, replacement.gateway.id, endpointUrl), '200', 'and reaches the tenant again');
  const gatewayNow = replacement.gateway;

  await runtime.remove(spec.names, { volumes: true });
  t.equal(
    await docker
      .getNetwork(spec.names.network)
      .inspect()
      .catch((err) => err.statusCode),
    404,
    'network gone',
  );
  t.equal(
    await docker
      .getContainer(spec.names.container)
      .inspect()
      .catch((err) => err.statusCode),
    404,
  );
  t.equal(
    await docker
      .getVolume(spec.names.filesVolume)
      .inspect()
      .catch((err) => err.statusCode),
    404,
  );
  t.equal((await gatewayNow.inspect()).State.Running, true, 'the gateway itself is untouched');
});
