import type { FastifyRequest } from 'fastify';

/** A browser loading a page (not a script's fetch): a GET that accepts HTML. */
export function isNavigation(request: FastifyRequest): boolean {
  return request.method === 'GET' && String(request.headers.accept ?? '').includes('text/html');
}
