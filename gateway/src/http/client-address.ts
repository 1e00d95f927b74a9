import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

/**
 * The client a request comes from: the address nginx names in X-Real-IP (it always replaces the
 * client's own, see nginx/tenancy-proxy.conf), else the socket's (no nginx in front: tests, curl
 * on the host). What failed-attempt limits count by.
 */
export function clientAddress(headers: IncomingHttpHeaders, socketAddress: string | undefined): string {
  const named = headers['x-real-ip'];
  return typeof named === 'string' && isIP(named) ? named : (socketAddress ?? '');
}
