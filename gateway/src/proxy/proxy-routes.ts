import replyFrom from '@fastify/reply-from';
import type { TenantRoute } from '@tenancy/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ActivityRecorder } from '../activity/activity-recorder.js';
import type { GatewayConfig } from '../config.js';
import { errors } from '../errors.js';
import { isNavigation, prefersAsync } from '../http/navigation.js';
import { PAGE_POLICY } from '../http/page-policy.js';
import type { SessionStreams } from '../session/session-streams.js';
import type { Session } from '../session/tokens.js';
import type { SupervisorClient } from '../supervisor/client.js';
import { forwardHeaders } from './forward-headers.js';
import type { RouteCache } from './route-cache.js';

export interface ProxyOptions {
  /** The caller's session on this origin (the session cookie, or a tenant host's own); throws 401/403. */
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<Session>;
  /** The platform credential a request carries on this origin, kept out of the tenant's `Authorization`. */
  credentialOf: (request: FastifyRequest) => string | undefined;
  /** The page a browser gets while the container wakes, for this origin. */
  waitingPage: string;
  supervisor: SupervisorClient;
  routes: RouteCache;
  activity: ActivityRecorder;
  /** Ends a response still streaming when its session ends (see session-streams.ts). */
  streams: SessionStreams;
  config: Pick<GatewayConfig, 'WARMUP_TIMEOUT' | 'LOGIN_TOKEN' | 'UPSTREAM_TIMEOUT'>;
}

/**
 * Everything that is not a gateway route goes to the signed-in user's own container. The target
 * is the supervisor's endpoint for the session's user: nothing in the request can change it.
 */
export async function proxyRoutes(app: FastifyInstance, options: ProxyOptions): Promise<void> {
  const { authenticate, credentialOf, waitingPage, supervisor, routes, activity, streams, config } = options;

  // Bodies stream through untouched: the tenant parses them, not the gateway.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  await app.register(replyFrom, {
    // Its two info lines per request ('fetching from remote server', 'response received') would
    // triple the gateway's log; the request's own line says how it ended, and a debug line below
    // says where it went.
    disableRequestLogging: true,
    // Streams may stay quiet for a while (SSE sends keep-alives), so only the wait for the
    // response headers is bounded tightly.
    undici: {
      connections: 64,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: config.UPSTREAM_TIMEOUT,
      bodyTimeout: 300_000,
    },
  });

  /** The tenant's route, waking it as the caller prefers. Returns undefined when a reply was sent. */
  async function resolve(
    request: FastifyRequest,
    reply: FastifyReply,
    session: Session,
  ): Promise<TenantRoute | undefined> {
    const cached = routes.get(session.userId);
    if (cached) return cached;
    // One call for every case: a running tenant's route, a paused one thawed (tens of
    // milliseconds), or a stopped one's wake begun, with its place in the start queue.
    let route = await supervisor.wake(session.userId, { wait: false, timeoutMs: 0 });
    if (route.state !== 'running' || !route.endpoint) {
      const navigation = isNavigation(request);
      if (navigation || prefersAsync(request)) {
        const retryAfterSeconds = route.retryAfterSeconds ?? 2;
        if (!navigation) throw errors.warming(undefined, { details: { retryAfterSeconds } });
        reply
          .code(503)
          .header('retry-after', String(retryAfterSeconds))
          .header('cache-control', 'no-store')
          .header('content-security-policy', PAGE_POLICY)
          .type('text/html; charset=utf-8');
        reply.send(waitingPage);
        return undefined;
      }
      route = await supervisor.wake(session.userId, { wait: true, timeoutMs: config.WARMUP_TIMEOUT });
    }
    routes.set(session.userId, route);
    return route;
  }

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const session = await authenticate(request, reply);
    const route = await resolve(request, reply, session);
    if (!route) return reply;
    const endpoint = route.endpoint;
    if (!endpoint) throw errors.upstreamUnavailable();
    activity.request(session.userId);
    const isStream = /text\/event-stream/.test(String(request.headers.accept ?? ''));
    const closed = isStream ? activity.streamOpened(session.userId) : undefined;
    if (closed) reply.raw.once('close', closed);
    // A response may stream for longer than its session lives (SSE, a long download): cut it
    // when the session ends. Cut, not ended: a truncated body must not look complete.
    reply.raw.once(
      'close',
      streams.bind(session, () => reply.raw.destroy()),
    );
    request.log.debug({ userId: session.userId, upstream: endpoint.url }, 'proxying to the tenant');

    return reply.from(request.url, {
      getUpstream: () => endpoint.url,
      rewriteRequestHeaders: (req) =>
        forwardHeaders(
          req.headers,
          {
            userId: session.userId,
            email: session.email,
            // The supervisor's plan, current as of this route; the session's is from its login.
            plan: route.plan ?? session.plan,
            tenantSecret: endpoint.secret,
            requestId: String(request.id),
          },
          {
            platformCredentials: [credentialOf(request) ?? '', config.LOGIN_TOKEN ?? ''].filter(Boolean),
          },
        ),
      onError: (errorReply, { error }) => {
        // The tenant may have gone to sleep: ask the supervisor again next time.
        routes.drop(session.userId);
        const status = (error as { statusCode?: number }).statusCode;
        const failure = status === 504 ? errors.upstreamTimeout() : errors.upstreamUnavailable();
        request.log.warn({ userId: session.userId, err: error }, 'tenant request failed');
        errorReply.code(failure.statusCode).send({
          statusCode: failure.statusCode,
          code: failure.code,
          error: status === 504 ? 'Gateway Timeout' : 'Bad Gateway',
          message: failure.message,
        });
      },
    });
  };

  app.all('/', handler);
  app.all('/*', handler);
}
