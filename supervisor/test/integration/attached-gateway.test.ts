import { randomBytes } from 'node:crypto';
import { createTestContainer, createTestNetwork, testDocker, testImages, testLabels } from '@tenancy/test-support';
import t from 'tap';
import { createDockerRuntime } from '../../src/runtime/docker-runtime.js';
import { exec, testRuntime, testSpec } from './helpers.js';

t.test('compose mode: an attached gateway reaches its tenant, and deleting the tenant still works', async (t) => {
  const docker = testDocker();
  // A stand-in gateway replica on a network of its own (as in compose): any long-running container.
  const own = await createTestNetwork(t, docker, { internal: true });
  const gateway = await createTestContainer(t, docker, {
    Image: testImages.nodeBase,
    Cmd: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
    User: '1000:1000',
    HostConfig: { NetworkMode: (await own.inspect()).Name },
  });
  await gateway.start();
  const gatewayName = (await gateway.inspect()).Name.replace(/^\//, '');

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

  // From inside the gateway, retried while the app starts (start() does not wait for health).
  const probeScript = `const url = ${JSON.stringify(`${endpointUrl}/health`)};
    (async () => { for (let i = 0; i < 100; i++) {
      try { const r = await fetch(url); console.log(r.status); return; } catch { await new Promise((ok) => setTimeout(ok, 50)); }
    } console.log('unreachable'); })();`;
  const probe = await exec(docker, gateway.id, ['node', '-e', probeScript]);
  t.equal(probe.output.trim(), '200', 'the gateway replica reaches the tenant over the tenant network');

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
  t.equal((await gateway.inspect()).State.Running, true, 'the gateway itself is untouched');
});
