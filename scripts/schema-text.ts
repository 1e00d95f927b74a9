/**
 * Short, readable descriptions of JSON Schema (TypeBox) nodes for the generated docs:
 * `string (1–200 chars)`, `"evict" | "reject"`, `integer ≥ 0`.
 */
import { DURATION_PATTERN } from '@tenancy/shared';

/** The JSON Schema keywords the docs read. TypeBox schemas are plain objects with these. */
export interface SchemaNode {
  type?: string | string[];
  const?: unknown;
  anyOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: boolean | SchemaNode;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  maxItems?: number;
  pattern?: string;
  default?: unknown;
  description?: string;
}

/** Patterns with a name readers know; anything else is shown as the regular expression. */
const KNOWN_PATTERNS: Readonly<Record<string, string>> = {
  '^[^\\u0000-\\u001f\\u007f]+$': 'no control characters',
  '^[a-z0-9][a-z0-9_-]*$': 'lowercase letters, digits, `-`, `_`',
  [DURATION_PATTERN]: 'duration such as `45s`, `20m`, `250ms`',
};

function patternText(pattern: string): string {
  // The same-origin path pattern of `next` (its slash may arrive escaped as `\/`).
  if (pattern.startsWith('^/(?![/') || pattern.startsWith('^\\/(?![/')) return 'a path on this site: `/…`, not `//…`';
  return KNOWN_PATTERNS[pattern] ?? `\`${pattern}\``;
}

function range(low: number | undefined, high: number | undefined, unit: string): string | undefined {
  if (low !== undefined && high !== undefined) return `${low}–${high}${unit}`;
  if (low !== undefined) return `≥ ${low}${unit}`;
  if (high !== undefined) return `≤ ${high}${unit}`;
  return undefined;
}

/** The type of a schema node in a few words. */
export function typeText(node: SchemaNode): string {
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (node.anyOf) {
    // Null reads best last ("number | null"), whatever order the schema needs it in.
    const parts = node.anyOf.map(typeText).sort((a, b) => Number(a === 'null') - Number(b === 'null'));
    return [...new Set(parts)].join(' | ');
  }
  const type = Array.isArray(node.type) ? node.type.join(' | ') : (node.type ?? 'any');
  const details: string[] = [];
  if (type === 'string') {
    const length = range(node.minLength, node.maxLength, ' chars');
    if (length) details.push(length);
    if (node.pattern) details.push(patternText(node.pattern));
  }
  if (type === 'integer' || type === 'number') {
    const bounds =
      node.exclusiveMinimum !== undefined
        ? `> ${node.exclusiveMinimum}${node.maximum === undefined ? '' : `, ≤ ${node.maximum}`}`
        : range(node.minimum, node.maximum, '');
    if (bounds) details.push(bounds);
  }
  if (type === 'array') {
    const item = node.items ? typeText(node.items) : 'any';
    const max = node.maxItems === undefined ? '' : ` (at most ${node.maxItems})`;
    return `${item.includes(' ') ? `(${item})` : item}[]${max}`;
  }
  return details.length > 0 ? `${type} (${details.join(', ')})` : type;
}

/**
 * A node's description; for a union such as `Nullable(X)` (X or null), the description its
 * members carry, since the union itself has none.
 */
export function descriptionOf(node: SchemaNode): string {
  if (node.description) return node.description;
  return [...new Set((node.anyOf ?? []).map((member) => member.description).filter(Boolean))].join('; ');
}

/** One documented field of an object schema; nested objects and arrays of objects are flattened. */
export interface FieldRow {
  name: string;
  type: string;
  required: boolean;
  notes: string;
}

/**
 * The fields of an object schema, `items[].userId`-style for nested ones. `named` gives the
 * name of a shape documented on its own, which is then linked instead of expanded.
 */
export function fieldsOf(
  node: SchemaNode,
  named: (node: SchemaNode) => string | undefined = () => undefined,
  prefix = '',
): FieldRow[] {
  const rows: FieldRow[] = [];
  const required = new Set(node.required ?? []);
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const path = `${prefix}${name}`;
    const linked = named(child);
    const itemName = child.type === 'array' && child.items ? named(child.items) : undefined;
    const nested = !linked && child.type === 'object' && child.properties;
    const nestedItems = !itemName && child.type === 'array' && child.items?.type === 'object' && child.items.properties;
    const notes = [
      descriptionOf(child),
      child.default !== undefined ? `default \`${JSON.stringify(child.default)}\`` : '',
    ]
      .filter(Boolean)
      .join('; ');
    rows.push({
      name: path,
      type: linked ?? (itemName ? `${itemName}[]` : nested ? 'object' : nestedItems ? 'object[]' : typeText(child)),
      required: required.has(name) && child.default === undefined,
      notes,
    });
    if (nested) rows.push(...fieldsOf(child, named, `${path}.`));
    if (nestedItems && child.items) rows.push(...fieldsOf(child.items, named, `${path}[].`));
  }
  return rows;
}
