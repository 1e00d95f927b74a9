/**
 * The baseline of the proxy benchmark: @fastify/http-proxy alone, forwarding every request to one
 * upstream with the tenant secret added, no sessions, no logging. It uses the gateway's own
 * upstream pool settings (gateway/src/proxy/proxy-routes.ts), so the difference to the gateway
 * is the gateway's own work per request.
 *
 * Usage: node --import=tsx gateway/bench/bare-proxy.ts <port> <upstream url> <tenant secret>
 */
import fastifyHttpProxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const [port = '0', upstream = '', secret = ''] = process.argv.slice(2);
const app = Fastify({ logger: false });
await app.register(fastifyHttpProxy, {
  upstream,
  undici: { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 },
  replyOptions: {
    rewriteRequestHeaders: (_request, headers) => ({ ...headers, 'x-tenancy-tenant-secret': secret }),
  },
});
await app.listen({ host: '127.0.0.1', port: Number(port) });
