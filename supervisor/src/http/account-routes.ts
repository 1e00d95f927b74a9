import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { DeletionScheduled, ExportQuery, INTERNAL_ROUTES, UserRecord } from '@tenancy/shared';
import type { FastifyReply } from 'fastify';
import type { AccountDeletion } from '../accounts/account-deletion.js';
import { type AccountExport, type AccountExportDeps, exportAccount } from '../accounts/account-export.js';
import { errors } from '../errors.js';
import type { Store } from '../store/index.js';
import { adminOf } from './admin-auth.js';
import { DeleteQuery, ErrorBody, UserParams } from './schemas.js';

export interface AccountRoutesOptions {
  store: Store;
  exports: AccountExportDeps;
  deletion: AccountDeletion;
}

/** Streams an export with its download headers; the body is never buffered. */
function sendExport(reply: FastifyReply, download: AccountExport) {
  return reply
    .type(download.contentType)
    .header('content-disposition', `attachment; filename="${download.filename}"`)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .send(download.stream);
}

/**
 * The users' data rights on the internal API (Bearer SUPERVISOR_TOKEN): the gateway calls these
 * for the signed-in user (GET /auth/export, POST /auth/account/delete and /restore). Audited with
 * actor `self`: the user acted through their own session.
 */
export const internalAccountRoutes: FastifyPluginAsyncTypebox<AccountRoutesOptions> = async (app, options) => {
  const { store, deletion } = options;

  app.get(
    INTERNAL_ROUTES.exportUser,
    { schema: { params: UserParams, querystring: ExportQuery, response: { 404: ErrorBody } } },
    async (request, reply) =>
      sendExport(
        reply,
        await exportAccount(options.exports, request.params.userId, {
          gzip: request.query.format === 'tar.gz',
          actor: 'self',
        }),
      ),
  );

  app.post(
    INTERNAL_ROUTES.deletion,
    { schema: { params: UserParams, response: { 202: DeletionScheduled, 404: ErrorBody } } },
    async (request, reply) => reply.code(202).send(await deletion.request(request.params.userId, 'self')),
  );

  app.delete(
    INTERNAL_ROUTES.deletion,
    { schema: { params: UserParams, response: { 200: UserRecord, 404: ErrorBody, 409: ErrorBody } } },
    async (request) => {
      deletion.cancel(request.params.userId, 'self');
      return store.users.get(request.params.userId);
    },
  );
};

/**
 * Data rights on the admin API: export any user's data, schedule or cancel a deletion, erase an
 * account at once. Audited under the acting admin identity.
 */
export const adminAccountRoutes: FastifyPluginAsyncTypebox<AccountRoutesOptions> = async (app, options) => {
  const { store, deletion } = options;

  app.get(
    '/v1/users/:userId/export',
    { schema: { params: UserParams, querystring: ExportQuery, response: { 404: ErrorBody } } },
    async (request, reply) =>
      sendExport(
        reply,
        await exportAccount(options.exports, request.params.userId, {
          gzip: request.query.format === 'tar.gz',
          actor: adminOf(request).actor,
        }),
      ),
  );

  app.post(
    '/v1/users/:userId/deletion',
    { schema: { params: UserParams, response: { 202: DeletionScheduled, 404: ErrorBody } } },
    async (request, reply) =>
      reply.code(202).send(await deletion.request(request.params.userId, adminOf(request).actor)),
  );

  app.delete(
    '/v1/users/:userId/deletion',
    { schema: { params: UserParams, response: { 200: UserRecord, 404: ErrorBody, 409: ErrorBody } } },
    async (request) => {
      deletion.cancel(request.params.userId, adminOf(request).actor);
      return store.users.get(request.params.userId);
    },
  );

  // Erasure at once, without grace: the user's tenant (container, network, volumes, disk), their
  // record and their id in the audit log. `confirm` repeats the user id, as for a tenant delete.
  app.delete(
    '/v1/users/:userId',
    {
      schema: {
        params: UserParams,
        querystring: DeleteQuery,
        response: { 200: Type.Object({ erased: Type.String() }), 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const { userId } = request.params;
      if (request.query.confirm !== userId) throw errors.confirmMismatch();
      return { erased: await deletion.erase(userId, adminOf(request).actor) };
    },
  );
};
