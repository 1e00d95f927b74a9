import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/** Polled by the supervisor during every wake: logging it would bury the requests that matter. */
const PROBE_PATHS: ReadonlySet<string> = new Set(['/health']);

/**
 * Fastify's per-request log cut to one line at `info`: `request completed` carries the method,
 * the url, the status and the time, so the `incoming request` line goes to `debug`. nginx and
 * the gateway already log every request; this app's lines are for its own story.
 * (The gateway has the same class; the tenant image is a standalone package and shares no code.)
 */
export class RequestLog extends LogController {
  constructor() {
    super({ disableRequestLogging: (request) => PROBE_PATHS.has(request.url) });
  }

  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    } else {
      reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    }
  }
}
