import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ApiKeyId, ApiKeyList, ApiKeyRecord, UserId } from '@tenancy/shared';
import type { Store } from '../store/index.js';
import { adminOf } from './admin-auth.js';
import { revokeApiKey } from './api-key-routes.js';
import { ErrorBody } from './schemas.js';
import type { UserChanges } from './user-changes.js';

/**
 * Every user's personal API keys under /v1/api-keys, for admins (ADMIN_TOKEN or a named admin
 * token): list them (never a key or its hash: only the lookup id), and revoke one, audited under
 * the admin who did it. A revocation reaches every gateway replica through their feed.
 */
export const adminApiKeyRoutes: FastifyPluginAsyncTypebox<{ store: Store; users: UserChanges }> = async (
  app,
  options,
) => {
  const { store, users } = options;

  app.get(
    '/v1/api-keys',
    {
      schema: {
        querystring: Type.Object(
          { userId: Type.Optional(UserId) },
          { additionalProperties: false, description: 'userId: only this user’s keys' },
        ),
        response: { 200: ApiKeyList },
      },
    },
    async (request) => ({ items: store.apiKeys.list(request.query.userId) }),
  );

  app.delete(
    '/v1/api-keys/:keyId',
    { schema: { params: Type.Object({ keyId: ApiKeyId }), response: { 200: ApiKeyRecord, 404: ErrorBody } } },
    async (request) => revokeApiKey(store, users, request.params.keyId, adminOf(request).actor),
  );
};
