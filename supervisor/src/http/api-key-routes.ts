import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  ApiKeyId,
  ApiKeyList,
  ApiKeyRecord,
  CreateApiKeyBody,
  INTERNAL_ROUTES,
  UserId,
  VerifiedApiKey,
  VerifyApiKeyBody,
} from '@tenancy/shared';
import { errors } from '../errors.js';
import type { Store } from '../store/index.js';
import { secretsMatch } from './bearer-auth.js';
import { ErrorBody, UserParams } from './schemas.js';
import type { UserChanges } from './user-changes.js';

export interface ApiKeyRoutesOptions {
  store: Store;
  /** Where a revocation is announced to the gateway replicas, which record it in Redis at once. */
  users: UserChanges;
  now?: () => number;
}

/** Live keys a user may hold at once: enough for every script and machine, not a storage bin. */
const MAX_LIVE_KEYS = 50;

/**
 * Revokes a key (audited once, however often it is asked) and announces it on the gateways'
 * feed. The user's own actions are audited as `self` (the target names the user, and erasing an
 * account rewrites targets only); key names, the user's own words, stay out of the audit log. Shared by the user's own revocation (through the gateway) and an admin's.
 */
export function revokeApiKey(store: Store, users: UserChanges, keyId: string, actor: string): ApiKeyRecord {
  const revoked = store.transaction(() => {
    const before = store.apiKeys.get(keyId);
    if (!before) throw errors.apiKeyNotFound();
    const after = store.apiKeys.revoke(keyId, actor) ?? before;
    if (before.revokedAt === null)
      store.audit.append({
        actor,
        action: 'api-key.revoke',
        target: before.userId,
        result: 'ok',
        detail: { keyId },
      });
    return after;
  });
  users.emit({ kind: 'revoke-key', userId: revoked.userId, keyId });
  return revoked;
}

/**
 * The internal API for personal API keys (Bearer SUPERVISOR_TOKEN, checked by the caller's
 * hook). The gateway mints keys and sends only their hash: no key ever reaches the supervisor.
 */
export const internalApiKeyRoutes: FastifyPluginAsyncTypebox<ApiKeyRoutesOptions> = async (app, options) => {
  const { store, users } = options;
  const now = options.now ?? Date.now;

  app.get(
    INTERNAL_ROUTES.apiKeys,
    { schema: { params: UserParams, response: { 200: ApiKeyList } } },
    async (request) => ({ items: store.apiKeys.list(request.params.userId) }),
  );

  app.post(
    INTERNAL_ROUTES.apiKeys,
    {
      schema: {
        params: UserParams,
        body: CreateApiKeyBody,
        response: { 201: ApiKeyRecord, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { userId } = request.params;
      const created = store.transaction(() => {
        if (!store.users.get(userId)) throw errors.userNotFound();
        if (store.apiKeys.liveCount(userId) >= MAX_LIVE_KEYS) throw errors.apiKeyLimit();
        const key = store.apiKeys.create(userId, request.body);
        store.audit.append({
          actor: 'self',
          action: 'api-key.create',
          target: userId,
          result: 'ok',
          detail: { keyId: key.id, scope: key.scope, expiresAt: key.expiresAt },
        });
        return key;
      });
      return reply.code(201).send(created);
    },
  );

  app.delete(
    INTERNAL_ROUTES.apiKey,
    {
      schema: {
        params: Type.Object({ userId: UserId, keyId: ApiKeyId }),
        response: { 200: ApiKeyRecord, 404: ErrorBody },
      },
    },
    async (request) => {
      const { userId, keyId } = request.params;
      // Another user's key is as unknown as a key that does not exist.
      if (store.apiKeys.get(keyId)?.userId !== userId) throw errors.apiKeyNotFound();
      return revokeApiKey(store, users, keyId, 'self');
    },
  );

  app.post(
    INTERNAL_ROUTES.verifyApiKey,
    {
      schema: {
        params: Type.Object({ keyId: ApiKeyId }),
        body: VerifyApiKeyBody,
        response: { 200: VerifiedApiKey, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => {
      const { keyId } = request.params;
      const found = store.apiKeys.credential(keyId);
      // One answer for every refusal: the caller learns nothing about which ids exist.
      const refuse = (reason: string) => {
        request.log.info({ keyId, reason }, 'api key refused');
        return errors.apiKeyInvalid();
      };
      if (!found || !secretsMatch(request.body.keyHash, found.keyHash)) throw refuse('unknown');
      const { key } = found;
      if (key.revokedAt !== null) throw refuse('revoked');
      if (key.expiresAt !== null && key.expiresAt <= now()) throw refuse('expired');
      const user = store.users.get(key.userId);
      if (!user || user.disabled) throw errors.userDisabled();
      // An account whose deletion is scheduled is refused at once, its keys with it.
      if (user.deletionDueAt !== undefined) throw errors.deletionPending();
      store.transaction(() => {
        if (store.apiKeys.touch(keyId))
          store.audit.append({
            actor: 'self',
            action: 'api-key.first-use',
            target: key.userId,
            result: 'ok',
            detail: { keyId },
          });
      });
      return { ...(store.apiKeys.get(keyId) ?? key), email: user.email, plan: user.plan };
    },
  );
};
