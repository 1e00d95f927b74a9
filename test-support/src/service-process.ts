import { type ChildProcess, spawn } from 'node:child_process';
import { waitForHttp } from './docker.js';

/**
 * A service started from its TypeScript sources through tsx, as `make dev` runs it; or, with
 * TENANCY_SERVICES=compiled in the caller's environment, from its compiled dist/server.js as the
 * images run it (`npm run build` first). Benchmarks of memory use the compiled form: tsx adds its
 * own compiler to the process.
 */
export interface ServiceProcess {
  child: ChildProcess;
  /** Sends a signal and waits for the process to exit (no-op when it already has). */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `server` (a service's src/server.ts) with `env`, collecting its log lines into `output`,
 * and waits until `healthUrl` answers; rejects with the output if the process exits first.
 */
export async function startServiceProcess(
  name: string,
  server: string,
  env: Record<string, string>,
  healthUrl: string,
  output: string[],
): Promise<ServiceProcess> {
  const compiled = process.env.TENANCY_SERVICES === 'compiled';
  const args = compiled
    ? [server.replace(/\/src\/server\.ts$/, '/dist/server.js')]
    : ['--conditions=tenancy-source', '--import=tsx', server];
  const child = spawn(process.execPath, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => output.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const service: ServiceProcess = {
    child,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill(signal);
      });
    },
  };
  // Stop polling once the process has exited: a failed start must not hold its test for 30 s.
  const gaveUp = new AbortController();
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => {
      gaveUp.abort();
      reject(new Error(`${name} exited with ${code}:\n${output.join('\n')}`));
    }),
  );
  try {
    await Promise.race([waitForHttp(healthUrl, 30_000, 20, gaveUp.signal), exited]);
  } catch (err) {
    // Never healthy: the caller gets no handle, so nothing may be left running.
    await service.kill('SIGKILL');
    throw err;
  }
  return service;
}
