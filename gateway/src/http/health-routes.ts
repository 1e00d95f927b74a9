import { toErrorBody } from '@tenancy/shared';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Counter, Gauge, Registry } from 'prom-client';
import { errors } from '../errors.js';
import type { Revocations } from '../revocation/revocations.js';
import type { SupervisorClient } from '../supervisor/client.js';

export interface HealthOptions {
  redis: Redis;
  supervisor: SupervisorClient;
  revocations: Revocations;
  openTunnels: () => number;
}

/**
 * `/health` (process), `/ready` (Redis and supervisor answer, the revocation view is current),
 * `/metrics` (Prometheus text).
 */
export async function healthRoutes(app: FastifyInstance, options: HealthOptions): Promise<void> {
  const registry = new Registry();
  const responses = new Counter({
    name: 'tenancy_gateway_responses_total',
    help: 'Responses by status class',
    labelNames: ['class'],
    registers: [registry],
  });
  new Gauge({
    name: 'tenancy_gateway_revocation_view_trusted',
    help: '1 while the in-memory revocation view is current',
    registers: [registry],
    collect() {
      this.set(options.revocations.isViewTrusted() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tenancy_gateway_websockets_open',
    help: 'Open WebSocket tunnels',
    registers: [registry],
    collect() {
      this.set(options.openTunnels());
    },
  });
  app.addHook('onResponse', async (_request, reply) => {
    responses.inc({ class: `${Math.floor(reply.statusCode / 100)}xx` });
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_request, reply) => {
    const checks = await Promise.allSettled([
      Promise.race([
        options.redis.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1_000).unref()),
      ]),
      options.supervisor.health(),
    ]);
    const [redis, supervisor] = checks.map((check) => check.status === 'fulfilled') as [boolean, boolean];
    // A stale view is a reason to take this replica out: each request would cost two Redis round trips.
    const revocationView = options.revocations.isViewTrusted();
    const status = { redis, supervisor, revocationView };
    // The first failing dependency names the code; the fields say which ones fail.
    const problem = !redis
      ? errors.revocationUnavailable
      : !supervisor
        ? errors.supervisorUnavailable
        : !revocationView
          ? errors.revocationViewStale
          : undefined;
    if (problem === undefined) return reply.code(200).send({ status: 'ready', ...status });
    return reply.code(503).send(toErrorBody(problem(undefined, { details: { status: 'not ready', ...status } }), ''));
  });
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
}
