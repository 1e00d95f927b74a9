import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Teardown, testImages, testRunId } from '@tenancy/test-support';
import Docker from 'dockerode';

const run = promisify(execFile);

/** A dockerd of the test's own: its data, state and socket in a temporary folder. */
export interface OwnEngine {
  /** DOCKER_HOST for processes that should use it. */
  dockerHost: string;
  docker: Docker;
  /** Stops dockerd (SIGTERM, as systemd does) and starts it again on the same data; resolves when it answers. */
  restart(): Promise<void>;
  /** Stops dockerd (SIGTERM) and leaves it stopped; teardown cleans up as usual. */
  stop(): Promise<void>;
}

export interface OwnEngineOptions {
  /**
   * A network namespace (a name under /var/run/netns) to run dockerd in. Its iptables rules and
   * forwarding are then the namespace's own, so dockerd may manage them (Swarm needs them for
   * docker_gwbridge and overlays); without one dockerd runs in the host's and must not.
   */
  netns?: string;
}

/**
 * Starts a second dockerd, so a test can restart an engine without touching the one every other
 * test uses: its own data root, exec root (and so its own containerd), socket and pid file; no
 * default bridge and, in the host's network namespace, no iptables or forwarding changes
 * (--bridge=none --iptables=false), as e2e/test/setup-engine.test.ts does. `args` adds flags
 * (for example --live-restore). The tenant image is copied in from the run's engine. At teardown
 * every object on it is removed, dockerd is stopped, what it left mounted is unmounted and the
 * folder removed. Needs root.
 */
export async function startOwnEngine(
  t: Teardown,
  args: string[] = [],
  options: OwnEngineOptions = {},
): Promise<OwnEngine> {
  // The run id in the name lets scripts/test.sh stop an engine whose test timed out before its teardown.
  const dir = await mkdtemp(join(tmpdir(), `tenancy-engine-${testRunId}-`));
  const socketPath = join(dir, 'docker.sock');
  const dockerHost = `unix://${socketPath}`;
  const docker = new Docker({ socketPath });
  const argv = [
    `--data-root=${join(dir, 'data')}`,
    `--exec-root=${join(dir, 'exec')}`,
    `--pidfile=${join(dir, 'dockerd.pid')}`,
    `--host=${dockerHost}`,
    '--bridge=none',
    ...(options.netns ? [] : ['--iptables=false', '--ip-masq=false', '--ip-forward=false']),
    ...args,
  ];
  // nsenter execs dockerd in place (no fork for a network namespace): the child is dockerd itself.
  const [command, commandArgs]: [string, string[]] = options.netns
    ? ['nsenter', [`--net=/var/run/netns/${options.netns}`, 'dockerd', ...argv]]
    : ['dockerd', argv];
  let child: ChildProcess | undefined;

  const start = async () => {
    const log = openSync(join(dir, 'dockerd.log'), 'a');
    child = spawn(command, commandArgs, { stdio: ['ignore', log, log] });
    const exited = new Promise<never>((_, reject) =>
      child?.once('exit', async (code) =>
        reject(new Error(`dockerd exited with ${code}: ${await readFile(join(dir, 'dockerd.log'), 'utf8')}`)),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([answers(docker, 60_000), exited]);
  };
  const stop = async () => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once('exit', () => resolve());
      current.kill('SIGTERM');
    });
  };

  t.teardown(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      for (const c of await docker.listContainers({ all: true }).catch(() => [])) {
        await docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined);
      }
      for (const n of await docker.listNetworks().catch(() => [])) {
        if (['none', 'host'].includes(n.Name)) continue;
        await docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => undefined);
      }
      const { Volumes } = await docker.listVolumes().catch(() => ({ Volumes: [] }));
      for (const v of Volumes ?? []) {
        await docker
          .getVolume(v.Name)
          .remove({ force: true })
          .catch(() => undefined);
      }
    }
    await stop();
    const mounts = (await readFile('/proc/self/mounts', 'utf8'))
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '')
      .filter((point) => point.startsWith(`${dir}/`))
      .reverse();
    for (const point of mounts) await run('umount', ['-l', point]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  await start();
  // The image the tenants run, from the run's engine: no registry needed.
  await run('sh', ['-c', `docker save "$IMAGE" | docker -H "$OWN" load`], {
    env: { ...process.env, IMAGE: testImages.tenant, OWN: dockerHost },
  });
  return {
    dockerHost,
    docker,
    async restart() {
      await stop();
      await start();
    },
    stop,
  };
}

/** Resolves once the engine answers a ping; rejects after `timeoutMs`. */
async function answers(docker: Docker, timeoutMs: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      await docker.ping();
      return;
    } catch (err) {
      if (Date.now() - started > timeoutMs) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
