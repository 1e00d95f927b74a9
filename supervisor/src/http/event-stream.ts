import type { FastifyReply, FastifyRequest } from 'fastify';

/** Keeps proxies from closing a quiet stream; a comment line is ignored by SSE clients. */
const HEARTBEAT_MS = 15_000;

/** An open Server-Sent Events response. */
export interface EventStream {
  send(event: string, data: unknown): void;
  /** Ends the stream (idempotent); also runs when the client goes away. */
  end(): void;
}

/**
 * Takes the response over from Fastify and opens it as a Server-Sent Events stream with a
 * heartbeat. `onEnd` runs once, when the stream ends for whatever reason.
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply, onEnd: () => void): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    onEnd();
    if (!res.writableEnded) res.end();
  };
  request.raw.once('close', end);
  return {
    send(event, data) {
      if (!ended) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end,
  };
}
