import { readFile } from 'node:fs/promises';
import t from 'tap';
import { CONFIG_DOC, renderConfigRegions } from '../config-docs.js';
import { readRegion } from '../doc-regions.js';

t.test('docs/configuration.md lists every variable of the config schemas, with its default', async (t) => {
  const doc = await readFile(CONFIG_DOC, 'utf8');
  for (const [name, text] of Object.entries(renderConfigRegions())) {
    t.equal(
      readRegion(doc, name),
      text,
      `region ${name} of docs/configuration.md is out of date: run \`npx tsx --conditions=tenancy-source scripts/config-docs.ts --write\``,
    );
  }
});
