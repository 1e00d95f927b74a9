import { execFile } from 'node:child_process';
import type Docker from 'dockerode';
import { demuxLogs } from './docker-runtime.js';
import { LABELS } from './labels.js';

/**
 * Runs a POSIX shell script with arguments as root in the host's mount namespace and resolves
 * with its output, or rejects with its error output. Disk quotas need it: making loop devices
 * and mounting filesystems the engine can see.
 */
export type HostShell = (script: string, args: readonly string[]) => Promise<string>;

/** How long one script may take: making and mounting a filesystem takes well under a second; copying old data longer. */
const SHELL_TIMEOUT_MS = 10 * 60_000;

/** The script runs here, as this process (host mode: the supervisor runs on the host, as root). */
export function localShell(): HostShell {
  return (script, args) =>
    new Promise((resolve, reject) => {
      execFile('sh', ['-c', script, 'tenancy-disk', ...args], { timeout: SHELL_TIMEOUT_MS }, (err, stdout, stderr) => {
        if (err) reject(new Error(`disk script failed: ${stderr.trim() || `exit ${err.code ?? err.signal}`}`));
        else resolve(stdout);
      });
    });
}

/**
 * The script runs in a short-lived privileged helper container that enters the host's mount
 * namespace (nsenter -t 1 -m) and so uses the host's own mount, mkfs.ext4 and losetup: for a
 * supervisor that runs in a container without privileges of its own. Holding the Docker socket
 * already is root on the host; this spends that power on one narrow job. The image needs only
 * `nsenter` (util-linux, in every Debian-based image such as the supervisor's own).
 */
export function dockerShell(docker: Docker, image: string, labels: Readonly<Record<string, string>>): HostShell {
  return async (script, args) => {
    const container = await docker.createContainer({
      Image: image,
      User: '0:0',
      Entrypoint: ['nsenter', '--target', '1', '--mount', '--', 'sh', '-c', script, 'tenancy-disk', ...args],
      Cmd: [],
      Labels: { ...labels, [LABELS.role]: 'disk-helper' },
      HostConfig: { Privileged: true, PidMode: 'host', NetworkMode: 'none', ReadonlyRootfs: true },
    });
    try {
      await container.start();
      const timer = setTimeout(() => void container.kill().catch(() => undefined), SHELL_TIMEOUT_MS);
      const result = (await container.wait().finally(() => clearTimeout(timer))) as { StatusCode: number };
      const output = demuxLogs((await container.logs({ stdout: true, stderr: true })) as unknown as Buffer);
      if (result.StatusCode !== 0)
        throw new Error(`disk script failed: ${output.trim() || `exit ${result.StatusCode}`}`);
      return output;
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  };
}
