import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The request id for logs and the tenant: nginx's when it is a plain token, our own otherwise,
 * so a client cannot put arbitrary text into logs or the tenant's headers.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const id = headers['x-request-id'];
  return typeof id === 'string' && /^[A-Za-z0-9-]{8,64}$/.test(id) ? id : randomUUID();
}
