import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TenantController } from '../lifecycle/controller.js';
import { openEventStream } from './event-stream.js';

/**
 * The gateway replicas' feed of routes to forget, as Server-Sent Events: `event: hello` at once
 * (the replica then knows it is in sync), then `event: unroute` with `{"userId"}` whenever a
 * tenant stops being reachable where it was. Without it a replica would keep sending a user's
 * requests to a stopped container until its cached route expired. `open` holds every stream's
 * end, so the server can end them when it closes: they would otherwise hold it open.
 */
export async function streamRouteEvents(
  request: FastifyRequest,
  reply: FastifyReply,
  controller: TenantController,
  open: Set<() => void>,
): Promise<void> {
  let unsubscribe = () => {};
  const stream = openEventStream(request, reply, () => {
    unsubscribe();
    open.delete(stream.end);
  });
  open.add(stream.end);
  stream.send('hello', {});
  unsubscribe = controller.onUnroute((userId) => stream.send('unroute', { userId }));
}
