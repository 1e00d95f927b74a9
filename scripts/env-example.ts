/**
 * Prints the .env.example section of each service from its config schema, so the file and the
 * code cannot drift: `npx tsx --conditions=tenancy-source scripts/env-example.ts > .env.example`.
 * The config tests fail when .env.example lists a different set of variables.
 */

import type { TObject } from '@sinclair/typebox';
import { describeConfig } from '@tenancy/shared';
import { GatewayConfigSchema } from '../gateway/src/config.js';
import { SupervisorConfigSchema } from '../supervisor/src/config.js';

const sections: [string, TObject][] = [
  ['supervisor', SupervisorConfigSchema],
  ['gateway', GatewayConfigSchema],
];

/** The text of .env.example. A variable read by several services is listed once, where it first appears. */
export function renderEnvExample(): string {
  const seen = new Set<string>();
  const lines = [
    '# Tenancy configuration. Copy to .env (./setup.sh does it and generates the secrets).',
    '# Generated from the config schemas by scripts/env-example.ts; edit the schemas, not this file.',
    '# Durations accept ms, s, m, h, d (a bare number is seconds). Secrets also accept <NAME>_FILE.',
  ];
  for (const [service, schema] of sections) {
    lines.push('', `# ---- ${service} ----`);
    for (const variable of describeConfig(schema)) {
      if (seen.has(variable.name)) continue;
      seen.add(variable.name);
      lines.push(`# ${variable.description}${variable.secret ? ' (secret)' : ''}`);
      const value = variable.default === undefined ? '' : String(variable.default);
      lines.push(`${variable.required || variable.default !== undefined ? '' : '# '}${variable.name}=${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(renderEnvExample());
