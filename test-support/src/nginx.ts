import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Teardown, waitForHttp } from './docker.js';

/** A real nginx running one rendered Tenancy config, as a child process owned by a test. */
export interface NginxServer {
  dir: string;
  stop(): Promise<void>;
}

/**
 * Writes a minimal main config around `httpConfig(dir)` (the rendered template) in a private
 * prefix `dir`, checks it with `nginx -t`, starts nginx in the foreground and waits until
 * `healthUrl` answers. `includes` are copied next to the config.
 */
export async function startNginx(
  t: Teardown,
  httpConfig: (dir: string) => string,
  includes: string[],
  healthUrl: string,
): Promise<NginxServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tenancy-nginx-'));
  for (const sub of ['logs', 'tmp', 'conf']) mkdirSync(join(dir, sub));
  for (const file of includes) copyFileSync(file, join(dir, 'conf', file.split('/').pop() ?? 'x'));
  writeFileSync(join(dir, 'conf', 'tenancy.conf'), httpConfig(dir));
  // The same main config host mode uses (nginx/standalone.conf.template), rooted in `dir`.
  const main = readFileSync(join(import.meta.dirname, '../../nginx/standalone.conf.template'), 'utf8');
  writeFileSync(join(dir, 'conf', 'nginx.conf'), main.replace(/\$\{PREFIX\}/g, dir));
  const args = ['-p', dir, '-c', join(dir, 'conf', 'nginx.conf')];
  execFileSync('nginx', [...args, '-t', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Its output is forwarded, never inherited: a test killed at tap's timeout leaves nginx
  // running, and an inherited pipe would keep tap waiting for the test's output to end, forever.
  const child: ChildProcess = spawn('nginx', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(process.stdout);
  child.stderr?.pipe(process.stderr);
  const server: NginxServer = {
    dir,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        // Fast shutdown: a graceful one would wait for open tunnels and streams.
        child.kill('SIGTERM');
      });
    },
  };
  t.teardown(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForHttp(healthUrl, 10_000);
  return server;
}
