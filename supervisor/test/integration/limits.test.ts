import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Teardown, testImages, uniqueName, waitForHttp } from '@tenancy/test-support';
import t from 'tap';
import { exec, testRuntime, testSpec } from './helpers.js';

/** The tenant image plus a static fork-bomb binary, built offline for this test only. */
async function buildForkBombImage(t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'forkbomb-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  execFileSync('gcc', [
    '-static',
    '-O2',
    '-o',
    join(dir, 'forkbomb'),
    join(import.meta.dirname, 'fixtures/forkbomb.c'),
  ]);
  await writeFile(join(dir, 'Dockerfile'), `FROM ${testImages.tenant}\nCOPY forkbomb /usr/local/bin/forkbomb\n`);
  const tag = `tenancy/${uniqueName('forkbomb')}:test`;
  execFileSync('docker', ['build', '--quiet', '--network', 'none', '-t', tag, dir], {
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => execFileSync('docker', ['image', 'rm', '-f', tag], { stdio: 'ignore' }));
  return tag;
}

t.test('a fork bomb inside a tenant stops at the PIDs limit and the host is unharmed', async (t) => {
  const { runtime, docker, instance } = testRuntime(t);
  const image = await buildForkBombImage(t);
  const spec = testSpec(instance, 'forkbomb-user', { image });
  const { containerId } = await runtime.ensure(spec);
  const { endpointUrl } = await runtime.start(spec.names);
  await waitForHttp(`${endpointUrl}/health`);

  const result = await exec(docker, containerId, ['/usr/local/bin/forkbomb']);
  t.equal(result.exitCode, 0, result.output);
  const made = Number(result.output.trim());
  t.ok(made > 100 && made < 512, `fork() failed after ${made} children: the 512 PIDs limit held`);
  t.equal((await runtime.inspect(spec.names))?.running, true, 'the tenant app survived');
  t.ok((await docker.ping()).toString().length > 0, 'the engine still answers');
  const health = await fetch(`${endpointUrl}/health`);
  t.equal(health.status, 200, 'the app still answers');
});

t.test('a memory hog is OOM-killed at the memory limit', async (t) => {
  const { runtime, docker, instance } = testRuntime(t);
  const spec = testSpec(instance, 'memory-user');
  spec.limits = { ...spec.limits, memoryBytes: 256 * 1024 ** 2 };
  const { containerId } = await runtime.ensure(spec);
  await runtime.start(spec.names);

  const hog = await exec(docker, containerId, [
    'node',
    '-e',
    'const kept = []; for (let i = 0; i < 64; i++) kept.push(Buffer.alloc(32 << 20, 1)); console.log("survived")',
  ]);
  t.equal(hog.exitCode, 137, 'killed with SIGKILL by the OOM killer');
  t.notMatch(hog.output, /survived/);
  const info = await docker.getContainer(containerId).inspect();
  t.equal(info.HostConfig.Memory, 256 * 1024 ** 2);
  t.equal(info.HostConfig.MemorySwap, 256 * 1024 ** 2, 'no swap to escape into');
});
