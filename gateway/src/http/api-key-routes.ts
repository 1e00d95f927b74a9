import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ApiKeyName, type ApiKeyRecord, isTenancyError } from '@tenancy/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { API_KEY_ID_PATTERN, mintApiKey } from '../api-keys/key-format.js';
import { errors } from '../errors.js';
import type { Revocations } from '../revocation/revocations.js';
import type { Session } from '../session/tokens.js';
import type { SupervisorClient } from '../supervisor/client.js';
import { API_KEYS_PAGE, API_KEYS_SCRIPT } from './api-keys-page.js';
import { PAGE_POLICY } from './page-policy.js';

export interface ApiKeyRoutesOptions {
  /** The caller's session from the cookie only: a key cannot make or revoke keys. Throws 401. */
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<Session>;
  supervisor: SupervisorClient;
  revocations: Revocations;
  /** onRequest hook of POST and DELETE: refuses cross-site requests (see cross-site.ts). */
  refuseCrossSite: (request: FastifyRequest) => Promise<void>;
  now?: () => number;
}

/** A key as the user sees it (times ISO 8601); never its hash. */
function view(key: ApiKeyRecord) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: key.id,
    name: key.name,
    scope: key.scope,
    created_at: iso(key.createdAt),
    expires_at: iso(key.expiresAt),
    last_used_at: iso(key.lastUsedAt),
    revoked_at: iso(key.revokedAt),
  };
}

const CreateBody = Type.Object(
  {
    name: ApiKeyName,
    /** Lifetime from now; absent: the key lasts until revoked. */
    expires_in_seconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 365 * 86_400 })),
  },
  { additionalProperties: false },
);

/**
 * The signed-in user's personal API keys: make one (its key is in this answer only), list
 * them, revoke one. A key is minted here and the supervisor keeps only its SHA-256, so no key
 * ever leaves the gateway (see api-keys/key-format.ts).
 */
export const apiKeyRoutes: FastifyPluginAsyncTypebox<ApiKeyRoutesOptions> = async (app, options) => {
  const { authenticate, supervisor, revocations, refuseCrossSite } = options;
  const now = options.now ?? Date.now;
  const sessions = new WeakMap<FastifyRequest, Session>();
  // Before validation, so a caller without a session learns nothing about the body it sent.
  const signedIn = async (request: FastifyRequest, reply: FastifyReply) => {
    sessions.set(request, await authenticate(request, reply));
  };
  const sessionOf = (request: FastifyRequest): Session => {
    const session = sessions.get(request);
    if (!session) throw errors.unauthenticated();
    return session;
  };

  // The page asks for the list itself: without a session it offers the sign-in page.
  app.get('/auth/keys', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', PAGE_POLICY)
      .send(API_KEYS_PAGE),
  );
  app.get('/auth/keys.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(API_KEYS_SCRIPT),
  );

  app.post(
    '/auth/api-keys',
    { onRequest: [refuseCrossSite, signedIn], schema: { body: CreateBody } },
    async (request, reply) => {
      const { userId } = sessionOf(request);
      const { id, key, hash } = mintApiKey();
      const { expires_in_seconds: ttl } = request.body;
      const created = await supervisor.createApiKey(userId, {
        id,
        name: request.body.name,
        keyHash: hash,
        scope: 'tenant',
        expiresAt: ttl === undefined ? null : now() + ttl * 1000,
      });
      request.log.info({ userId, keyId: id }, 'api key created');
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ ...view(created), key });
    },
  );

  app.get('/auth/api-keys', { onRequest: signedIn }, async (request) => {
    const { items } = await supervisor.listApiKeys(sessionOf(request).userId);
    return { items: items.map(view) };
  });

  // Answered once the supervisor has revoked the key and Redis has the revocation, so every
  // replica refuses it from its own view. When Redis cannot record it, the supervisor's feed
  // still tells every replica, which retry; and a replica that missed both asks the supervisor
  // again within a minute (VERIFIED_KEY_TTL_MS).
  app.delete(
    '/auth/api-keys/:id',
    {
      onRequest: [refuseCrossSite, signedIn],
      schema: { params: Type.Object({ id: Type.String({ pattern: API_KEY_ID_PATTERN }) }) },
    },
    async (request) => {
      const { userId } = sessionOf(request);
      const revoked = await supervisor.revokeApiKey(userId, request.params.id);
      try {
        await revocations.revokeKey(revoked.id);
      } catch (err) {
        if (isTenancyError(err, errors.revocationUnavailable))
          throw errors.apiKeyRevocationPending(undefined, { cause: err });
        throw err;
      }
      request.log.info({ userId, keyId: revoked.id }, 'api key revoked by its user');
      return view(revoked);
    },
  );
};
