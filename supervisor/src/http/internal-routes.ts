import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ActivityBatch, INTERNAL_ROUTES, TenantRoute, UpsertUserBody, UserRecord, WakeBody } from '@tenancy/shared';
import { errors } from '../errors.js';
import type { TenantController } from '../lifecycle/controller.js';
import type { Store } from '../store/index.js';
import { streamRouteEvents } from './route-events.js';
import { ErrorBody, UserParams } from './schemas.js';
import type { UserChanges } from './user-changes.js';
import { streamWakeProgress } from './wake-events.js';

export interface InternalRoutesOptions {
  store: Store;
  controller: TenantController;
  /** Where a login that changed the user's plan is announced to the gateway replicas. */
  users: UserChanges;
}

/**
 * The internal API the gateway uses (Bearer SUPERVISOR_TOKEN, checked by the caller's hook).
 * Paths and bodies are the shared contract in @tenancy/shared.
 */
export const internalRoutes: FastifyPluginAsyncTypebox<InternalRoutesOptions> = async (app, options) => {
  const { store, controller, users } = options;
  /** A route with the user's current plan: the gateway forwards that one, not the session's. */
  const withPlan = (userId: string, route: TenantRoute): TenantRoute => {
    const plan = store.users.get(userId)?.plan;
    return plan === undefined ? route : { ...route, plan };
  };

  app.put(
    INTERNAL_ROUTES.upsertUser,
    { schema: { params: UserParams, body: UpsertUserBody, response: { 200: UserRecord, 400: ErrorBody } } },
    async (request) => {
      const before = store.users.get(request.params.userId)?.plan;
      const warned = store.inactivity.of(request.params.userId)?.warnedAt != null;
      // The upsert records the sign-in and clears an inactivity warning (INACTIVE_TENANT_DAYS).
      const user = store.users.upsert(request.params.userId, request.body);
      store.audit.append({ actor: 'gateway', action: 'user.login', target: user.userId, result: 'ok' });
      if (warned) {
        store.audit.append({
          actor: 'gateway',
          action: 'user.inactive-warning-cleared',
          target: user.userId,
          result: 'ok',
          detail: { by: 'sign-in' },
        });
      }
      // The user's other sessions hold routes with the old plan in every replica.
      if (before !== undefined && before !== user.plan) users.emit({ kind: 'unroute', userId: user.userId });
      return user;
    },
  );

  app.post(
    INTERNAL_ROUTES.wake,
    {
      schema: { params: UserParams, body: Type.Optional(WakeBody), response: { 200: TenantRoute } },
      // The body is optional, but Ajv validates an absent one as a wrong type: read it as empty.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) =>
      withPlan(
        request.params.userId,
        await controller.wake(request.params.userId, {
          wait: request.body?.wait ?? false,
          ...(request.body?.timeoutMs ? { timeoutMs: request.body.timeoutMs } : {}),
        }),
      ),
  );

  app.get(INTERNAL_ROUTES.wakeEvents, { schema: { params: UserParams } }, async (request, reply) =>
    streamWakeProgress(request, reply, controller, request.params.userId),
  );

  // A disabled user's sessions are revoked when they are disabled; this refuses them too, for a
  // replica that was not following the feed at that moment.
  app.get(
    INTERNAL_ROUTES.route,
    { schema: { params: UserParams, response: { 200: TenantRoute, 403: ErrorBody } } },
    async (request) => {
      const { userId } = request.params;
      const user = store.users.get(userId);
      if (user?.disabled) throw errors.userDisabled();
      if (user?.deletionDueAt !== undefined) throw errors.deletionPending();
      return withPlan(userId, controller.route(userId));
    },
  );

  // The user's own "stop now": audited under the user, with its own stop reason.
  app.post(
    INTERNAL_ROUTES.stop,
    { schema: { params: UserParams, response: { 200: TenantRoute, 403: ErrorBody } } },
    async (request) => {
      const { userId } = request.params;
      if (store.users.get(userId)?.disabled) throw errors.userDisabled();
      if (store.tenants.get(userId)) await controller.stop(userId, 'user', `user:${userId}`);
      return withPlan(userId, controller.route(userId));
    },
  );

  const routeStreams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...routeStreams]) end();
  });
  app.get(INTERNAL_ROUTES.events, async (request, reply) =>
    streamRouteEvents(request, reply, controller, users, routeStreams),
  );

  app.post(INTERNAL_ROUTES.activity, { schema: { body: ActivityBatch } }, async (request, reply) => {
    controller.recordActivities(request.body.items);
    return reply.code(204).send();
  });
};
