import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { mintAdminToken } from '../admins/admin-tokens.js';
import { errors } from '../errors.js';
import type { Store } from '../store/index.js';
import { adminOf, BOOTSTRAP_ACTOR } from './admin-auth.js';
import { ErrorBody } from './schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([Type.Null(), schema]);

/** A named admin identity as the API shows it (never its token or hash). Times are epoch milliseconds. */
export const AdminIdentityView = Type.Object({
  id: Type.String({ description: 'Lookup id: the 12 hex characters after `tnya_` in the token' }),
  name: Type.String(),
  createdAt: Type.Number(),
  createdBy: Type.String({ description: 'Audit actor that created it' }),
  expiresAt: Nullable(Type.Number()),
  lastUsedAt: Nullable(Type.Number({ description: 'Last request with the token, to the minute' })),
  revokedAt: Nullable(Type.Number()),
  revokedBy: Nullable(Type.String()),
});

const AdminIdentityList = Type.Object({ items: Type.Array(AdminIdentityView) });

const CreatedAdmin = Type.Composite([
  AdminIdentityView,
  Type.Object({ token: Type.String({ description: 'The bearer token, shown this once: only its hash is kept' }) }),
]);

const CreateBody = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$',
      description: 'Who will hold the token (an operator, a script); unique, never reused',
    }),
    expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 10 * 365 * 86_400 })),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) });

/**
 * Named admin identities under /v1/admins. Anyone with admin access may list them; only the
 * bootstrap ADMIN_TOKEN may create or revoke one. Otherwise a leaked named token could mint a
 * successor for itself, and revoking it would no longer shut the holder out.
 */
export const adminIdentityRoutes: FastifyPluginAsyncTypebox<{ store: Store }> = async (app, options) => {
  const { store } = options;
  const bootstrapOnly = (actor: string) => {
    if (actor !== BOOTSTRAP_ACTOR) throw errors.adminForbidden();
  };

  app.get('/v1/admins', { schema: { response: { 200: AdminIdentityList } } }, async () => ({
    items: store.admins.list(),
  }));

  app.post(
    '/v1/admins',
    { schema: { body: CreateBody, response: { 201: CreatedAdmin, 403: ErrorBody, 409: ErrorBody } } },
    async (request, reply) => {
      const { actor } = adminOf(request);
      bootstrapOnly(actor);
      const { name, expiresInSeconds } = request.body;
      const { id, token, hash } = mintAdminToken();
      const ttlMs = expiresInSeconds === undefined ? null : expiresInSeconds * 1000;
      const created = store.transaction(() => {
        const identity = store.admins.create({ id, name, tokenHash: hash, createdBy: actor, ttlMs });
        if (identity)
          store.audit.append({
            actor,
            action: 'admin.create',
            target: `admin:${name}`,
            result: 'ok',
            detail: { id, expiresAt: identity.expiresAt },
          });
        return identity;
      });
      if (!created) throw errors.adminNameTaken(`an admin identity named ${JSON.stringify(name)} exists (or existed)`);
      request.log.info({ adminId: id, name }, 'admin identity created');
      return reply.code(201).send({ ...created, token });
    },
  );

  app.delete(
    '/v1/admins/:id',
    { schema: { params: IdParams, response: { 200: AdminIdentityView, 403: ErrorBody, 404: ErrorBody } } },
    async (request) => {
      const { actor } = adminOf(request);
      bootstrapOnly(actor);
      const { id } = request.params;
      return store.transaction(() => {
        const before = store.admins.get(id);
        if (!before) throw errors.adminNotFound(`no admin identity ${JSON.stringify(id)}`);
        const after = store.admins.revoke(id, actor) ?? before;
        // Revoking twice is not an error, and is audited once.
        if (before.revokedAt === null)
          store.audit.append({
            actor,
            action: 'admin.revoke',
            target: `admin:${after.name}`,
            result: 'ok',
            detail: { id },
          });
        return after;
      });
    },
  );
};
