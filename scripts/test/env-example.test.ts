import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { renderEnvExample, TENANT_APP_VARIABLES } from '../env-example.js';

t.test('.env.example lists exactly the variables the config schemas read, with their defaults', async (t) => {
  const committed = await readFile(join(import.meta.dirname, '../../.env.example'), 'utf8');
  t.equal(
    committed,
    renderEnvExample(),
    '.env.example is out of date: run `npx tsx --conditions=tenancy-source scripts/env-example.ts > .env.example`',
  );
});

t.test('the tenant app section lists exactly the variables tenant-image/src/config.ts reads', async (t) => {
  const source = await readFile(join(import.meta.dirname, '../../tenant-image/src/config.ts'), 'utf8');
  // env.NAME, and the names passed to its integer() and url() readers.
  const read = new Set(
    [...source.matchAll(/env\.([A-Z][A-Z0-9_]*)|(?:integer|url)\('([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1] ?? m[2]),
  );
  t.same([...read].sort(), TENANT_APP_VARIABLES.map(([name]) => name).sort());
});
