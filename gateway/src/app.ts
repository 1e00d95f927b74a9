import fastifyCookie from '@fastify/cookie';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { parseCidr, refuseConnectionsFrom, toErrorBody } from '@tenancy/shared';
import { RequestLog } from '@tenancy/shared/request-log';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { ActivityRecorder } from './activity/activity-recorder.js';
import { ApiKeyAuth } from './api-keys/api-key-auth.js';
import { RevokedKeys } from './api-keys/revoked-keys.js';
import { FailedLogins } from './auth/failed-logins.js';
import { createLoginIdentifier } from './auth/login-identity.js';
import { createSignIn } from './auth/sign-in.js';
import type { GatewayConfig } from './config.js';
import { errors } from './errors.js';
import { accountRoutes } from './http/account-routes.js';
import { apiKeyRoutes } from './http/api-key-routes.js';
import { authRoutes } from './http/auth-routes.js';
import { clientAddress } from './http/client-address.js';
import { refuseCrossSite } from './http/cross-site.js';
import { healthRoutes } from './http/health-routes.js';
import { loginPage, safeNext } from './http/login-page.js';
import { isNavigation } from './http/navigation.js';
import { oidcOptions, oidcRoutes } from './http/oidc-routes.js';
import { requestIdOf } from './http/request-id.js';
import { ExchangeCodes } from './origins/exchange-codes.js';
import { platformEntryRoutes } from './origins/platform-entry-routes.js';
import { tenantHostRoutes } from './origins/tenant-host-routes.js';
import { createTenantOrigins } from './origins/tenant-origins.js';
import { TenantSessions } from './origins/tenant-session.js';
import { createAdminApi } from './pages/admin-api.js';
import { AdminSessions } from './pages/admin-sessions.js';
import { pagesRoutes } from './pages/pages-routes.js';
import { proxyRoutes } from './proxy/proxy-routes.js';
import { RouteCache } from './proxy/route-cache.js';
import { RouteInvalidation } from './proxy/route-invalidation.js';
import { attachWebSocketTunnel, parseCookies, type UpgradeSession } from './proxy/websocket-tunnel.js';
import { DisabledUsers } from './revocation/disabled-users.js';
import { Revocations } from './revocation/revocations.js';
import { Authenticator } from './session/authenticator.js';
import { sessionCookie, tenantCookie } from './session/cookie.js';
import { SessionStreams } from './session/session-streams.js';
import type { Session } from './session/tokens.js';
import { createSessionTokens } from './session/tokens.js';
import { VerifiedTokenCache } from './session/verified-cache.js';
import { createSupervisorClient, type SupervisorClient } from './supervisor/client.js';
import { PLATFORM_WAITING_PATHS, TENANT_WAITING_PATHS, waitingPage } from './warmup/waiting-page.js';
import { warmupRoutes } from './warmup/warmup-routes.js';

/** What the gateway is built from; server.ts makes the real ones, tests may pass their own. */
export interface GatewayDeps {
  /** Command connection (enableOfflineQueue: false). */
  redis: Redis;
  /** Subscription connection. */
  subscriber: Redis;
  logger: FastifyBaseLogger;
  supervisor?: SupervisorClient;
  now?: () => number;
}

/** Builds the gateway: sessions, revocation, login, warmup, and the proxy to each user's container. */
export async function buildApp(config: Readonly<GatewayConfig>, deps: GatewayDeps) {
  const now = deps.now ?? Date.now;
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    // One line per request at info (nginx writes the access log); see request-log.ts.
    logController: new RequestLog(),
    // nginx's request id when it is a plain token; our own otherwise.
    genReqId: (req) => requestIdOf(req.headers),
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const supervisor = deps.supervisor ?? createSupervisorClient(config.SUPERVISOR_URL, config.SUPERVISOR_TOKEN);
  const tokens = createSessionTokens({
    secret: config.COOKIE_JWT_SECRET,
    previousSecrets: config.COOKIE_JWT_PREVIOUS_SECRETS ?? [],
    issuer: config.PUBLIC_BASE_URL,
    ttlMs: config.SESSION_TTL,
    maxAgeMs: config.SESSION_MAX_AGE,
    now,
  });
  const revocations = new Revocations({
    redis: deps.redis,
    subscriber: deps.subscriber,
    retentionMs: config.SESSION_MAX_AGE,
    timeoutMs: config.REDIS_TIMEOUT,
    log: deps.logger,
    now,
  });
  const authenticator = new Authenticator(
    tokens,
    new VerifiedTokenCache(config.TOKEN_CACHE_SIZE, now),
    revocations,
    sessionCookie(config.PUBLIC_BASE_URL),
  );
  // Subdomain mode: each tenant on a host of its own, with a cookie of its own (docs/origins.md).
  const origins = createTenantOrigins(config);
  const tenantTokens = createSessionTokens({
    secret: config.COOKIE_JWT_SECRET,
    previousSecrets: config.COOKIE_JWT_PREVIOUS_SECRETS ?? [],
    issuer: config.PUBLIC_BASE_URL,
    ttlMs: config.SESSION_TTL,
    maxAgeMs: config.SESSION_MAX_AGE,
    kind: 'tenant',
    now,
  });
  const tenantSessions = origins
    ? new TenantSessions(
        origins,
        new Authenticator(
          tenantTokens,
          // Its own cache: a token is only ever looked up by the authenticator that verified it.
          new VerifiedTokenCache(config.TOKEN_CACHE_SIZE, now),
          revocations,
          tenantCookie(config.PUBLIC_BASE_URL),
        ),
      )
    : undefined;
  const codes = new ExchangeCodes(deps.redis, config.REDIS_TIMEOUT);
  const routes = new RouteCache(config.ROUTE_CACHE_TTL, now);
  const disabledUsers = new DisabledUsers(revocations, deps.logger, config.SESSION_MAX_AGE, now);
  const revokedKeys = new RevokedKeys(revocations, deps.logger, now);
  const invalidation = new RouteInvalidation(supervisor, routes, deps.logger, {
    onRevoke: (userId) => disabledUsers.revoke(userId),
    onRevokeKey: (keyId) => revokedKeys.revoke(keyId),
  });
  // Personal API keys (`Authorization: Bearer tny_…`) on the tenant routes; see api-keys/.
  const apiKeys = new ApiKeyAuth({
    supervisor,
    revocations,
    // 10 failed key attempts a minute per client, as for sign-ins; counted apart from them.
    failures: new FailedLogins(10, 60_000, now),
    capacity: config.TOKEN_CACHE_SIZE,
    log: deps.logger,
    now,
  });
  /**
   * The caller of a tenant route: an API key when the request presents one (it then decides
   * alone: a refused key is not retried as a cookie), else `cookie`. On a tenant host (subdomain
   * mode) the key must be the host owner's.
   */
  const withApiKeys =
    (cookie: (request: FastifyRequest, reply: FastifyReply) => Promise<Session>) =>
    async (request: FastifyRequest, reply: FastifyReply): Promise<Session> => {
      const key = apiKeys.keyOf(request.headers);
      if (key === undefined) return cookie(request, reply);
      const session = await apiKeys.verify(key, clientAddress(request.headers, request.ip));
      onOwnHost(request.headers.host, session);
      return session;
    };
  /** In subdomain mode, a key used on a tenant host must be that tenant's user's. */
  const onOwnHost = (host: string | undefined, session: Session): void => {
    const kind = origins?.classify(host);
    if (origins && kind?.kind === 'tenant' && kind.label !== origins.labelOf(session.userId))
      throw errors.tenantForbidden();
  };
  const activity = new ActivityRecorder((batch) => supervisor.reportActivity(batch), deps.logger, now);

  const crossSite = refuseCrossSite(config.PUBLIC_BASE_URL);
  const hasLoginPage = loginPage(config.AUTH_MODE) !== undefined;
  // In compose the replicas share every tenant network; a tenant must not reach them that way.
  refuseConnectionsFrom(app.server, parseCidr(config.TENANT_SUBNET_POOL), (address) =>
    deps.logger.debug({ address }, 'refused a connection from a tenant network'),
  );
  app.setErrorHandler((err, request, reply) => {
    const validation = (err as { validation?: unknown }).validation !== undefined;
    const body = validation
      ? toErrorBody(errors.badRequest((err as Error).message), errors.internal.code)
      : toErrorBody(err, errors.internal.code);
    // 503s are "not now, retry" answers with their own codes (warming, pending): expected under load.
    if (body.statusCode >= 500 && body.statusCode !== 503) request.log.error({ err }, 'request failed');
    if (typeof body.retryAfterSeconds === 'number') reply.header('retry-after', String(body.retryAfterSeconds));
    const host = origins?.classify(request.headers.host);
    const onTenantHost = host?.kind === 'tenant' && tenantSessions !== undefined;
    if (body.code === errors.sessionInvalid.code) {
      (onTenantHost ? tenantSessions.authenticator : authenticator).clearCookie(reply);
    }
    // A browser page load without a valid session goes to the sign-in page, which comes back here.
    const signedOut = body.code === errors.unauthenticated.code || body.code === errors.sessionInvalid.code;
    // On a tenant host, to the platform, which sends the browser back with a code (or signs it in first).
    if (signedOut && host?.kind === 'tenant' && isNavigation(request)) {
      const next = encodeURIComponent(safeNext(request.url));
      return reply.redirect(`${config.PUBLIC_BASE_URL}/auth/tenant?label=${host.label}&next=${next}`, 303);
    }
    if (signedOut && hasLoginPage && isNavigation(request)) {
      return reply.redirect(`/auth/login?next=${encodeURIComponent(safeNext(request.url))}`, 303);
    }
    return reply.code(body.statusCode).send(body);
  });

  await app.register(fastifyCookie);
  await revocations.start();
  const streams = new SessionStreams(revocations, deps.logger, now);
  const sessionOf: UpgradeSession = async (request) => {
    const key = apiKeys.keyOf(request.headers);
    if (key !== undefined) {
      if (origins?.classify(request.headers.host).kind === 'platform') throw errors.tenantOnOwnOrigin();
      const session = await apiKeys.verify(key, clientAddress(request.headers, request.socket.remoteAddress));
      onOwnHost(request.headers.host, session);
      return { session, credential: key };
    }
    const cookies = parseCookies(request.headers.cookie ?? '');
    if (!origins || !tenantSessions) {
      const credential = authenticator.tokenOf(cookies);
      return { session: await authenticator.verify(credential), ...(credential ? { credential } : {}) };
    }
    // Subdomain mode: tenants are reached on their own hosts only, with the host's own cookie.
    if (origins.classify(request.headers.host).kind === 'platform') throw errors.tenantOnOwnOrigin();
    const session = await tenantSessions.verify(request.headers, cookies);
    const credential = tenantSessions.authenticator.tokenOf(cookies);
    return { session, ...(credential ? { credential } : {}) };
  };
  const tunnels = attachWebSocketTunnel(app.server, {
    sessionOf,
    warmupTimeoutMs: config.WARMUP_TIMEOUT,
    supervisor,
    routes,
    activity,
    streams,
    log: deps.logger,
    loginToken: config.LOGIN_TOKEN,
  });
  const proxyDeps = { supervisor, routes, activity, streams, config };
  const signIn = createSignIn({ supervisor, routes, tokens, authenticator });
  // The platform's own routes. In subdomain mode they answer only on hosts outside TENANT_DOMAIN,
  // and the platform origin leads to the tenant's host instead of serving the tenant.
  await app.register(async (platform) => {
    if (origins) constrainHosts(platform, origins.platformHosts);
    await platform.register(healthRoutes, {
      redis: deps.redis,
      supervisor,
      revocations,
      openTunnels: tunnels.count,
    });
    await platform.register(authRoutes, {
      identify: createLoginIdentifier(config),
      signIn,
      authenticator,
      revocations,
      supervisor,
      mode: config.AUTH_MODE,
      ...(config.OIDC_PROVIDER_NAME ? { providerName: config.OIDC_PROVIDER_NAME } : {}),
      refuseCrossSite: crossSite,
      // 10 failed sign-ins a minute per client, as nginx allows credential-less logins.
      failedLogins: new FailedLogins(10, 60_000, now),
    });
    await platform.register(accountRoutes, { authenticator, revocations, supervisor, refuseCrossSite: crossSite });
    if (config.AUTH_MODE === 'oidc') await platform.register(oidcRoutes, oidcOptions(config, signIn, now));
    await platform.register(apiKeyRoutes, {
      authenticate: (request, reply) => authenticator.authenticate(request, reply),
      supervisor,
      revocations,
      refuseCrossSite: crossSite,
      now,
    });
    await platform.register(warmupRoutes, {
      authenticate: withApiKeys((request, reply) => authenticator.authenticate(request, reply)),
      supervisor,
      routes,
      config,
      refuseCrossSite: crossSite,
    });
    // The workspace page and the admin console, under /_tenancy/ (docs/pages.md).
    await platform.register(pagesRoutes, {
      authenticator,
      supervisor,
      adminSessions: new AdminSessions(deps.redis, config.REDIS_TIMEOUT, now),
      adminApi: createAdminApi(config.SUPERVISOR_URL),
      publicBaseUrl: config.PUBLIC_BASE_URL,
      tenantUrl: origins ? '/auth/tenant' : '/',
      refuseCrossSite: crossSite,
      failedAdminLogins: new FailedLogins(10, 60_000, now),
      now,
    });
    if (origins) await platform.register(platformEntryRoutes, { origins, authenticator, codes });
    else
      await platform.register(proxyRoutes, {
        ...proxyDeps,
        authenticate: withApiKeys((request, reply) => authenticator.authenticate(request, reply)),
        credentialOf: (request) => apiKeys.keyOf(request.headers) ?? authenticator.tokenOf(request.cookies),
        waitingPage: waitingPage(PLATFORM_WAITING_PATHS),
      });
  });
  // Tenant hosts (subdomain mode): every path is the tenant's but /_tenancy/.
  if (origins && tenantSessions) {
    await app.register(async (tenant) => {
      constrainHosts(tenant, origins.tenantHosts);
      await tenant.register(tenantHostRoutes, {
        sessions: tenantSessions,
        tokens: tenantTokens,
        codes,
        revocations,
        supervisor,
      });
      await tenant.register(proxyRoutes, {
        ...proxyDeps,
        authenticate: withApiKeys((request, reply) => tenantSessions.authenticate(request, reply)),
        credentialOf: (request) =>
          apiKeys.keyOf(request.headers) ?? tenantSessions.authenticator.tokenOf(request.cookies),
        waitingPage: waitingPage(TENANT_WAITING_PATHS),
      });
    });
    // A host under TENANT_DOMAIN that is no tenant's.
    app.setNotFoundHandler(async () => {
      throw errors.notFound();
    });
  }

  activity.start(config.ACTIVITY_FLUSH_INTERVAL);
  invalidation.start();
  app.addHook('onClose', async () => {
    revocations.close();
    await invalidation.stop();
    disabledUsers.close();
    revokedKeys.close();
    apiKeys.close();
    tunnels.close();
    streams.close();
    await activity.stop();
  });
  return app;
}

export type GatewayApp = Awaited<ReturnType<typeof buildApp>>;

/** Every route registered in `scope` (and its children) answers only on hosts `hosts` matches. */
function constrainHosts(scope: FastifyInstance, hosts: RegExp): void {
  scope.addHook('onRoute', (route) => {
    route.constraints = { ...route.constraints, host: hosts };
  });
}
