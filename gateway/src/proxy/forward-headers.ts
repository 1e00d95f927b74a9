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

/**
 * Prefixes of header names reserved for the platform's own identity and forwarding information,
 * and Cloudflare Access's (`Cf-Access-Client-Secret` of a service token, `Cf-Access-Token`,
 * `Cf-Access-Authenticated-User-Email`): credentials and identity of the edge, not the tenant's.
 */
const BLOCKED_PREFIXES = ['x-forwarded-', 'x-user', 'x-tenant', 'x-tenancy-', 'x-original-', 'cf-access-'];

/**
 * Cookie names the platform or its edge own, compared in lower case. The platform's: any name
 * starting with `tenancy` (the session cookie in both spellings, `__Host-`/`__Secure-` prefixed or
 * not; the prefix is reserved, tenants must not use it). Cloudflare's: `CF_Authorization` (the
 * Access JWT, a credential for every application behind the same Access team), `CF_AppSession`,
 * `CF_Binding`, `cf_clearance`, `__cf_bm`, `__cflb`, `__cfruid`, `_cfuvid` and the rest of the
 * `cf_`, `__cf` family. A deny-list rather than an allow-list: tenant apps set cookies of their
 * own, under names the platform cannot know.
 */
const PLATFORM_COOKIE = /^(?:(?:__host-|__secure-)?tenancy|cf_|__cf|_cfuvid$)/;

/** True when a cookie of this name belongs to the platform or the edge and must not reach a tenant. */
export function isPlatformCookie(name: string): boolean {
  return PLATFORM_COOKIE.test(name.trim().toLowerCase());
}

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
 * The headers forwarded to a tenant: the client's, minus every platform and edge cookie (the
 * session cookie among them), platform credentials and every identity or forwarding header, plus
 * the trusted identity headers. Both the HTTP proxy and the WebSocket tunnel use it.
 */
export function forwardHeaders(
  incoming: Readonly<Record<string, string | string[] | undefined>>,
  identity: Identity,
  options: { platformCredentials: readonly string[] },
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || isBlockedHeader(name)) continue;
    const lower = name.toLowerCase();
    if (lower === 'cookie') {
      const kept = withoutPlatformCookies(Array.isArray(value) ? value.join('; ') : value);
      if (kept) out.cookie = kept;
      continue;
    }
    if (lower === 'authorization') {
      const text = Array.isArray(value) ? value.join(',') : value;
      if (options.platformCredentials.some((credential) => credential && text.includes(credential))) continue;
      // A personal API key (`tny_`) is the platform's, whether or not it was the one used.
      if (/\btny_/i.test(text)) continue;
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

/** Removes the platform's and the edge's cookies from a Cookie header, keeping the others as they were. */
export function withoutPlatformCookies(header: string): string {
  return header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '' && !isPlatformCookie(part.split('=')[0] ?? ''))
    .join('; ');
}

/** Header values must be visible ASCII; anything else is percent-encoded (the tenant decodes it). */
function encodeHeaderValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}
