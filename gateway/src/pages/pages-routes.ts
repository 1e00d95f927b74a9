import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { FailedLogins } from '../auth/failed-logins.js';
import { errors } from '../errors.js';
import type { Authenticator } from '../session/authenticator.js';
import type { SupervisorClient } from '../supervisor/client.js';
import type { AdminApi } from './admin-api.js';
import { adminConsoleRoutes } from './admin-routes.js';
import type { AdminSessions } from './admin-sessions.js';
import { PAGES_STYLE } from './pages-style.js';
import { workspaceRoutes } from './workspace-routes.js';

/** The reserved prefix of the platform's own pages, on the platform origin and on tenant hosts alike. */
export const PAGES_PREFIX = '/_tenancy/';

export interface PagesRoutesOptions {
  authenticator: Authenticator;
  supervisor: SupervisorClient;
  adminSessions: AdminSessions;
  adminApi: AdminApi;
  publicBaseUrl: string;
  /** Where the user's app is from the platform origin: `/` in path mode, `/auth/tenant` in subdomain mode. */
  tenantUrl: string;
  refuseCrossSite: (request: FastifyRequest) => Promise<void>;
  failedAdminLogins: FailedLogins;
  now: () => number;
}

/**
 * The platform's pages on the platform origin, all under /_tenancy/ (docs/pages.md): the user's
 * workspace page and the admin console. The gateway owns the whole prefix here: a path under it
 * that is no page is 404 from the gateway, never passed to a tenant (in path mode every other
 * path belongs to the signed-in user's tenant, which may have an /admin of its own).
 */
export const pagesRoutes: FastifyPluginAsync<PagesRoutesOptions> = async (app, options) => {
  app.get('/_tenancy/pages.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(PAGES_STYLE),
  );
  await app.register(workspaceRoutes, {
    authenticator: options.authenticator,
    supervisor: options.supervisor,
    tenantUrl: options.tenantUrl,
    refuseCrossSite: options.refuseCrossSite,
    now: options.now,
  });
  await app.register(adminConsoleRoutes, {
    sessions: options.adminSessions,
    api: options.adminApi,
    publicBaseUrl: options.publicBaseUrl,
    refuseCrossSite: options.refuseCrossSite,
    failedLogins: options.failedAdminLogins,
  });
  app.all('/_tenancy/*', async () => {
    throw errors.notFound();
  });
};
