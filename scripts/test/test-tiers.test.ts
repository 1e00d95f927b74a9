import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import t from 'tap';
import { GROUPS, unitTestFiles } from '../unit-tier/groups.js';

/**
 * `make test-unit` (scripts/test-unit.sh) runs every test outside `test/integration/` folders and
 * the `e2e/` workspace, with no Docker, Redis or nginx set up. This keeps that rule true: a test
 * in the unit tier that starts or needs any of them belongs in `test/integration/`.
 */
const ROOT = join(import.meta.dirname, '../..');

/** The tap excludes scripts/test-unit.sh passes for named files, which {@link isUnitTest} mirrors. */
const UNIT_EXCLUDES = ['**/integration/**', 'e2e/**'];

/** Helpers that start, or connect to, Docker, Redis, nginx or a service process. */
const INFRASTRUCTURE_HELPERS =
  /\b(startRedisServer|testRedisUrl|startNginx|startSupervisor|startGateway|startServiceProcess|testDocker|createTestContainer|createTestNetwork)\b/;
/** Value imports of the clients for them (type-only imports are fine: fakes need the types). */
const INFRASTRUCTURE_CLIENTS = /^import (?!type )[^;]*from '(dockerode|ioredis|playwright-core)'/m;

function isUnitTest(path: string): boolean {
  return path.endsWith('.test.ts') && !path.split('/').includes('integration') && !path.startsWith('e2e/');
}

/** What in `text` needs infrastructure, or undefined. */
function infrastructureUse(text: string): string | undefined {
  return (text.match(INFRASTRUCTURE_HELPERS) ?? text.match(INFRASTRUCTURE_CLIENTS))?.[1];
}

async function testFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (['node_modules', '.git', '.tap', 'dist'].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await testFiles(path)));
    else if (entry.name.endsWith('.test.ts')) found.push(relative(ROOT, path));
  }
  return found.sort();
}

t.test('scripts/test-unit.sh selects the unit tier by the documented rule', async (t) => {
  const script = await readFile(join(ROOT, 'scripts/test-unit.sh'), 'utf8');
  t.strictSame(
    [...script.matchAll(/--exclude='([^']+)'/g)].map((match) => match[1]),
    UNIT_EXCLUDES,
  );
  t.match(script, /npx tap scripts\/unit-tier\/\*\.group\.ts\b/, 'without files, it runs the groups');
});

t.test('the fast tier’s groups run every unit test file, each in one group only', async (t) => {
  const unit = (await testFiles(ROOT)).filter(isUnitTest);
  const grouped = (await Promise.all(Object.values(GROUPS).map(unitTestFiles))).flat();
  t.strictSame(grouped.toSorted(), unit, 'every unit test file is in a group (scripts/unit-tier/groups.ts)');
  t.equal(new Set(grouped).size, grouped.length, 'no file is in two groups');
  const entries = (await readdir(join(ROOT, 'scripts/unit-tier'))).filter((name) => name.endsWith('.group.ts'));
  t.strictSame(
    entries.map((name) => basename(name, '.group.ts')).sort(),
    Object.keys(GROUPS).sort(),
    'each group has its <name>.group.ts, which tap runs as one process',
  );
});

t.test('unit test files only add tests to tap’s root: its hooks would reach the next files of a group', async (t) => {
  const offenders: string[] = [];
  for (const path of (await testFiles(ROOT)).filter(isUnitTest)) {
    const text = await readFile(join(ROOT, path), 'utf8');
    for (const match of text.matchAll(/^t\.(?!(test|skip|todo)\()\w+/gm)) offenders.push(`${path}: ${match[0]}`);
  }
  t.strictSame(offenders, []);
});

t.test('no unit-tier test starts or needs Docker, Redis or nginx', async (t) => {
  const files = await testFiles(ROOT);
  // This file names the helpers it looks for.
  const unit = files.filter((path) => isUnitTest(path) && path !== relative(ROOT, import.meta.filename));
  t.ok(unit.length > 0 && unit.length < files.length, `${unit.length} of ${files.length} test files are unit tests`);
  const offenders: string[] = [];
  for (const path of unit) {
    const use = infrastructureUse(await readFile(join(ROOT, path), 'utf8'));
    if (use) offenders.push(`${path}: ${use} (move it to a test/integration/ folder)`);
  }
  t.strictSame(offenders, []);
});

t.test('the check recognises what integration tests use', async (t) => {
  const cases: [string, string | undefined][] = [
    ['const redis = await startRedisServer(t);', 'startRedisServer'],
    ['redisUrl: testRedisUrl(),', 'testRedisUrl'],
    ["import Docker from 'dockerode';", 'dockerode'],
    ["import { Redis } from 'ioredis';", 'ioredis'],
    ["import type { Redis } from 'ioredis';", undefined],
    ["import type { Teardown } from '@tenancy/test-support';", undefined],
  ];
  for (const [text, expected] of cases) t.equal(infrastructureUse(text), expected, text);
});
