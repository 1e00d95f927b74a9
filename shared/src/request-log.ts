import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { PROBE_PATHS } from './logger.js';

/**
 * (A subpath of @tenancy/shared, `@tenancy/shared/request-log`, so that what imports the rest,
 * such as the admin CLI, does not load Fastify.)
 *
 * Fastify's per-request log cut to one line at `info`: `request completed` carries the method,
 * the url, the status and the time, so the `incoming request` line goes to `debug`. nginx
 * already writes the access log; every line here costs the proxy path (and the gateway's calls to
 * the supervisor) a serialisation and a write. Probe paths log nothing at all (they are polled every few seconds).
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
