import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Teardown } from './docker.js';
import { freePort } from './redis.js';
import { type ServiceProcess, startServiceProcess } from './service-process.js';

const SERVER = join(import.meta.dirname, '../../gateway/src/server.ts');

/** A real gateway process (src/server.ts through tsx) on a free 127.0.0.1 port. */
export interface GatewayProcess {
  url: string;
  /** host:port, as nginx names an upstream. */
  address: string;
  /** Log lines the process printed (JSON). */
  output: string[];
  /** Sends a signal and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** The process's id (for its memory and CPU in /proc). */
  pid(): number | undefined;
}

/**
 * Starts the gateway as its own process, the way `make dev` runs it, and waits for /health.
 * `env` is the gateway's configuration (SUPERVISOR_URL, SUPERVISOR_TOKEN, REDIS_URL, ...);
 * a fresh COOKIE_JWT_SECRET is generated unless given.
 */
export async function startGateway(t: Teardown, env: Record<string, string>): Promise<GatewayProcess> {
  const port = await freePort();
  const output: string[] = [];
  const url = `http://127.0.0.1:${port}`;
  const serviceEnv = {
    PATH: process.env.PATH ?? '',
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(port),
    COOKIE_JWT_SECRET: randomBytes(32).toString('base64url'),
    LOG_LEVEL: 'info',
    ...env,
  };
  let service: ServiceProcess | undefined;
  const gateway: GatewayProcess = {
    url,
    address: `127.0.0.1:${port}`,
    output,
    kill: async (signal) => service?.kill(signal),
    pid: () => service?.child.pid,
  };
  t.teardown(() => gateway.kill('SIGKILL'));
  service = await startServiceProcess('gateway', SERVER, serviceEnv, `${url}/health`, output);
  return gateway;
}
