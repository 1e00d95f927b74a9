import { readFileSync } from 'node:fs';
import { type StaticDecode, type TObject, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DURATION_PATTERN, formatDuration, parseDuration } from './duration.js';
import { TenancyError } from './errors.js';

/**
 * Configuration loading shared by every service.
 *
 * Each service declares one TypeBox object whose property names are the environment variable
 * names. Every property carries a `description` (meaning and unit) and, unless required, a
 * `default`. `loadConfig` reads the variables, accepts `<NAME>_FILE` for secrets, converts,
 * validates, and returns a deep-frozen object. That schema is the only place a variable is
 * documented, and `config.ts` / `server.ts` are the only files that read `process.env`.
 */

/** Marks a schema property whose value must never be logged and may come from `<NAME>_FILE`. */
export const SECRET = 'x-secret';

/** A duration option: written as `45s`, `20m`, `250ms` (bare numbers are seconds), decoded to milliseconds. */
export function Duration(defaultValue: string | undefined, description: string) {
  const text = Type.String({
    pattern: DURATION_PATTERN,
    description,
    ...(defaultValue ? { default: defaultValue } : {}),
  });
  return Type.Transform(text).Decode(parseDuration).Encode(formatDuration);
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A size option: written as `512m`, `2g`, `4096k` or bare bytes (binary units), decoded to bytes. */
export function ByteSize(defaultValue: string, description: string) {
  const text = Type.String({ pattern: '^\\s*\\d+\\s*[kmgtKMGT]?[iI]?[bB]?\\s*$', description, default: defaultValue });
  return Type.Transform(text)
    .Decode((value) => {
      const match = /^\s*(\d+)\s*([kmgt]?)/i.exec(value);
      return Number(match?.[1] ?? 0) * (BYTE_UNITS[(match?.[2] ?? '').toLowerCase()] ?? 1);
    })
    .Encode((bytes) => {
      for (const unit of ['t', 'g', 'm', 'k'] as const) {
        const size = BYTE_UNITS[unit] ?? 1;
        if (bytes !== 0 && bytes % size === 0) return `${bytes / size}${unit}`;
      }
      return String(bytes);
    });
}

/**
 * The tenant address pool (TENANT_SUBNET_POOL): both services read it, the supervisor to cut
 * tenant networks from it, both to refuse connections from it; they must agree on its value.
 */
export function TenantSubnetPool(description: string) {
  return Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$', default: '10.201.0.0/16', description });
}

/** A secret string option (see {@link SECRET}), at least `minLength` characters. */
export function Secret(description: string, minLength = 32) {
  return Type.String({ minLength, description, [SECRET]: true });
}

/** Raised when the environment does not satisfy the schema; lists every problem at once. */
export class ConfigError extends TenancyError {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super('CONFIG_ERR_INVALID', 500, `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** Reads, converts, validates and freezes the configuration described by `schema`. */
export function loadConfig<T extends TObject>(
  schema: T,
  env: Readonly<Record<string, string | undefined>>,
): Readonly<StaticDecode<T>> {
  const problems: string[] = [];
  const raw: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(schema.properties) as [string, TSchema][]) {
    const value = readVariable(name, property, env, problems);
    if (value !== undefined) raw[name] = value;
  }
  const withDefaults = Value.Default(schema, raw);
  const converted = Value.Convert(schema, withDefaults);
  for (const error of Value.Errors(schema, converted)) {
    const name = error.path.replace(/^\//, '') || '(root)';
    const property = schema.properties[name] as TSchema | undefined;
    const shown = property?.[SECRET] === true ? '(hidden)' : JSON.stringify(error.value);
    problems.push(`${name}: ${error.message} (got ${shown})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(Value.Decode(schema, converted));
}

function readVariable(
  name: string,
  property: TSchema,
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): string | undefined {
  const direct = nonEmpty(env[name]);
  const file = property[SECRET] === true ? nonEmpty(env[`${name}_FILE`]) : undefined;
  if (direct !== undefined && file !== undefined) {
    problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
    return undefined;
  }
  if (file === undefined) return direct;
  try {
    // Secrets mounted as files usually end with a newline that is not part of the secret.
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Lists the variables a schema reads, for docs and for the `.env.example` consistency test. */
export function describeConfig(
  schema: TObject,
): { name: string; description: string; default: unknown; secret: boolean; required: boolean }[] {
  const required = new Set(schema.required ?? []);
  return (Object.entries(schema.properties) as [string, TSchema][]).map(([name, property]) => ({
    name,
    description: String(property.description ?? ''),
    default: property.default,
    secret: property[SECRET] === true,
    required: required.has(name) && property.default === undefined,
  }));
}

function deepFreeze<V>(value: V): V {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
