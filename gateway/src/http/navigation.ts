import type { FastifyRequest } from 'fastify';

/** A browser loading a page (not a script's fetch): a GET that accepts HTML. */
export function isNavigation(request: FastifyRequest): boolean {
  return request.method === 'GET' && String(request.headers.accept ?? '').includes('text/html');
}

/** The client asked not to be held while its container wakes (`Prefer: respond-async`, RFC 7240). */
export function prefersAsync(request: FastifyRequest): boolean {
  return /\brespond-async\b/i.test(String(request.headers.prefer ?? ''));
}
