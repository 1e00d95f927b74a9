import { isIP } from 'node:net';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FailedLogins } from '../auth/failed-logins.js';
import { errors } from '../errors.js';
import { isNavigation } from '../http/navigation.js';
import { type AdminApi, isConsoleCall } from './admin-api.js';
import { adminAuditPage, adminConsolePage, adminSignInPage, adminTenantPage } from './admin-pages.js';
import { ADMIN_SCRIPT } from './admin-script.js';
import { type AdminSession, type AdminSessions, adminCookie } from './admin-sessions.js';
import { PAGES_POLICY } from './html.js';

export interface AdminConsoleOptions {
  sessions: AdminSessions;
  api: AdminApi;
  publicBaseUrl: string;
  /** onRequest hook of every POST and DELETE here: refuses cross-site requests (see http/cross-site.ts). */
  refuseCrossSite: (request: FastifyRequest) => Promise<void>;
  /** Failed admin sign-ins per client: a token cannot be guessed at any speed. */
  failedLogins: FailedLogins;
}

const API_PREFIX = '/_tenancy/admin/api';

/** The client a sign-in comes from: nginx's X-Real-IP, else the socket's (as auth-routes.ts). */
function clientOf(request: FastifyRequest): string {
  const named = request.headers['x-real-ip'];
  return typeof named === 'string' && isIP(named) ? named : request.ip;
}

/**
 * The admin console under /_tenancy/admin on the platform origin. An admin signs in with their
 * own admin token (ADMIN_TOKEN or a named `tnya_…` token): the gateway asks the supervisor whose
 * it is, keeps it server-side (admin-sessions.ts) and gives the browser only an HttpOnly cookie.
 * The pages' script reads /_tenancy/admin/api/…, which the gateway relays to the supervisor's
 * admin API with that admin's token, so every action is checked and audited there under the
 * admin's identity. Requests that change state are refused from other sites (Sec-Fetch-Site /
 * Origin) and the cookie is SameSite=Strict.
 */
export const adminConsoleRoutes: FastifyPluginAsyncTypebox<AdminConsoleOptions> = async (app, options) => {
  const { sessions, api, refuseCrossSite, failedLogins } = options;
  const cookie = adminCookie(options.publicBaseUrl);

  // The sign-in form posts application/x-www-form-urlencoded; only this scope reads that type.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const html = (reply: FastifyReply, body: string, status = 200) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', PAGES_POLICY)
      .header('referrer-policy', 'no-referrer')
      .send(body);

  /** The request's admin session; a page load without one goes to the sign-in page, anything else gets 401. */
  async function adminOf(request: FastifyRequest, reply: FastifyReply): Promise<AdminSession | undefined> {
    const session = await sessions.get(request.cookies[cookie.name]);
    if (session) return session;
    if (request.cookies[cookie.name] !== undefined) reply.clearCookie(cookie.name, cookie.options);
    if (isNavigation(request)) {
      await reply.redirect('/_tenancy/admin/login', 303);
      return undefined;
    }
    throw errors.adminSessionMissing();
  }

  app.get('/_tenancy/admin/login', async (_request, reply) => html(reply, adminSignInPage()));

  app.post(
    '/_tenancy/admin/login',
    {
      onRequest: refuseCrossSite,
      schema: { body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 512 }) }) },
    },
    async (request, reply) => {
      const client = clientOf(request);
      const retryAfterSeconds = failedLogins.retryAfterSeconds(client);
      if (retryAfterSeconds > 0) {
        reply.header('retry-after', String(retryAfterSeconds));
        return html(reply, adminSignInPage('Too many failed sign-ins from this address: wait a minute.'), 429);
      }
      const token = request.body.token.trim();
      const actor = await api.whoami(token);
      if (!actor) {
        failedLogins.failed(client);
        request.log.warn({ client }, 'admin sign-in refused');
        return html(reply, adminSignInPage('The supervisor did not accept this token.'), 401);
      }
      // A session cookie the browser brought is replaced, never reused (no fixation).
      await sessions.end(request.cookies[cookie.name]);
      reply.setCookie(cookie.name, await sessions.create(token, actor), cookie.options);
      request.log.info({ actor }, 'admin signed in to the console');
      return reply.redirect('/_tenancy/admin', 303);
    },
  );

  app.post('/_tenancy/admin/logout', { onRequest: refuseCrossSite }, async (request, reply) => {
    await sessions.end(request.cookies[cookie.name]);
    reply.clearCookie(cookie.name, cookie.options);
    return reply.redirect('/_tenancy/admin/login', 303);
  });

  app.get('/_tenancy/admin', async (request, reply) => {
    const admin = await adminOf(request, reply);
    return admin ? html(reply, adminConsolePage(admin.actor)) : reply;
  });
  app.get('/_tenancy/admin/audit', async (request, reply) => {
    const admin = await adminOf(request, reply);
    return admin ? html(reply, adminAuditPage(admin.actor)) : reply;
  });
  app.get(
    '/_tenancy/admin/tenants/:userId',
    { schema: { params: Type.Object({ userId: Type.String({ minLength: 1, maxLength: 200 }) }) } },
    async (request, reply) => {
      const admin = await adminOf(request, reply);
      return admin ? html(reply, adminTenantPage(admin.actor, request.params.userId)) : reply;
    },
  );
  app.get('/_tenancy/admin.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(ADMIN_SCRIPT),
  );

  // The relay to the supervisor's admin API: only the calls the console makes (admin-api.ts).
  const relay = async (request: FastifyRequest, reply: FastifyReply) => {
    const raw = request.raw.url ?? '';
    const queryAt = raw.indexOf('?');
    const path = (queryAt === -1 ? raw : raw.slice(0, queryAt)).slice(API_PREFIX.length);
    const query = queryAt === -1 ? '' : raw.slice(queryAt);
    // The session first: a caller without one learns nothing, not even which calls exist.
    const session = await sessions.get(request.cookies[cookie.name]);
    if (!session) {
      if (request.cookies[cookie.name] !== undefined) reply.clearCookie(cookie.name, cookie.options);
      throw errors.adminSessionMissing();
    }
    if (!isConsoleCall(request.method, path)) throw errors.notFound();
    const answer = await api.call(session.token, request.method, `/v1${path}${query}`);
    // The token was revoked or expired since the sign-in: the session ends with it.
    if (answer.status === 401) {
      await sessions.end(request.cookies[cookie.name]);
      reply.clearCookie(cookie.name, cookie.options);
      throw errors.adminSessionMissing('the admin token is no longer accepted: sign in again');
    }
    reply.code(answer.status).header('cache-control', 'no-store');
    if (answer.status === 204) return reply.send();
    return reply.type(answer.contentType).send(answer.body);
  };
  app.get(`${API_PREFIX}/*`, relay);
  app.post(`${API_PREFIX}/*`, { onRequest: refuseCrossSite }, relay);
  app.delete(`${API_PREFIX}/*`, { onRequest: refuseCrossSite }, relay);
};
