import { TENANT_HEADERS } from '@tenancy/shared';

/** Exact (normalised) names of headers a client may never pass to a tenant. */
const BLOCKED = new Set([
  'forwarded',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'client-ip',
  'cf-connecting-ip',
  'cf-access-jwt-assertion',
  'x-request-id',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Prefixes of header names reserved for the platform's own identity and forwarding information. */
const BLOCKED_PREFIXES = ['x-forwarded-', 'x-user', 'x-tenant', 'x-tenancy-', 'x-original-'];

/** `X_Forwarded_For`, `x-forwarded-for` and `X-FORWARDED-FOR` are the same header to many apps. */
function normalise(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}

/** True when a client-sent header must not reach a tenant. */
export function isBlockedHeader(name: string): boolean {
  const normalised = normalise(name);
  return BLOCKED.has(normalised) || BLOCKED_PREFIXES.some((prefix) => normalised.startsWith(prefix));
}

export interface Identity {
  userId: string;
  email: string | null;
  plan: string;
  tenantSecret: string;
  requestId: string;
}

/**
 * The headers forwarded to a tenant: the client's, minus the session cookie, platform
 * credentials and every identity or forwarding header, plus the trusted identity headers.
 */
export function forwardHeaders(
  incoming: Readonly<Record<string, string | string[] | undefined>>,
  identity: Identity,
  options: { sessionCookieName: string; platformCredentials: readonly string[] },
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || isBlockedHeader(name)) continue;
    const lower = name.toLowerCase();
    if (lower === 'cookie') {
      const kept = withoutCookie(Array.isArray(value) ? value.join('; ') : value, options.sessionCookieName);
      if (kept) out.cookie = kept;
      continue;
    }
    if (lower === 'authorization') {
      const text = Array.isArray(value) ? value.join(',') : value;
      if (options.platformCredentials.some((credential) => credential && text.includes(credential))) continue;
    }
    out[lower] = value;
  }
  out[TENANT_HEADERS.userId] = encodeHeaderValue(identity.userId);
  if (identity.email) out[TENANT_HEADERS.email] = encodeHeaderValue(identity.email);
  out[TENANT_HEADERS.plan] = identity.plan;
  out[TENANT_HEADERS.secret] = identity.tenantSecret;
  out[TENANT_HEADERS.requestId] = identity.requestId;
  return out;
}

/** Removes one cookie from a Cookie header, keeping the others as they were. */
export function withoutCookie(header: string, name: string): string {
  return header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '' && part.split('=')[0]?.trim() !== name)
    .join('; ');
}

/** Header values must be visible ASCII; anything else is percent-encoded (the tenant decodes it). */
function encodeHeaderValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}
