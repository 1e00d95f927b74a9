import { once } from 'node:events';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { groupOf, ROOT, unitTestFiles } from './groups.js';

/**
 * Runs the unit test files of the group that `entryFile` (a `<name>.group.ts`) names, in this
 * process, one file after another. `make test-unit` does this instead of starting a process per
 * file, as `make test` does, because starting node, tsx and tap's harness costs about 3 s of CPU
 * a process on the 2-core test machine, more than most of these files take to run (figures in
 * docs/development.md).
 *
 * Each file's tests still build and tear down all they use, and `make test` still runs every file
 * alone in its own process, so a test that passes only because another file ran first fails
 * there. Here, the next file is loaded only once the last test of the one before has ended, so two
 * files' tests never overlap, and a file that changes what the next one would inherit (the
 * environment, the working directory) fails.
 */
export async function runGroup(entryFile: string): Promise<void> {
  const group = groupOf(entryFile);
  const files = await unitTestFiles(group);
  if (files.length === 0) t.fail(`no unit test files under ${group.under.join(', ')}`);
  for (const file of files) {
    const env = JSON.stringify(process.env);
    const cwd = process.cwd();
    t.comment(file);
    // A test file's top-level t.test() calls queue its tests on tap's root, which runs them one at
    // a time and is idle again once the last of them has ended.
    try {
      await import(pathToFileURL(join(ROOT, file)).href);
    } catch (error) {
      // The group goes on: the other files' tests are no less worth running.
      t.fail(`${file} failed to load`, { error });
    }
    if (!t.idle) await once(t, 'idle');
    if (JSON.stringify(process.env) !== env) t.fail(`${file} changed process.env, which later files would inherit`);
    if (process.cwd() !== cwd) t.fail(`${file} changed the working directory to ${relative(ROOT, process.cwd())}`);
  }
}
