import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TenantController } from '../lifecycle/controller.js';

/** Keeps proxies from closing a quiet stream; a comment line is ignored by SSE clients. */
const HEARTBEAT_MS = 15_000;

/**
 * The gateway replicas' feed of routes to forget, as Server-Sent Events: `event: hello` at once
 * (the replica then knows it is in sync), then `event: unroute` with `{"userId"}` whenever a
 * tenant stops being reachable where it was. Without it a replica would keep sending a user's
 * requests to a stopped container until its cached route expired.
 */
export async function streamRouteEvents(
  request: FastifyRequest,
  reply: FastifyReply,
  controller: TenantController,
  open: Set<() => void>,
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
  });
  res.write('event: hello\ndata: {}\n\n');
  const unsubscribe = controller.onUnroute((userId) => {
    res.write(`event: unroute\ndata: ${JSON.stringify({ userId })}\n\n`);
  });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const end = () => {
    clearInterval(heartbeat);
    unsubscribe();
    open.delete(end);
    if (!res.writableEnded) res.end();
  };
  // `open` lets the server end every stream when it closes: they would otherwise hold it open.
  open.add(end);
  request.raw.once('close', end);
}
