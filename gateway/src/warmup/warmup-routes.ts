import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config.js';
import { errors } from '../errors.js';
import { prefersAsync } from '../http/navigation.js';
import type { RouteCache } from '../proxy/route-cache.js';
import type { Session } from '../session/tokens.js';
import type { SupervisorClient } from '../supervisor/client.js';
import { WAITING_SCRIPT } from './waiting-page.js';

export interface WarmupRoutesOptions {
  /** The caller: the session cookie, or a personal API key (`Authorization: Bearer tny_…`). Throws 401. */
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<Session>;
  supervisor: SupervisorClient;
  routes: RouteCache;
  config: Pick<GatewayConfig, 'WARMUP_TIMEOUT'>;
  /** onRequest hook of POST /warmup: refuses cross-site requests (see cross-site.ts). */
  refuseCrossSite: (request: FastifyRequest) => Promise<void>;
}

export const warmupRoutes: FastifyPluginAsyncTypebox<WarmupRoutesOptions> = async (app, options) => {
  const { authenticate, supervisor, routes, config, refuseCrossSite } = options;

  // The seed's shape: {"user_id"} must be the session's own user.
  app.post(
    '/warmup',
    {
      onRequest: refuseCrossSite,
      // `curl -X POST` sends no body; Ajv would call the absent optional body a wrong type.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        body: Type.Optional(Type.Object({ user_id: Type.Optional(Type.String()) }, { additionalProperties: false })),
      },
    },
    async (request, reply) => {
      const session = await authenticate(request, reply);
      if (request.body?.user_id !== undefined && request.body.user_id !== session.userId) throw errors.userMismatch();
      const started = performance.now();
      if (prefersAsync(request)) {
        const pending = await supervisor.wake(session.userId, { wait: false, timeoutMs: 0 });
        if (pending.state !== 'running') {
          throw errors.warming(
            pending.position ? `your container is number ${pending.position} in line to start` : undefined,
            { details: { retryAfterSeconds: pending.retryAfterSeconds ?? 2, position: pending.position ?? null } },
          );
        }
      }
      const route = await supervisor.wake(session.userId, { wait: true, timeoutMs: config.WARMUP_TIMEOUT });
      routes.set(session.userId, route);
      return {
        user_id: session.userId,
        state: route.state,
        phase: route.phase ?? (route.state === 'running' ? 'ready' : null),
        ready: route.state === 'running',
        waited_ms: Math.round(performance.now() - started),
        idle_deadline: route.idleDeadline ? new Date(route.idleDeadline).toISOString() : null,
      };
    },
  );

  app.get('/warmup/events', async (request, reply) =>
    relayWakeEvents(supervisor, request, reply, await authenticate(request, reply)),
  );
  app.get('/warmup/waiting.js', sendWaitingScript);
};

/** Live progress of the session's wake as Server-Sent Events, relayed from the supervisor. */
export async function relayWakeEvents(
  supervisor: SupervisorClient,
  request: FastifyRequest,
  reply: FastifyReply,
  session: Session,
): Promise<FastifyReply> {
  const abort = new AbortController();
  request.raw.once('close', () => abort.abort());
  const upstream = await supervisor.wakeEvents(session.userId, abort.signal);
  reply.header('content-type', 'text/event-stream; charset=utf-8');
  reply.header('cache-control', 'no-cache, no-transform');
  reply.header('x-accel-buffering', 'no');
  return reply.send(Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream));
}

/** The waiting page's script (the same on every origin: the page names its feed). */
export async function sendWaitingScript(_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(WAITING_SCRIPT);
}
