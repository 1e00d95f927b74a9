import type { CookieSerializeOptions } from '@fastify/cookie';

/** Name and attributes of the session cookie for a public origin. */
export interface SessionCookie {
  name: string;
  options: CookieSerializeOptions;
}

/**
 * HttpOnly, SameSite=Lax, Path=/. Over https the cookie is also Secure and carries the `__Host-`
 * prefix, which browsers accept only with Secure, Path=/ and no Domain: no subdomain can set or
 * shadow it.
 */
export function sessionCookie(publicBaseUrl: string): SessionCookie {
  const secure = publicBaseUrl.startsWith('https://');
  return {
    name: secure ? '__Host-tenancy_session' : 'tenancy_session',
    options: { httpOnly: true, sameSite: 'lax', path: '/', secure },
  };
}

/**
 * The cookie of a tenant origin (subdomain mode), set by that tenant host for itself only: no
 * Domain attribute (host-only), so neither the platform nor another tenant host ever receives
 * it; `__Host-` over https makes that binding one a sibling host cannot override. The name
 * starts with `tenancy` so the gateway strips it before anything reaches the tenant.
 */
export function tenantCookie(publicBaseUrl: string): SessionCookie {
  const secure = publicBaseUrl.startsWith('https://');
  return {
    name: secure ? '__Host-tenancy_tenant' : 'tenancy_tenant',
    options: { httpOnly: true, sameSite: 'lax', path: '/', secure },
  };
}
