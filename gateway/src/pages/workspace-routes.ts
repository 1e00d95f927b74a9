import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { TenantRoute } from '@tenancy/shared';
import type { FastifyRequest } from 'fastify';
import type { Authenticator } from '../session/authenticator.js';
import type { SupervisorClient } from '../supervisor/client.js';
import { PAGES_POLICY } from './html.js';
import { workspacePage } from './workspace-page.js';
import { WORKSPACE_SCRIPT } from './workspace-script.js';

export interface WorkspaceRoutesOptions {
  authenticator: Authenticator;
  supervisor: SupervisorClient;
  /** Where the user's app is from the platform origin: `/`, or `/auth/tenant` in subdomain mode. */
  tenantUrl: string;
  /** onRequest hook of every POST here: refuses cross-site requests (see http/cross-site.ts). */
  refuseCrossSite: (request: FastifyRequest) => Promise<void>;
  now: () => number;
}

/** The tenant's state and idle deadline as the workspace page reads them (the shape of /auth/session's `tenant`). */
const tenantOf = (route: TenantRoute) => ({
  state: route.state,
  idle_deadline: route.idleDeadline ? new Date(route.idleDeadline).toISOString() : null,
});

/**
 * The "My workspace" page and the two user actions it needs: keep awake and stop now. Both act on
 * the session's own tenant only, through the supervisor's internal API.
 */
export const workspaceRoutes: FastifyPluginAsyncTypebox<WorkspaceRoutesOptions> = async (app, options) => {
  const { authenticator, supervisor, refuseCrossSite, now } = options;
  const html = workspacePage(options.tenantUrl);

  app.get('/_tenancy/workspace', async (request, reply) => {
    // Signed out: the error handler sends a page load to the sign-in page, which comes back here.
    await authenticator.authenticate(request, reply);
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', PAGES_POLICY)
      .send(html);
  });
  app.get('/_tenancy/workspace.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(WORKSPACE_SCRIPT),
  );

  // "Keep awake": counts as activity now, as a request to the app would, so the idle deadline
  // moves to now + IDLE_TIMEOUT. Reported at once rather than with the next activity batch, so
  // the answer carries the new deadline. A container that is not running is left as it is.
  app.post('/auth/tenant/activity', { onRequest: refuseCrossSite }, async (request, reply) => {
    const { userId } = await authenticator.authenticate(request, reply);
    const before = await supervisor.route(userId);
    if (before.state !== 'running') return tenantOf(before);
    await supervisor.reportActivity({
      items: [{ userId, lastActivity: now(), requests: 1, wsFrames: 0, streamMs: 0 }],
    });
    return tenantOf(await supervisor.route(userId));
  });

  // "Stop now": the container stops (its data stays); the next request wakes it again.
  app.post('/auth/tenant/stop', { onRequest: refuseCrossSite }, async (request, reply) => {
    const { userId } = await authenticator.authenticate(request, reply);
    const route = await supervisor.stop(userId);
    request.log.info({ userId }, 'tenant stopped by its user');
    return tenantOf(route);
  });
};
