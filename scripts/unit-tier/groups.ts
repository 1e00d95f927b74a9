import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** Which folders (relative to the repository) a group runs the unit test files of. */
export interface Group {
  under: readonly string[];
  /** Folders inside those that another group runs. */
  except?: readonly string[];
}

/**
 * The fast tier's groups: each runs in one process (`<name>.group.ts` beside this file), and tap
 * runs as many at once as the machine has cores. Two, because the test machine has 2 cores and
 * each process costs about 3 s of CPU to start; the supervisor's tests take about as long as all
 * the others together. docs/development.md has the figures that chose this split.
 * scripts/test/test-tiers.test.ts checks that together they run every unit test file once.
 */
export const GROUPS: Record<string, Group> = {
  supervisor: { under: ['supervisor'] },
  // Every other part, so that a new one is in the tier without a change here.
  rest: { under: ['.'], except: ['supervisor'] },
};

export const ROOT = join(import.meta.dirname, '../..');

/** The group a `<name>.group.ts` file runs. */
export function groupOf(entryFile: string): Group {
  const group = GROUPS[basename(entryFile, '.group.ts')];
  if (!group) throw new Error(`${entryFile} names no group in scripts/unit-tier/groups.ts`);
  return group;
}

/** The unit test files of `group`, relative to the repository and sorted. */
export async function unitTestFiles({ under, except = [] }: Group): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true })) {
      if (['node_modules', '.git', '.tap', 'dist'].includes(entry.name)) continue;
      const path = join(dir, entry.name);
      // The tier rule: tests in `integration/` folders and in the e2e workspace are not unit tests.
      if (entry.isDirectory()) {
        if (entry.name !== 'integration' && path !== 'e2e' && !except.includes(path)) await walk(path);
      } else if (entry.name.endsWith('.test.ts')) found.push(path);
    }
  }
  for (const dir of under) await walk(dir);
  return found.sort();
}
