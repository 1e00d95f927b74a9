/**
 * Generates the variable tables of docs/configuration.md from the config schemas, with the same
 * `describeConfig` that scripts/env-example.ts uses for .env.example:
 *
 *   npx tsx --conditions=tenancy-source scripts/config-docs.ts --write
 *
 * scripts/test/config-docs.test.ts fails when the tables and the schemas disagree.
 */
import { join } from 'node:path';
import type { TObject, TSchema } from '@sinclair/typebox';
import { describeConfig } from '@tenancy/shared';
import { GatewayConfigSchema } from '../gateway/src/config.js';
import { SupervisorConfigSchema } from '../supervisor/src/config.js';
import { table, writeRegions } from './doc-regions.js';
import { type SchemaNode, typeText } from './schema-text.js';

export const CONFIG_DOC = join(import.meta.dirname, '..', 'docs', 'configuration.md');

/** The kind of value a variable takes, in a few words. */
function kindOf(property: TSchema, secret: boolean): string {
  const node = property as SchemaNode;
  if (secret) return `secret (≥ ${node.minLength ?? 0} chars)`;
  const text = typeText(node);
  // Durations are strings with the duration pattern; say so plainly.
  return text.startsWith('string (duration') ? 'duration' : text;
}

/** One service's table: variable, default, kind, meaning. */
export function renderConfigTable(schema: TObject): string {
  const rows = describeConfig(schema).map((variable) => {
    const property = schema.properties[variable.name] as TSchema;
    const fallback =
      variable.default === undefined
        ? variable.required
          ? '**required**'
          : '(unset)'
        : variable.default === ''
          ? '(empty)'
          : `\`${String(variable.default)}\``;
    return [`\`${variable.name}\``, fallback, kindOf(property, variable.secret), variable.description];
  });
  return table(['variable', 'default', 'kind', 'meaning'], rows);
}

/** The generated regions of docs/configuration.md. */
export function renderConfigRegions(): Record<string, string> {
  return {
    'supervisor-config': renderConfigTable(SupervisorConfigSchema),
    'gateway-config': renderConfigTable(GatewayConfigSchema),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const regions = renderConfigRegions();
  if (process.argv.includes('--write')) {
    const changed = await writeRegions(CONFIG_DOC, regions);
    process.stdout.write(changed ? `updated ${CONFIG_DOC}\n` : `${CONFIG_DOC} is up to date\n`);
  } else {
    for (const [name, text] of Object.entries(regions)) process.stdout.write(`<!-- ${name} -->\n${text}\n`);
  }
}
