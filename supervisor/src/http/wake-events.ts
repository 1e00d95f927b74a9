import type { WakeProgress } from '@tenancy/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TenantController } from '../lifecycle/controller.js';

/** Keeps proxies from closing a quiet stream; a comment line is ignored by SSE clients. */
const HEARTBEAT_MS = 15_000;

/**
 * Streams a wake's progress as Server-Sent Events (`event: progress`), starting the wake if
 * needed, until it is ready or failed or the client goes away.
 */
export async function streamWakeProgress(
  request: FastifyRequest,
  reply: FastifyReply,
  controller: TenantController,
  userId: string,
): Promise<void> {
  // Errors before the stream starts (unknown user, capacity) still become normal JSON errors.
  const events: WakeProgress[] = [];
  let push: ((event: WakeProgress) => void) | undefined;
  const unsubscribe = await controller.followWake(userId, (event) => (push ? push(event) : events.push(event)));

  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const finish = () => {
    clearInterval(heartbeat);
    unsubscribe();
    if (!res.writableEnded) res.end();
  };
  push = (event) => {
    res.write(`event: progress\ndata: ${JSON.stringify(event)}\n\n`);
    if (event.phase === 'ready' || event.phase === 'failed') finish();
  };
  request.raw.once('close', finish);
  for (const event of events.splice(0)) push(event);
}
