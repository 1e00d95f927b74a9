import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Teardown } from './docker.js';

/**
 * The run's shared Redis, started by scripts/test.sh (or given with TEST_REDIS_URL). Tests that
 * share it keep to their own key prefix; tests that stop or restart Redis use {@link startRedisServer}.
 */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through `make test` (scripts/test.sh)');
  return url;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A redis-server process owned by one test: its own port and data folder, stopped at teardown. */
export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /**
   * Stops the server and waits for it to exit: SIGTERM (the default) lets it sync its append-only
   * file first, SIGKILL is a crash.
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data folder. */
  start(): Promise<void>;
}

export async function startRedisServer(
  t: Teardown,
  options: {
    persistence?: boolean;
    password?: string;
    /** More redis-server arguments, after the test's own (a later argument wins). */
    args?: readonly string[];
  } = {},
): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'tenancy-redis-'));
  let child: ReturnType<typeof spawn> | undefined;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push('--appendonly', options.persistence ? 'yes' : 'no');
  if (options.password) args.push('--requirepass', options.password);
  args.push(...(options.args ?? []));

  const server: RedisServer = {
    url: `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}`,
    port,
    dir,
    async start() {
      // stderr forwarded, not inherited (see startNginx: an orphan must not hold tap's pipe).
      child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stderr?.pipe(process.stderr);
      await new Promise<void>((resolve, reject) => {
        let output = '';
        child?.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
        child?.stdout?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('Ready to accept connections')) resolve();
        });
      });
      child.stdout?.resume();
      child.removeAllListeners('exit');
    },
    async stop(signal = 'SIGTERM') {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill(signal);
      });
    },
  };
  await server.start();
  t.teardown(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return server;
}
