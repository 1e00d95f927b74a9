import { ConfigError, loggerOptions } from '@tenancy/shared';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { type GatewayConfig, loadGatewayConfig } from './config.js';

/** Starts the gateway process; stops cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: Readonly<GatewayConfig>;
  try {
    config = loadGatewayConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const log = pino(loggerOptions('gateway', config.LOG_LEVEL));
  if (config.AUTH_MODE === 'dev') {
    log.warn('AUTH_MODE=dev: POST /auth/login trusts whatever the client sends. Never use this in production.');
  }
  // Commands fail at once while Redis is away (fail closed); the subscriber reconnects forever.
  const redis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
  const subscriber = new Redis(config.REDIS_URL, { lazyConnect: true });
  redis.on('error', (err) => log.warn({ err }, 'redis error'));
  subscriber.on('error', (err) => log.warn({ err }, 'redis subscriber error'));
  await Promise.all([redis.connect(), subscriber.connect()]);

  const app = await buildApp(config, { redis, subscriber, logger: log });
  await app.listen({ host: config.GATEWAY_HOST, port: config.GATEWAY_PORT });

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'gateway stopping');
    await app.close();
    redis.disconnect();
    subscriber.disconnect();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('gateway failed to start:', err);
  process.exit(1);
});
