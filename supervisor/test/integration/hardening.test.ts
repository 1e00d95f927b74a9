import { execFileSync } from 'node:child_process';
import { waitForHttp } from '@tenancy/test-support';
import t from 'tap';
import { FILES_MOUNT, HISTORY_MOUNT } from '../../src/runtime/container-spec.js';
import { exec, testRuntime, testSpec } from './helpers.js';

// Every hardening field of a real tenant container, read back from the engine, and checked
// again from inside the running container where the kernel enforces it.
t.test('a tenant container is hardened by default', async (t) => {
  const { runtime, docker, instance } = testRuntime(t);
  const spec = testSpec(instance, 'hardening-user');
  const ensured = await runtime.ensure(spec);
  t.equal(ensured.created, true);
  const running = await runtime.start(spec.names);
  await waitForHttp(`${running.endpointUrl}/health`);

  const info = await docker.getContainer(ensured.containerId).inspect();
  const host = info.HostConfig;
  t.equal(info.Config.User, '1000:1000', 'non-root user');
  t.same(host.CapDrop, ['ALL'], 'all capabilities dropped');
  t.ok(host.CapAdd === null || host.CapAdd?.length === 0, 'no capability added');
  t.same(host.SecurityOpt, ['no-new-privileges:true']);
  t.equal(host.PidsLimit, 512);
  t.equal(host.Memory, 4 * 1024 ** 3, '4 GiB memory');
  t.equal(host.MemorySwap, 4 * 1024 ** 3, 'swap equal to memory: no swap');
  t.equal(host.NanoCpus, 2e9, '2 CPUs');
  t.equal(host.ReadonlyRootfs, true);
  t.same(host.Tmpfs, { '/tmp': `rw,noexec,nosuid,nodev,size=${64 * 1024 ** 2}` });
  t.equal(host.Privileged, false);
  t.equal(host.NetworkMode, spec.names.network, 'own network');
  t.equal(host.PidMode, '', 'no host PID namespace');
  t.equal(host.IpcMode, 'private', 'no host IPC namespace');
  t.equal(host.UTSMode, '', 'no host UTS namespace');
  t.equal(host.UsernsMode, '', 'no host user namespace');
  t.ok(host.Devices === null || host.Devices?.length === 0, 'no devices');
  t.ok(host.Binds === null || host.Binds?.length === 0, 'no bind mounts');
  t.same(host.PortBindings ?? {}, {}, 'nothing published');
  t.equal(host.PublishAllPorts, false);
  t.same(
    info.Mounts.map((mount) => [mount.Type, mount.Name, mount.Destination]).sort(),
    [
      ['volume', spec.names.filesVolume, FILES_MOUNT],
      ['volume', spec.names.historyVolume, HISTORY_MOUNT],
    ].sort(),
    'only its own two named volumes',
  );
  t.notOk(
    info.Mounts.some((mount) => String(mount.Source).includes('docker.sock')),
    'no Docker socket',
  );
  t.same(Object.keys(info.NetworkSettings.Networks), [spec.names.network], 'attached to its own network only');
  t.same(
    Object.keys(info.NetworkSettings.Ports ?? {}).flatMap((port) => info.NetworkSettings.Ports[port] ?? []),
    [],
  );
  t.match(info.Config.Labels, {
    'dev.tenancy.managed-by': 'tenancy-supervisor',
    'dev.tenancy.instance': instance,
    'dev.tenancy.tenant': spec.tenantHash,
    'dev.tenancy.schema': '1',
  });
  t.notOk(JSON.stringify(info.Config.Labels).includes('hardening-user'), 'labels never hold the user id');
  t.equal(info.Name, `/${spec.names.container}`);

  const network = await docker.getNetwork(spec.names.network).inspect();
  t.equal(network.Internal, true, 'internal network: no egress');
  t.same(
    network.IPAM?.Config?.map((config) => config.Subnet),
    [spec.subnet],
    'subnet from the pool',
  );

  // Enforced by the kernel, seen from inside.
  const probe = await exec(docker, ensured.containerId, [
    'node',
    '-e',
    `const fs = require('fs');
     const status = fs.readFileSync('/proc/self/status', 'utf8');
     const field = (name) => status.match(new RegExp(name + ':\\\\s*(\\\\S+)'))[1];
     let rootWritable = true; try { fs.writeFileSync('/evil', 'x'); } catch { rootWritable = false; }
     fs.writeFileSync('/tmp/ok', 'x'); fs.writeFileSync('${FILES_MOUNT}/ok', 'x');
     console.log(JSON.stringify({ uid: process.getuid(), capEff: field('CapEff'), capBnd: field('CapBnd'),
       noNewPrivs: field('NoNewPrivs'), rootWritable }));`,
  ]);
  t.equal(probe.exitCode, 0, probe.output);
  t.same(JSON.parse(probe.output), {
    uid: 1000,
    capEff: '0000000000000000',
    capBnd: '0000000000000000',
    noNewPrivs: '1',
    rootWritable: false,
  });

  // No egress, checked where the engine enforces it (no packet is sent anywhere): the host's
  // firewall drops whatever leaves the tenant's bridge for another network.
  // The bridge is named for the network filter's host rule (host mode), else Docker's br-<id>.
  const bridge = network.Options?.['com.docker.network.bridge.name'] ?? `br-${network.Id.slice(0, 12)}`;
  const rules = execFileSync('iptables', ['-S', 'DOCKER-ISOLATION-STAGE-1'], { encoding: 'utf8' });
  t.match(rules, `! -d ${spec.subnet} -i ${bridge} -j DROP`, 'traffic out of the tenant network is dropped');
});

t.test('data in both volumes survives stop/start and re-creation of the container', async (t) => {
  const { runtime, docker, instance } = testRuntime(t);
  const spec = testSpec(instance, 'volume-user');
  const first = await runtime.ensure(spec);
  await runtime.start(spec.names);
  const write = await exec(docker, first.containerId, [
    'node',
    '-e',
    `require('fs').writeFileSync('${FILES_MOUNT}/note.txt', 'files-data'); require('fs').writeFileSync('${HISTORY_MOUNT}/h.txt', 'history-data')`,
  ]);
  t.equal(write.exitCode, 0, write.output);
  const read = async (containerId: string) =>
    (
      await exec(docker, containerId, [
        'node',
        '-e',
        `process.stdout.write(require('fs').readFileSync('${FILES_MOUNT}/note.txt') + '|' + require('fs').readFileSync('${HISTORY_MOUNT}/h.txt'))`,
      ])
    ).output;

  await runtime.stop(spec.names, 5_000);
  t.equal((await runtime.inspect(spec.names))?.running, false, 'stopped, container kept');
  t.same(await runtime.ensure(spec), { containerId: first.containerId, created: false }, 'same container reused');
  await runtime.start(spec.names);
  t.equal(await read(first.containerId), 'files-data|history-data', 'after stop/start');

  // A changed spec (here: the environment) re-creates the container on the same volumes.
  const changed = { ...spec, env: { ...spec.env, EXTRA: '1' } };
  await runtime.stop(spec.names, 5_000);
  const second = await runtime.ensure(changed);
  t.equal(second.created, true);
  t.not(second.containerId, first.containerId, 'a new container');
  await runtime.start(changed.names);
  t.equal(await read(second.containerId), 'files-data|history-data', 'after re-creation');

  const containers = await runtime.list();
  t.equal(containers.length, 1, 'still one container for the tenant');
});
