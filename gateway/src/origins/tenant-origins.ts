import type { GatewayConfig } from '../config.js';
import { LABEL_PATTERN, tenantLabel } from './tenant-label.js';

/** The paths a tenant host keeps for the gateway; everything else there is the tenant's. */
export const RESERVED_PREFIX = '/_tenancy/';

/** Which side of the platform a request's host is on (subdomain mode). */
export type HostKind = { kind: 'platform' } | { kind: 'tenant'; label: string } | { kind: 'unknown' };

/**
 * Per-tenant origins (TENANT_ROUTING=subdomain): each user's tenant is served at
 * `<label>.<TENANT_DOMAIN>`, with the scheme and port of PUBLIC_BASE_URL. The platform's own
 * routes answer on every host outside TENANT_DOMAIN (the public origin, and the internal names
 * probes use); tenant content only on a tenant host; any other host under TENANT_DOMAIN gets 404.
 */
export interface TenantOrigins {
  /** Host constraint (find-my-way matches it against the Host header) of the platform's routes. */
  platformHosts: RegExp;
  /** Host constraint of the tenant hosts' routes. */
  tenantHosts: RegExp;
  /** The label of a user's tenant. */
  labelOf(userId: string): string;
  /** The origin (scheme://host[:port]) of a tenant. */
  originOf(label: string): string;
  /** What a Host header names. */
  classify(host: string | undefined): HostKind;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The tenant origins of a subdomain-mode configuration; undefined in path mode. */
export function createTenantOrigins(
  config: Pick<GatewayConfig, 'TENANT_ROUTING' | 'TENANT_DOMAIN' | 'TENANT_LABEL_KEY' | 'PUBLIC_BASE_URL'>,
): TenantOrigins | undefined {
  if (config.TENANT_ROUTING !== 'subdomain') return undefined;
  const domain = config.TENANT_DOMAIN;
  const key = config.TENANT_LABEL_KEY;
  if (!domain || !key) throw new Error('TENANT_ROUTING=subdomain needs TENANT_DOMAIN and TENANT_LABEL_KEY');
  const base = new URL(config.PUBLIC_BASE_URL);
  const port = base.port ? `:${base.port}` : '';
  const under = `\\.${escapeRegExp(domain)}(:\\d+)?$`;
  const tenantHosts = new RegExp(`^(${LABEL_PATTERN})${under}`, 'i');
  return {
    platformHosts: new RegExp(`^(?!.*${under})`, 'i'),
    tenantHosts,
    labelOf: (userId) => tenantLabel(key, userId),
    originOf: (label) => `${base.protocol}//${label}.${domain}${port}`,
    classify(host) {
      const value = host ?? '';
      const tenant = tenantHosts.exec(value);
      if (tenant?.[1]) return { kind: 'tenant', label: tenant[1].toLowerCase() };
      if (new RegExp(under, 'i').test(value)) return { kind: 'unknown' };
      return { kind: 'platform' };
    },
  };
}
