import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TenantController } from '../lifecycle/controller.js';
import { openEventStream } from './event-stream.js';
import type { UserChanges } from './user-changes.js';

/**
 * The gateway replicas' feed of routes to forget, as Server-Sent Events: `event: hello` at once
 * (the replica then knows it is in sync), then `event: unroute` with `{"userId"}` whenever a
 * tenant stops being reachable where it was or the user's plan changed, and `event: revoke` with
 * `{"userId"}` when the user is disabled (every replica then revokes all their sessions), and
 * `event: revoke-key` with `{"userId","keyId"}` when an API key is revoked. Without
 * it a replica would keep sending a user's requests to a stopped container, with an old plan,
 * until its cached route expired. `open` holds every stream's end, so the server can end them
 * when it closes: they would otherwise hold it open.
 */
export async function streamRouteEvents(
  request: FastifyRequest,
  reply: FastifyReply,
  controller: TenantController,
  users: UserChanges,
  open: Set<() => void>,
): Promise<void> {
  const unsubscribe: (() => void)[] = [];
  const stream = openEventStream(request, reply, () => {
    for (const off of unsubscribe) off();
    open.delete(stream.end);
  });
  open.add(stream.end);
  stream.send('hello', {});
  unsubscribe.push(
    controller.onUnroute((userId) => stream.send('unroute', { userId })),
    users.on(({ kind, ...data }) => stream.send(kind, data)),
  );
}
