import { PROBE_PATHS } from '@tenancy/shared';
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/**
 * Fastify's per-request log cut to one line at `info`: `request completed` carries the method,
 * the url, the status and the time, so the `incoming request` line goes to `debug`. nginx
 * already writes the access log; every line here costs the proxy path a serialisation and a
 * write. Probe paths log nothing at all (they are polled every few seconds).
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
