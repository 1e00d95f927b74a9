import fastifyCookie from '@fastify/cookie';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { parseCidr, refuseConnectionsFrom, toErrorBody } from '@tenancy/shared';
import { RequestLog } from '@tenancy/shared/request-log';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { ActivityRecorder } from './activity/activity-recorder.js';
import { FailedLogins } from './auth/failed-logins.js';
import { createLoginIdentifier } from './auth/login-identity.js';
import { createSignIn } from './auth/sign-in.js';
import type { GatewayConfig } from './config.js';
import { errors } from './errors.js';
import { authRoutes } from './http/auth-routes.js';
import { refuseCrossSite } from './http/cross-site.js';
import { healthRoutes } from './http/health-routes.js';
import { loginPage, safeNext } from './http/login-page.js';
import { isNavigation } from './http/navigation.js';
import { oidcOptions, oidcRoutes } from './http/oidc-routes.js';
import { requestIdOf } from './http/request-id.js';
import { proxyRoutes } from './proxy/proxy-routes.js';
import { RouteCache } from './proxy/route-cache.js';
import { RouteInvalidation } from './proxy/route-invalidation.js';
import { attachWebSocketTunnel } from './proxy/websocket-tunnel.js';
import { DisabledUsers } from './revocation/disabled-users.js';
import { Revocations } from './revocation/revocations.js';
import { Authenticator } from './session/authenticator.js';
import { sessionCookie } from './session/cookie.js';
import { SessionStreams } from './session/session-streams.js';
import { createSessionTokens } from './session/tokens.js';
import { VerifiedTokenCache } from './session/verified-cache.js';
import { createSupervisorClient, type SupervisorClient } from './supervisor/client.js';
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
  const routes = new RouteCache(config.ROUTE_CACHE_TTL, now);
  const disabledUsers = new DisabledUsers(revocations, deps.logger, config.SESSION_MAX_AGE, now);
  const invalidation = new RouteInvalidation(supervisor, routes, deps.logger, {
    onRevoke: (userId) => disabledUsers.revoke(userId),
  });
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
    if (body.code === errors.sessionInvalid.code) authenticator.clearCookie(reply);
    // A browser page load without a valid session goes to the sign-in page, which comes back here.
    const signedOut = body.code === errors.unauthenticated.code || body.code === errors.sessionInvalid.code;
    if (signedOut && hasLoginPage && isNavigation(request)) {
      return reply.redirect(`/auth/login?next=${encodeURIComponent(safeNext(request.url))}`, 303);
    }
    return reply.code(body.statusCode).send(body);
  });

  await app.register(fastifyCookie);
  await revocations.start();
  const streams = new SessionStreams(revocations, deps.logger, now);
  const tunnels = attachWebSocketTunnel(app.server, {
    authenticator,
    supervisor,
    routes,
    activity,
    streams,
    log: deps.logger,
    loginToken: config.LOGIN_TOKEN,
  });
  await app.register(healthRoutes, { redis: deps.redis, supervisor, revocations, openTunnels: tunnels.count });
  const signIn = createSignIn({ supervisor, routes, tokens, authenticator });
  await app.register(authRoutes, {
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
  if (config.AUTH_MODE === 'oidc') await app.register(oidcRoutes, oidcOptions(config, signIn, now));
  await app.register(warmupRoutes, { authenticator, supervisor, routes, config, refuseCrossSite: crossSite });
  await app.register(proxyRoutes, { authenticator, supervisor, routes, activity, streams, config });

  activity.start(config.ACTIVITY_FLUSH_INTERVAL);
  invalidation.start();
  app.addHook('onClose', async () => {
    revocations.close();
    await invalidation.stop();
    disabledUsers.close();
    tunnels.close();
    streams.close();
    await activity.stop();
  });
  return app;
}

export type GatewayApp = Awaited<ReturnType<typeof buildApp>>;
