import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fastifyCookie } from '@fastify/cookie';
import { isTenancyError } from '@tenancy/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { ActivityRecorder } from '../activity/activity-recorder.js';
import { errors } from '../errors.js';
import { requestIdOf } from '../http/request-id.js';
import type { SessionStreams } from '../session/session-streams.js';
import type { Session } from '../session/tokens.js';
import type { SupervisorClient } from '../supervisor/client.js';
import { forwardHeaders } from './forward-headers.js';
import type { RouteCache } from './route-cache.js';

/** The session an upgrade request carries, and the platform credential to keep from the tenant. */
export type UpgradeSession = (request: IncomingMessage) => Promise<{ session: Session; credential?: string }>;

export interface TunnelOptions {
  /** Verifies the upgrade's session on the origin it came to; throws the refusal (401, 403, 421). */
  sessionOf: UpgradeSession;
  /** WARMUP_TIMEOUT: how long an upgrade to a sleeping container is held while it wakes (ms). */
  warmupTimeoutMs: number;
  supervisor: SupervisorClient;
  routes: RouteCache;
  activity: ActivityRecorder;
  /** Ends each tunnel when its session ends: expiry, the absolute cap or revocation. */
  streams: SessionStreams;
  log: FastifyBaseLogger;
  /** LOGIN_TOKEN, kept out of the tenant's `Authorization` header as the HTTP proxy does. */
  loginToken?: string | undefined;
}

/** The cookies of a raw request (an upgrade never reaches Fastify's cookie parser). */
export const parseCookies = (header: string) => fastifyCookie.parse(header);

interface OpenTunnel {
  client: Duplex;
  upstream: Socket;
}

/**
 * WebSocket upgrades, tunnelled to the user's container. The session is checked before anything
 * reaches the tenant (so before its `101`); the tunnel is then a byte pipe, closed when either
 * side goes away, when the connection dies (TCP keep-alive), or when the session ends: at the
 * end of its token's window (a WebSocket cannot refresh its cookie), at SESSION_MAX_AGE, or at
 * once on revocation (see session-streams.ts). Hand-written rather than @fastify/http-proxy's
 * websocket option because each tunnel must be tied to its session.
 */
export function attachWebSocketTunnel(server: Server, options: TunnelOptions): { close(): void; count(): number } {
  const { sessionOf, supervisor, routes, activity, streams, log } = options;
  const open = new Set<OpenTunnel>();

  const refuse = (client: Duplex, status: number, code: string) => {
    const body = JSON.stringify({ statusCode: status, code });
    client.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  };

  const onUpgrade = async (request: IncomingMessage, client: Duplex, head: Buffer) => {
    client.on('error', () => undefined);
    let session: Session;
    let credential: string | undefined;
    try {
      ({ session, credential } = await sessionOf(request));
    } catch (err) {
      const status = isTenancyError(err) ? err.statusCode : 401;
      return refuse(client, status, isTenancyError(err) ? err.code : 'GW_ERR_SESSION_INVALID');
    }
    let route = routes.get(session.userId);
    if (!route) {
      try {
        // A WebSocket is often a page's first request after its container slept (a reconnect):
        // it wakes the container and is held until it is ready, like an API client, instead of
        // being refused while nothing starts. A running or paused tenant answers at once.
        route = await supervisor.wake(session.userId, { wait: true, timeoutMs: options.warmupTimeoutMs });
        routes.set(session.userId, route);
      } catch (err) {
        // Disabled, no capacity, a failed or slow wake: refused with the wake's own answer.
        if (isTenancyError(err)) return refuse(client, err.statusCode, err.code);
        throw err;
      }
    }
    const endpoint = route.state === 'running' ? route.endpoint : undefined;
    if (!endpoint) return refuse(client, 503, errors.warming.code);

    const target = new URL(endpoint.url);
    const upstream = connect({ host: target.hostname, port: Number(target.port) });
    const tunnel: OpenTunnel = { client, upstream };
    const closeStream = activity.streamOpened(session.userId);
    let release: (() => void) | undefined;
    const teardown = () => {
      if (!open.delete(tunnel)) return;
      release?.();
      closeStream();
      client.destroy();
      upstream.destroy();
    };
    open.add(tunnel);
    release = streams.bind(session, teardown);
    upstream.setKeepAlive(true, 30_000);
    if ('setKeepAlive' in client) (client as Socket).setKeepAlive(true, 30_000);
    upstream.on('error', () => {
      routes.drop(session.userId);
      teardown();
    });
    upstream.on('close', teardown);
    client.on('close', teardown);
    // Both sockets allow half-open connections (http.Server does), so a side that sends FIN is
    // not closed by itself: pass the end on, and tear the tunnel down once it has been written,
    // or a tunnel would stay open, and hold the server's close, until the tenant hangs up.
    client.on('end', () => upstream.end(teardown));
    upstream.on('end', () => client.end(teardown));

    upstream.once('connect', () => {
      const headers = forwardHeaders(
        request.headers,
        {
          userId: session.userId,
          email: session.email,
          plan: route.plan ?? session.plan,
          tenantSecret: endpoint.secret,
          requestId: requestIdOf(request.headers),
        },
        {
          platformCredentials: [credential ?? '', options.loginToken ?? ''].filter(Boolean),
        },
      );
      headers.host = target.host;
      headers.connection = 'Upgrade';
      headers.upgrade = String(request.headers.upgrade ?? 'websocket');
      const lines = [`${request.method} ${request.url} HTTP/1.1`];
      for (const [name, value] of Object.entries(headers)) {
        for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${item}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.on('data', () => activity.frame(session.userId));
      client.on('data', () => activity.frame(session.userId));
      upstream.pipe(client);
      client.pipe(upstream);
    });
  };

  server.on('upgrade', (request, socket, head) => {
    onUpgrade(request, socket, head).catch((err: unknown) => {
      log.error({ err }, 'websocket upgrade failed');
      socket.destroy();
    });
  });
  return {
    close() {
      for (const tunnel of open) {
        tunnel.client.destroy();
        tunnel.upstream.destroy();
      }
    },
    count: () => open.size,
  };
}
