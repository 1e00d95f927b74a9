import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import t from 'tap';

const ROOT = join(import.meta.dirname, '..', '..');

/** Every TypeScript file below `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The package a bare import names (`@scope/name` or `name`), or undefined for a relative or built-in one. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier))
    return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * The images install each service's own dependencies only (scripts/build-images.sh), while the
 * workspace hoists every package to the root: a package a service imports without declaring it
 * works in tests and `make dev`, then fails in the image at start. Type-only imports are erased.
 */
t.test('every package a workspace imports at run time is one of its dependencies', async (t) => {
  for (const workspace of ['shared', 'gateway', 'supervisor', 'tenant-image']) {
    const manifest = JSON.parse(readFileSync(join(ROOT, workspace, 'package.json'), 'utf8'));
    const declared = new Set(Object.keys(manifest.dependencies ?? {}));
    const missing = new Set<string>();
    for (const file of sources(join(ROOT, workspace, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/^import (?!type )[^;]*?from '([^']+)'/gms)) {
        const name = packageOf(match[1] ?? '');
        if (name && !declared.has(name)) missing.add(`${name} (${file.slice(ROOT.length + 1)})`);
      }
    }
    t.same([...missing], [], `${workspace} declares what it imports`);
  }
});
