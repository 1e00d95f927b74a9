/** Labels on every Docker object the supervisor creates, so it can find them again after a restart. */
export const LABELS = {
  managedBy: 'dev.tenancy.managed-by',
  instance: 'dev.tenancy.instance',
  tenant: 'dev.tenancy.tenant',
  schema: 'dev.tenancy.schema',
  role: 'dev.tenancy.role',
  spec: 'dev.tenancy.spec',
} as const;

export const MANAGED_BY = 'tenancy-supervisor';

/** Version of the object layout; bump when names, mounts or labels change shape. */
export const SCHEMA_VERSION = '1';

/** Parses TENANT_LABELS (`a=b,c=d`) into an object; keys may not shadow the supervisor's own. */
export function parseExtraLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = (eq === -1 ? pair : pair.slice(0, eq)).trim();
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(key)) throw new RangeError(`invalid label key in TENANT_LABELS: ${key}`);
    if (key.startsWith('dev.tenancy.') && Object.values(LABELS).includes(key as never)) {
      throw new RangeError(`TENANT_LABELS may not set ${key}`);
    }
    labels[key] = eq === -1 ? '' : pair.slice(eq + 1).trim();
  }
  return labels;
}
