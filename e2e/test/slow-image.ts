import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Teardown, testImages, uniqueName } from '@tenancy/test-support';

/**
 * The tenant image with a start 3 s slower than usual, built offline for this test: the waiting
 * page otherwise shows for only a few hundred milliseconds, too short to watch it work.
 */
export function buildSlowStartImage(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'slow-tenant-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'Dockerfile'),
    `FROM ${testImages.tenant}\nENTRYPOINT ["node", "-e", "setTimeout(() => import('/app/dist/server.js'), 3000)"]\n`,
  );
  const tag = `tenancy/${uniqueName('slow-tenant')}:test`;
  execFileSync('docker', ['build', '--quiet', '--network', 'none', '-t', tag, dir], {
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => execFileSync('docker', ['image', 'rm', '-f', tag], { stdio: 'ignore' }));
  return tag;
}
