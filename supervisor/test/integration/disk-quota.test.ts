import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { testImages, testLabels } from '@tenancy/test-support';
import t from 'tap';
import { DEFAULT_PLAN } from '../../src/plans.js';
import { FILES_MOUNT, HISTORY_MOUNT } from '../../src/runtime/container-spec.js';
import { openTenantDisks } from '../../src/runtime/open-disks.js';
import { exec, testDisks, testRuntime, testSpec } from './helpers.js';

const MiB = 1024 ** 2;
const QUOTA = 64 * MiB;
const limits = { ...DEFAULT_PLAN, diskBytes: QUOTA };

/** Writes 1 MiB blocks to `path` inside the container until the kernel refuses; prints the error code and the MiB written. */
const fillScript = (path: string) =>
  `const fs = require('fs'); const block = Buffer.alloc(1 << 20, 7); let written = 0;
   const fd = fs.openSync('${path}', 'w');
   try { for (let i = 0; i < 4096; i++) written += fs.writeSync(fd, block); process.stdout.write('FULL-NOT-REACHED ' + written); }
   catch (err) { process.stdout.write(err.code + ' ' + written); }`;

/** Bytes the file takes on the host's filesystem (sparse images take only what was written). */
const allocated = (path: string) => statSync(path).blocks * 512;

t.test('a tenant writing past its quota gets ENOSPC, and costs the host no more than the quota', async (t) => {
  const disks = testDisks(t);
  const { runtime, docker, instance } = testRuntime(t, { disks });
  const spec = testSpec(instance, 'disk-filler', { limits });
  const image = join(disks.dir, `${spec.names.disk}.img`);
  const { containerId } = await runtime.ensure(spec);
  await runtime.start(spec.names);

  const files = await exec(docker, containerId, ['node', '-e', fillScript(`${FILES_MOUNT}/big`)]);
  const [code, written] = files.output.split(' ');
  t.equal(code, 'ENOSPC', `the write fails with ENOSPC (${files.output})`);
  t.ok(Number(written) > QUOTA / 2 && Number(written) <= QUOTA, `wrote ${written} bytes, at most the quota`);
  // The history volume is on the same filesystem: one quota for both.
  const history = await exec(docker, containerId, ['node', '-e', fillScript(`${HISTORY_MOUNT}/more`)]);
  t.equal(history.output.split(' ')[0], 'ENOSPC', `the history volume is full too (${history.output})`);

  t.ok(allocated(image) <= QUOTA, `the image takes ${allocated(image)} bytes of the host's disk, at most ${QUOTA}`);
  const usage = await runtime.diskUsage(spec.names);
  t.ok(usage && usage.sizeBytes <= QUOTA && usage.sizeBytes > QUOTA * 0.8, `size ${usage?.sizeBytes}`);
  t.ok(
    (usage?.usedBytes ?? 0) >= (usage?.sizeBytes ?? 1) * 0.98,
    `usage shows the filesystem full (${usage?.usedBytes} used)`,
  );

  // Freeing space works as on any disk: the tenant is not stuck.
  const freed = await exec(docker, containerId, ['node', '-e', `require('fs').unlinkSync('${FILES_MOUNT}/big')`]);
  t.equal(freed.exitCode, 0, freed.output);
  t.ok(((await runtime.diskUsage(spec.names))?.usedBytes ?? QUOTA) < QUOTA / 4, 'space is back after the delete');
});

t.test('data survives stop/start and a lost mount (host reboot); a start without the mount fails', async (t) => {
  const disks = testDisks(t);
  const { runtime, docker, instance } = testRuntime(t, { disks });
  const spec = testSpec(instance, 'disk-keeper', { limits });
  const mountPoint = join(disks.dir, spec.names.disk);
  const { containerId } = await runtime.ensure(spec);
  await runtime.start(spec.names);
  const write = await exec(docker, containerId, [
    'node',
    '-e',
    `require('fs').writeFileSync('${FILES_MOUNT}/note.txt', 'kept'); require('fs').writeFileSync('${HISTORY_MOUNT}/h.txt', 'also')`,
  ]);
  t.equal(write.exitCode, 0, write.output);
  const read = async () =>
    (
      await exec(docker, containerId, [
        'node',
        '-e',
        `process.stdout.write(require('fs').readFileSync('${FILES_MOUNT}/note.txt') + '|' + require('fs').readFileSync('${HISTORY_MOUNT}/h.txt'))`,
      ])
    ).output;

  await runtime.stop(spec.names, 5_000);
  await runtime.ensure(spec);
  await runtime.start(spec.names);
  t.equal(await read(), 'kept|also', 'after stop/start');

  // A reboot loses every mount: the engine must not then bind the empty folder under it.
  await runtime.stop(spec.names, 5_000);
  execFileSync('umount', [mountPoint]);
  t.equal(await runtime.diskUsage(spec.names), undefined, 'no usage while unmounted');
  await t.rejects(runtime.start(spec.names), 'a start without the tenant filesystem fails');
  t.notOk(existsSync(join(mountPoint, 'files')), 'nothing was written to the host under the mount point');

  // The wake path (ensure, then start) mounts it again.
  await runtime.ensure(spec);
  await runtime.start(spec.names);
  t.equal(await read(), 'kept|also', 'after the remount');
});

t.test('a bigger plan grows the filesystem at the next start; a delete removes it', async (t) => {
  const disks = testDisks(t);
  const { runtime, docker, instance } = testRuntime(t, { disks });
  const spec = testSpec(instance, 'disk-grower', { limits });
  await runtime.ensure(spec);
  await runtime.start(spec.names);
  const before = (await runtime.diskUsage(spec.names))?.sizeBytes ?? 0;

  const bigger = { ...spec, limits: { ...limits, diskBytes: 2 * QUOTA } };
  await runtime.stop(spec.names, 5_000);
  const { containerId } = await runtime.ensure(bigger);
  await runtime.start(bigger.names);
  const after = (await runtime.diskUsage(spec.names))?.sizeBytes ?? 0;
  t.ok(after > before + QUOTA * 0.9, `grown from ${before} to ${after} bytes`);
  const files = await exec(docker, containerId, ['node', '-e', fillScript(`${FILES_MOUNT}/big`)]);
  t.ok(Number(files.output.split(' ')[1]) > QUOTA, `the tenant can use the new space (${files.output})`);

  await runtime.remove(spec.names, { volumes: true });
  t.notOk(existsSync(join(disks.dir, `${spec.names.disk}.img`)), 'image removed');
  t.notOk(existsSync(join(disks.dir, spec.names.disk)), 'mount point removed');
  const volumes = await docker.listVolumes({ filters: { name: [spec.names.disk] } });
  t.same(volumes.Volumes ?? [], [], 'volumes removed');
});

t.test('plain volumes from before disk quotas are moved onto the tenant filesystem', async (t) => {
  const plain = testRuntime(t);
  const spec = testSpec(plain.instance, 'disk-migrant', { limits });
  const first = await plain.runtime.ensure(spec);
  await plain.runtime.start(spec.names);
  const write = await exec(plain.docker, first.containerId, [
    'node',
    '-e',
    `require('fs').mkdirSync('${FILES_MOUNT}/dir'); require('fs').writeFileSync('${FILES_MOUNT}/dir/old.txt', 'old'); require('fs').writeFileSync('${HISTORY_MOUNT}/h.txt', 'hist')`,
  ]);
  t.equal(write.exitCode, 0, write.output);
  await plain.runtime.stop(spec.names, 5_000);

  // The same deployment restarted with quotas: the same instance name, now with disks.
  const disks = testDisks(t);
  const { runtime, docker } = testRuntime(t, { disks, instance: plain.instance });
  const { containerId } = await runtime.ensure(spec);
  await runtime.start(spec.names);
  const read = await exec(docker, containerId, [
    'node',
    '-e',
    `const fs = require('fs'); process.stdout.write(fs.readFileSync('${FILES_MOUNT}/dir/old.txt') + '|' + fs.readFileSync('${HISTORY_MOUNT}/h.txt') + '|' + fs.statSync('${FILES_MOUNT}/dir').uid)`,
  ]);
  t.equal(read.output, 'old|hist|1000', 'the data moved with its owner');
  const volume = await docker.getVolume(spec.names.filesVolume).inspect();
  t.equal(volume.Options?.device, join(disks.dir, spec.names.disk, 'files'), 'the volume is now a bind');
  const filled = await exec(docker, containerId, ['node', '-e', fillScript(`${FILES_MOUNT}/big`)]);
  t.equal(filled.output.split(' ')[0], 'ENOSPC', 'and bounded');
});

t.test(
  'a supervisor in a container: the helper container mounts the tenant filesystem, and the quota holds',
  async (t) => {
    const { dir } = testDisks(t);
    const infos: string[] = [];
    const log = { info: (_: object, msg: string) => infos.push(msg), warn: () => undefined };
    const disks = await openTenantDisks({
      dir,
      helperImage: testImages.diskHelper,
      unsafeUnbounded: false,
      instance: `t${process.pid}`,
      extraLabels: testLabels(),
      log,
    });
    t.ok(disks, 'the start check passed through the helper');
    t.match(infos, ['tenant disk quotas enforced']);
    const { runtime, docker, instance } = testRuntime(t, { ...(disks ? { disks } : {}) });
    const spec = testSpec(instance, 'disk-helper-filler', { limits });
    const { containerId } = await runtime.ensure(spec);
    await runtime.start(spec.names);
    const files = await exec(docker, containerId, ['node', '-e', fillScript(`${FILES_MOUNT}/big`)]);
    t.equal(files.output.split(' ')[0], 'ENOSPC', `bounded (${files.output})`);
    t.ok(((await runtime.diskUsage(spec.names))?.sizeBytes ?? Infinity) <= QUOTA, 'usage seen by the supervisor');
  },
);

t.test('a host that cannot enforce quotas: the supervisor refuses, unless the operator opted out', async (t) => {
  const disks = testDisks(t);
  const warnings: string[] = [];
  const log = { info: () => undefined, warn: (_: object, msg: string) => warnings.push(msg) };
  // A helper image without nsenter: this host, as a supervisor in a container would see it.
  const options = {
    dir: disks.dir,
    helperImage: testImages.nodeBase,
    instance: `t${process.pid}`,
    extraLabels: testLabels(),
    log,
  };
  await t.rejects(openTenantDisks({ ...options, unsafeUnbounded: false }), {
    code: 'SUP_ERR_DISK_QUOTA_UNAVAILABLE',
    message: /cannot enforce tenant disk quotas .*UNSAFE_TENANT_DISK_UNBOUNDED=true/,
  });
  t.equal(await openTenantDisks({ ...options, unsafeUnbounded: true }), undefined, 'without quotas when opted out');
  t.match(warnings, [/TENANT DISKS ARE UNBOUNDED/]);
  t.ok(await openTenantDisks({ ...options, helperImage: '', unsafeUnbounded: false }), 'this host (root) can');
});
