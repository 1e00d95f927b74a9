import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ExportQuery } from '@tenancy/shared';
import type { FastifyRequest } from 'fastify';
import type { Revocations } from '../revocation/revocations.js';
import type { Authenticator } from '../session/authenticator.js';
import type { SupervisorClient } from '../supervisor/client.js';

export interface AccountRoutesOptions {
  authenticator: Authenticator;
  revocations: Revocations;
  supervisor: SupervisorClient;
  /** onRequest hook of the POSTs: refuses cross-site requests (see cross-site.ts). */
  refuseCrossSite: (request: FastifyRequest) => Promise<void>;
}

/** Headers of the supervisor's export that the download keeps; nothing else of its answer passes. */
const DOWNLOAD_HEADERS = ['content-type', 'content-disposition'] as const;

/**
 * The signed-in user's data rights: a download of their data and the deletion of their account.
 *
 * `GET /auth/export` is a GET without the cross-site check on purpose: it is what a link on the
 * "my workspace" page navigates to, and a top-level navigation from another site carries the
 * SameSite=Lax cookie too. That is safe here: the answer is a download (Content-Disposition:
 * attachment) that a page on another site can neither read (no CORS, `nosniff`) nor embed, and
 * it changes nothing but an audit entry. The two POSTs change state and are refused cross-site.
 */
export const accountRoutes: FastifyPluginAsyncTypebox<AccountRoutesOptions> = async (app, options) => {
  const { authenticator, revocations, supervisor, refuseCrossSite } = options;

  app.get('/auth/export', { schema: { querystring: ExportQuery } }, async (request, reply) => {
    const session = await authenticator.authenticate(request, reply);
    // The client going away ends the supervisor's stream, which releases the volumes.
    const abort = new AbortController();
    reply.raw.once('close', () => abort.abort());
    const res = await supervisor.exportUser(session.userId, { gzip: request.query.format === 'tar.gz' }, abort.signal);
    for (const name of DOWNLOAD_HEADERS) {
      const value = res.headers.get(name);
      if (value) reply.header(name, value);
    }
    request.log.info({ userId: session.userId }, 'data export started');
    return (
      reply
        .header('cache-control', 'no-store')
        .header('x-content-type-options', 'nosniff')
        // nginx must not spool a large download to its temporary files: streamed end to end.
        .header('x-accel-buffering', 'no')
        .send(Readable.fromWeb(res.body as never))
    );
  });

  // Disabled at once: the supervisor refuses the account and stops its container, and announces
  // the revocation to every replica; this one also revokes here, so the answer means it is done.
  // The user may sign in again within the grace, only to export or restore.
  app.post('/auth/account/delete', { onRequest: refuseCrossSite }, async (request, reply) => {
    const session = await authenticator.authenticate(request, reply);
    const { deletionDueAt } = await supervisor.requestDeletion(session.userId);
    await revocations.revokeUser(session.userId);
    authenticator.clearCookie(reply);
    request.log.info({ userId: session.userId }, 'account deletion requested');
    return reply.code(202).send({
      deletion_due_at: new Date(deletionDueAt).toISOString(),
      restore: 'POST /auth/account/restore after signing in again, before that time',
    });
  });

  app.post('/auth/account/restore', { onRequest: refuseCrossSite }, async (request, reply) => {
    const session = await authenticator.authenticate(request, reply);
    await supervisor.cancelDeletion(session.userId);
    request.log.info({ userId: session.userId }, 'account deletion cancelled');
    return { restored: true };
  });
};
