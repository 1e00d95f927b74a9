import {
  createTestContainer,
  createTestNetwork,
  publishedPort,
  testDocker,
  testImages,
  waitForHttp,
} from '@tenancy/test-support';
import t from 'tap';

// Foundation check: the engine the run uses can create, start, inspect and remove a hardened
// container of the locally built tenant image, through dockerode, and the app answers on
// 127.0.0.1. The supervisor's own runtime tests build on the same engine and image.
t.test('a hardened tenant image container starts through dockerode and answers its health check', async (t) => {
  const docker = testDocker();
  const network = await createTestNetwork(t, docker, { internal: false });
  const container = await createTestContainer(t, docker, {
    Image: testImages.tenant,
    User: '1000:1000',
    Env: ['TENANT_SECRET=test-secret-0123456789'],
    ExposedPorts: { '8080/tcp': {} },
    HostConfig: {
      NetworkMode: network.id,
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      PidsLimit: 64,
      Memory: 256 * 1024 * 1024,
      // The app writes only to its two data folders and /tmp; here they are throwaway tmpfs.
      Tmpfs: {
        '/tmp': 'rw,noexec,nosuid,size=16m',
        '/data/files': 'rw,uid=1000,size=16m',
        '/data/history': 'rw,uid=1000,size=16m',
      },
      PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    },
  });

  await container.start();
  const info = await container.inspect();
  t.equal(info.State.Running, true, 'container runs');
  t.equal(info.Config.User, '1000:1000');
  t.equal(info.HostConfig.ReadonlyRootfs, true);
  t.same(info.HostConfig.CapDrop, ['ALL']);

  const port = await publishedPort(container, 8080);
  const ms = await waitForHttp(`http://127.0.0.1:${port}/health`);
  t.comment(`start → health 200 in ${ms.toFixed(0)} ms`);
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(res.status, 200);
  t.same(await res.json(), { status: 'ok' });

  await container.stop({ t: 5 });
  t.equal((await container.inspect()).State.ExitCode, 0, 'the app exits 0 on SIGTERM');
});
