import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { renderEnvExample } from '../env-example.js';

t.test('.env.example lists exactly the variables the config schemas read, with their defaults', async (t) => {
  const committed = await readFile(join(import.meta.dirname, '../../.env.example'), 'utf8');
  t.equal(
    committed,
    renderEnvExample(),
    '.env.example is out of date: run `npx tsx --conditions=tenancy-source scripts/env-example.ts > .env.example`',
  );
});
