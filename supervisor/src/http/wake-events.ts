import type { WakeProgress } from '@tenancy/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TenantController } from '../lifecycle/controller.js';
import { openEventStream } from './event-stream.js';

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

  const stream = openEventStream(request, reply, unsubscribe);
  push = (event) => {
    stream.send('progress', event);
    if (event.phase === 'ready' || event.phase === 'failed') stream.end();
  };
  for (const event of events.splice(0)) push(event);
}
