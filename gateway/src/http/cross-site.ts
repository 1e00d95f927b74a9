import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { errors } from '../errors.js';

/**
 * True when a browser says the request was started by another site, or another origin of this
 * one (a sibling subdomain is "same-site" but not ours). `Sec-Fetch-Site` decides when present:
 * the browser's own account, right even when the origin users reach differs from
 * PUBLIC_BASE_URL; `same-origin` and `none` (typed, bookmarked) pass. Without it, `Origin` must
 * be `publicOrigin` (`null`, an opaque origin, does not pass). A request with neither header is
 * not from a browser page (curl, a backend) and passes: such a client is not tricked into
 * sending anything. One with `Authorization: Bearer` passes too: a page on another site cannot
 * make a browser add that header without a CORS preflight, which the gateway never allows.
 */
export function isCrossSite(headers: IncomingHttpHeaders, publicOrigin: string): boolean {
  if (/^bearer\s/i.test(String(headers.authorization ?? ''))) return false;
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
  const origin = headers.origin;
  if (typeof origin === 'string') return origin !== publicOrigin;
  return false;
}

/**
 * An onRequest hook for cookie-authenticated routes that change state (logout, wake, login):
 * refuses cross-site requests with 403 GW_ERR_CROSS_SITE_REFUSED before anything happens, so a
 * form on another site can neither sign a user out nor start their container.
 */
export function refuseCrossSite(publicBaseUrl: string) {
  const publicOrigin = new URL(publicBaseUrl).origin;
  return async (request: FastifyRequest): Promise<void> => {
    if (isCrossSite(request.headers, publicOrigin)) throw errors.crossSiteRefused();
  };
}
