import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { loggerOptions, parseCidr, refuseConnectionsFrom, toErrorBody } from '@tenancy/shared';
import { RequestLog } from '@tenancy/shared/request-log';
import Fastify, { type FastifyBaseLogger, type FastifyRequest } from 'fastify';
import { AccountDeletion } from './accounts/account-deletion.js';
import { inactivityPolicy } from './accounts/inactive-accounts.js';
import type { SupervisorConfig } from './config.js';
import { errors } from './errors.js';
import { adminAccountRoutes, internalAccountRoutes } from './http/account-routes.js';
import { adminApiKeyRoutes } from './http/admin-api-key-routes.js';
import { createAdminAuth } from './http/admin-auth.js';
import { adminIdentityRoutes } from './http/admin-identity-routes.js';
import { adminRoutes } from './http/admin-routes.js';
import { internalApiKeyRoutes } from './http/api-key-routes.js';
import { bearerToken, secretsMatch } from './http/bearer-auth.js';
import { internalRoutes } from './http/internal-routes.js';
import type { SupervisorMetrics } from './http/metrics.js';
import { UserChanges } from './http/user-changes.js';
import type { TenantController } from './lifecycle/controller.js';
import type { PlanTable } from './plans.js';
import { deriveIdentity } from './runtime/names.js';
import type { TenantRuntime } from './runtime/types.js';
import type { Store } from './store/index.js';

/** Everything the HTTP layer works with; server.ts builds the real ones, tests may build others. */
export interface SupervisorDeps {
  store: Store;
  runtime: TenantRuntime;
  controller: TenantController;
  plans: PlanTable;
  metrics: SupervisorMetrics;
  /**
   * Asks, cancels and performs account deletions; server.ts starts its reaper. By default the
   * app makes one without a reaper.
   */
  deletion?: AccountDeletion;
  /** The feed of user changes to the gateways; shared with `deletion` when both are given. */
  users?: UserChanges;
  /** The process logger; by default the app makes its own. */
  logger?: FastifyBaseLogger;
}

type Config = Pick<
  SupervisorConfig,
  'ADMIN_TOKEN' | 'SUPERVISOR_TOKEN' | 'TENANT_NAMESPACE_KEY' | 'LOG_LEVEL' | 'BACKUP_DIR'
> &
  Partial<
    Pick<
      SupervisorConfig,
      | 'TENANT_SUBNET_POOL'
      | 'TENANT_IMAGE'
      | 'DELETION_GRACE'
      | 'REAPER_INTERVAL'
      | 'INACTIVE_TENANT_DAYS'
      | 'INACTIVE_WARNING_DAYS'
    >
  >;

/** Builds the supervisor's HTTP app: health, metrics, the internal API and the admin API. */
export async function buildApp(config: Config, deps: SupervisorDeps) {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: loggerOptions('supervisor', config.LOG_LEVEL) }),
    bodyLimit: 256 * 1024,
    // Unknown fields are an error, not silently dropped: a typo must not pass as "unset".
    ajv: { customOptions: { removeAdditional: false } },
    // Reject duplicate slashes or odd encodings rather than guessing which tenant was meant.
    routerOptions: { maxParamLength: 600 },
    logController: new RequestLog(),
  }).withTypeProvider<TypeBoxTypeProvider>();

  if (config.TENANT_SUBNET_POOL) {
    refuseConnectionsFrom(app.server, parseCidr(config.TENANT_SUBNET_POOL), (address) =>
      app.log.debug({ address }, 'refused a connection from a tenant network'),
    );
  }

  app.setErrorHandler((err, request, reply) => {
    const validation = (err as { validation?: unknown }).validation !== undefined;
    const body = validation
      ? toErrorBody(errors.badRequest((err as Error).message), errors.internal.code)
      : toErrorBody(err, errors.internal.code);
    if (body.statusCode >= 500) request.log.error({ err }, 'request failed');
    if (typeof body.retryAfterSeconds === 'number') reply.header('retry-after', String(body.retryAfterSeconds));
    return reply.code(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body = toErrorBody(errors.notFound(`no route ${request.method} ${request.url.split('?')[0]}`), '');
    return reply.code(404).send(body);
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_request, reply) => {
    try {
      deps.store.ping();
      await deps.runtime.ping();
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send(toErrorBody(errors.runtimeUnavailable(String((err as Error).message)), ''));
    }
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  // Disables and plan changes, from the admin and internal APIs to the gateways' feed.
  const users = deps.users ?? new UserChanges();
  const deletion =
    deps.deletion ??
    new AccountDeletion({
      store: deps.store,
      controller: deps.controller,
      users,
      namespaceKey: config.TENANT_NAMESPACE_KEY,
      graceMs: config.DELETION_GRACE ?? 7 * 24 * 3600_000,
      intervalMs: config.REAPER_INTERVAL ?? 5_000,
      log: app.log,
    });
  const accounts = {
    store: deps.store,
    deletion,
    exports: {
      store: deps.store,
      runtime: deps.runtime,
      namesFor: (userId: string) => deps.controller.namesFor(userId),
      holdStill: (userId: string) => deps.controller.holdStill(userId),
      image: config.TENANT_IMAGE ?? '',
    },
  };
  await app.register(async (internal) => {
    internal.addHook(
      'onRequest',
      requireToken(() => config.SUPERVISOR_TOKEN),
    );
    await internal.register(internalRoutes, { store: deps.store, controller: deps.controller, users });
    await internal.register(internalApiKeyRoutes, { store: deps.store, users });
    await internal.register(internalAccountRoutes, accounts);
  });

  // The store is looked up per request, not now: scripts/api-docs.ts builds the app without one.
  const authenticateAdmin = createAdminAuth({ bootstrapToken: config.ADMIN_TOKEN, store: () => deps.store });
  await app.register(async (admin) => {
    admin.decorateRequest('admin', null);
    admin.addHook('onRequest', async (request: FastifyRequest) => {
      const token = bearerToken(request.headers.authorization);
      const actor = token ? authenticateAdmin(token) : undefined;
      if (actor) {
        request.admin = actor;
        return;
      }
      // A tenant may push its own summary with its own token, and nothing else.
      const params = request.params as { userId?: string };
      const isSummary = request.method === 'POST' && request.routeOptions.url === '/v1/tenants/:userId/summary';
      if (token && isSummary && typeof params.userId === 'string') {
        const expected = deriveIdentity(config.TENANT_NAMESPACE_KEY, params.userId).summaryToken;
        if (secretsMatch(token, expected)) return;
      }
      throw errors.unauthorized();
    });
    await admin.register(adminRoutes, {
      store: deps.store,
      controller: deps.controller,
      plans: deps.plans,
      logs: (userId, tail) => deps.runtime.logs(deps.controller.namesFor(userId), tail),
      backupDir: config.BACKUP_DIR,
      diskUsage: (userId) => deps.runtime.diskUsage(deps.controller.namesFor(userId)),
      users,
      inactivity: inactivityPolicy(config.INACTIVE_TENANT_DAYS ?? 0, config.INACTIVE_WARNING_DAYS ?? 7),
    });
    await admin.register(adminIdentityRoutes, { store: deps.store });
    await admin.register(adminApiKeyRoutes, { store: deps.store, users });
    await admin.register(adminAccountRoutes, accounts);
  });

  return app;
}

export type SupervisorApp = Awaited<ReturnType<typeof buildApp>>;

function requireToken(expected: () => string) {
  return async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization);
    if (!token || !secretsMatch(token, expected())) throw errors.unauthorized();
  };
}
