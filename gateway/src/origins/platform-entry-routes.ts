import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import { SAME_ORIGIN_PATH, safeNext } from '../http/login-page.js';
import { isNavigation } from '../http/navigation.js';
import type { Authenticator } from '../session/authenticator.js';
import type { ExchangeCodes } from './exchange-codes.js';
import { LABEL_PATTERN } from './tenant-label.js';
import { RESERVED_PREFIX, type TenantOrigins } from './tenant-origins.js';

export interface PlatformEntryOptions {
  origins: TenantOrigins;
  /** The platform session (the session cookie). */
  authenticator: Authenticator;
  codes: ExchangeCodes;
}

/**
 * The platform origin's way to a tenant host (subdomain mode). `GET /auth/tenant` turns the
 * platform session into a one-time code for the user's own tenant host and redirects there
 * (`/_tenancy/exchange?code=`), where the host sets its own cookie. Nothing else of the tenant
 * is served on the platform origin: a page load goes to `/auth/tenant`, anything else is
 * answered 421 GW_ERR_TENANT_ON_OWN_ORIGIN, so no tenant script ever runs with the platform's
 * authority.
 */
export const platformEntryRoutes: FastifyPluginAsyncTypebox<PlatformEntryOptions> = async (app, options) => {
  const { origins, authenticator, codes } = options;

  app.get(
    '/auth/tenant',
    {
      schema: {
        querystring: Type.Object({
          // The host a tenant host sent a signed-out browser from: refused unless it is the user's.
          label: Type.Optional(Type.String({ pattern: `^${LABEL_PATTERN}$` })),
          next: Type.Optional(Type.String({ pattern: SAME_ORIGIN_PATH.source, maxLength: 2048 })),
        }),
      },
    },
    async (request, reply) => {
      const session = await authenticator.authenticate(request, reply);
      const label = origins.labelOf(session.userId);
      // Someone else's host: refused before any code or wake exists for it.
      if (request.query.label !== undefined && request.query.label !== label) throw errors.tenantForbidden();
      const next = request.query.next ?? '/';
      const code = await codes.issue({
        label,
        userId: session.userId,
        sid: session.sid,
        authTime: session.authTime,
        email: session.email,
        plan: session.plan,
        // Never into the reserved prefix: the exchange would only answer itself.
        next: next.startsWith(RESERVED_PREFIX) ? '/' : next,
      });
      return reply
        .header('cache-control', 'no-store')
        .redirect(`${origins.originOf(label)}${RESERVED_PREFIX}exchange?code=${code}`, 303);
    },
  );

  const elsewhere = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isNavigation(request)) throw errors.tenantOnOwnOrigin();
    return reply.redirect(`/auth/tenant?next=${encodeURIComponent(safeNext(request.url))}`, 303);
  };
  app.all('/', elsewhere);
  app.all('/*', elsewhere);
};
