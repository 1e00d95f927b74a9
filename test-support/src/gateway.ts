import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type Teardown, waitForHttp } from './docker.js';
import { freePort } from './redis.js';

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
}

/**
 * Starts the gateway as its own process, the way `make dev` runs it, and waits for /health.
 * `env` is the gateway's configuration (SUPERVISOR_URL, SUPERVISOR_TOKEN, REDIS_URL, ...);
 * a fresh COOKIE_JWT_SECRET is generated unless given.
 */
export async function startGateway(t: Teardown, env: Record<string, string>): Promise<GatewayProcess> {
  const port = await freePort();
  const output: string[] = [];
  const child: ChildProcess = spawn(process.execPath, ['--conditions=tenancy-source', '--import=tsx', SERVER], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      COOKIE_JWT_SECRET: randomBytes(32).toString('base64url'),
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => output.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const gateway: GatewayProcess = {
    url: `http://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    output,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill(signal);
      });
    },
  };
  t.teardown(() => gateway.kill('SIGKILL'));
  const gaveUp = new AbortController();
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => {
      gaveUp.abort();
      reject(new Error(`gateway exited with ${code}:\n${output.join('\n')}`));
    }),
  );
  await Promise.race([waitForHttp(`${gateway.url}/health`, 30_000, 20, gaveUp.signal), exited]);
  return gateway;
}
