import { TENANT_HEADERS } from '@tenancy/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ActivityRecorder } from '../activity/activity-recorder.js';
import type { Authenticator } from '../session/authenticator.js';
import { encodeHeaderValue, isBlockedHeader, withoutPlatformCookies } from './forward-headers.js';
import type { RouteCache } from './route-cache.js';

/** Paths the platform keeps for itself in every routing mode: never a tenant's. */
export const RESERVED_PREFIX = '/_tenancy/';

/**
 * Where nginx asks, for every tenant request, whether it may carry the request to the tenant
 * itself (`auth_request`). Under the reserved prefix; nginx serves it as an internal location
 * only, so no client reaches it through the edge.
 */
export const EDGE_AUTH_PATH = `${RESERVED_PREFIX}edge-auth`;

/**
 * The answer's headers, which nginx reads with `auth_request_set` and sets on the request to the
 * tenant (see nginx/tenancy-tenant.conf).
 */
export const EDGE_HEADERS = {
  /** `address:port` of the tenant's endpoint. */
  upstream: 'x-tenancy-upstream',
  /** The client's Cookie header without the platform's and the edge's cookies; absent when none is left. */
  cookie: 'x-tenancy-cookie',
} as const;

/**
 * Client headers that nginx itself replaces or blanks on the fast path (nginx/tenancy-tenant.conf),
 * exactly as forward-headers.ts would remove them. Any other header that forward-headers.ts
 * removes sends the request the gateway's way, which removes it: the fast path forwards the same
 * headers as the gateway, or it is not taken.
 */
const REPLACED_BY_NGINX = new Set([
  'cookie',
  'x-request-id',
  'forwarded',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'client-ip',
  'cf-connecting-ip',
  'cf-access-jwt-assertion',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  // nginx names the original request's URI to the gateway with it, and blanks it for the tenant.
  'x-original-uri',
  TENANT_HEADERS.userId,
  TENANT_HEADERS.email,
  TENANT_HEADERS.plan,
  TENANT_HEADERS.secret,
]);

/** `http://address:port` of a tenant endpoint as nginx's proxy_pass takes it: an IP literal and a port, nothing else. */
const ENDPOINT = /^http:\/\/((?:\d{1,3}\.){3}\d{1,3}|\[[0-9a-fA-F:]+\]):(\d{1,5})\/?$/;

export interface EdgeAuthOptions {
  authenticator: Authenticator;
  routes: RouteCache;
  activity: ActivityRecorder;
  /** Platform credentials that may appear in an Authorization header (LOGIN_TOKEN). */
  platformCredentials: readonly string[];
  /** True when a path belongs to the gateway itself (its own routes), never to the tenant. */
  isGatewayPath: (path: string) => boolean;
}

/**
 * The edge's fast path. A request to a running tenant needs the gateway's decision (whose
 * session, is it revoked, where is the tenant) but not the gateway's bytes: answering 204 with
 * the route lets nginx carry the request and the response itself, which costs a fraction of a
 * Node proxy hop (docs/performance.md, "proxy"). Every check that decides access runs here,
 * per request, as it does on the gateway's own path: revocation still takes effect on the next
 * request.
 *
 * Anything that is not the plain case answers 401, which nginx turns into "send the whole
 * request through the gateway" (error_page 401 = @gateway): no valid session (the gateway
 * answers with its sign-in redirect or error), a session due for a fresh cookie, a tenant that
 * is not known to be running (the gateway wakes it and caches the route, so the next request
 * takes this path), a WebSocket upgrade or an event stream (the gateway ends those when their
 * session ends; nginx could not), and any header the gateway would have to strip beyond the
 * fixed set nginx replaces.
 */
export async function edgeAuthRoute(app: FastifyInstance, options: EdgeAuthOptions): Promise<void> {
  const { authenticator, routes, activity, platformCredentials, isGatewayPath } = options;
  const viaGateway = (reply: FastifyReply) => reply.code(401).header('cache-control', 'no-store').send();

  app.get(EDGE_AUTH_PATH, async (request: FastifyRequest, reply: FastifyReply) => {
    // nginx sends the gateway's own paths its way already; this holds should its config not.
    const uri = request.headers['x-original-uri'];
    if (typeof uri !== 'string' || isGatewayPath(uri.split('?', 1)[0] ?? '')) return viaGateway(reply);
    const token = authenticator.tokenOf(request.cookies);
    // The session token is a platform credential too, wherever it appears.
    if (!isPlain(request.headers, token ? [...platformCredentials, token] : platformCredentials)) {
      return viaGateway(reply);
    }
    let session: Awaited<ReturnType<Authenticator['verify']>>;
    try {
      session = await authenticator.verify(token);
    } catch {
      return viaGateway(reply);
    }
    if (authenticator.dueForRefresh(session)) return viaGateway(reply);
    const endpoint = routes.get(session.userId)?.endpoint;
    const address = endpoint && ENDPOINT.exec(endpoint.url);
    if (!endpoint || !address) return viaGateway(reply);

    activity.request(session.userId);
    reply
      .code(204)
      .header('cache-control', 'no-store')
      .header(EDGE_HEADERS.upstream, `${address[1]}:${address[2]}`)
      .header(TENANT_HEADERS.secret, endpoint.secret)
      .header(TENANT_HEADERS.userId, encodeHeaderValue(session.userId))
      .header(TENANT_HEADERS.plan, session.plan);
    if (session.email) reply.header(TENANT_HEADERS.email, encodeHeaderValue(session.email));
    const cookie = request.headers.cookie;
    const kept = cookie ? withoutPlatformCookies(Array.isArray(cookie) ? cookie.join('; ') : cookie) : '';
    if (kept) reply.header(EDGE_HEADERS.cookie, kept);
    return reply.send();
  });
}

/**
 * True when nginx may forward the request's headers as they are, after replacing its fixed set:
 * not an upgrade or an event stream, no header the gateway would strip otherwise, no platform
 * credential in Authorization.
 */
function isPlain(headers: FastifyRequest['headers'], platformCredentials: readonly string[]): boolean {
  if (headers.upgrade !== undefined) return false;
  if (/text\/event-stream/i.test(String(headers.accept ?? ''))) return false;
  for (const name of Object.keys(headers)) {
    if (isBlockedHeader(name) && !REPLACED_BY_NGINX.has(name)) return false;
  }
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const text = Array.isArray(authorization) ? authorization.join(',') : authorization;
    if (platformCredentials.some((credential) => credential && text.includes(credential))) return false;
  }
  return true;
}
