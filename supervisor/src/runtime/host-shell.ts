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
 * The script runs in a short-lived helper container that enters the engine's mount namespace and
 * so uses the host's own mount, mkfs.ext4 and losetup: for a supervisor that runs in a container
 * without privileges of its own. Holding the Docker socket already is root on the host; this
 * spends that power on one narrow job. The image needs `sh` and `nsenter` (util-linux: every
 * Debian-based image, such as the supervisor's own).
 *
 * The namespace entered is that of the helper's parent, the engine's container shim: where the
 * engine resolves volume paths, so the filesystems are mounted exactly where it will look for
 * them. (Not pid 1's: a process may be barred from it, as on hosts whose init holds capabilities
 * the engine lacks.) The helper is not `Privileged`: engines that lack a capability (some
 * virtual machines drop CAP_SYS_RESOURCE) refuse privileged containers. It gets what entering
 * the namespace (SYS_ADMIN, SYS_CHROOT, SYS_PTRACE), owning files (CHOWN, DAC_OVERRIDE, FOWNER)
 * and loop devices (the device rules) take.
 */
export function dockerShell(docker: Docker, image: string, labels: Readonly<Record<string, string>>): HostShell {
  return async (script, args) => {
    const container = await docker.createContainer({
      Image: image,
      User: '0:0',
      Entrypoint: ['sh', '-c', ENTER_ENGINE_NAMESPACE, script, 'tenancy-disk', ...args],
      Cmd: [],
      Labels: { ...labels, [LABELS.role]: 'disk-helper' },
      HostConfig: {
        CapDrop: ['ALL'],
        CapAdd: ['SYS_ADMIN', 'SYS_CHROOT', 'SYS_PTRACE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER'],
        // loop-control (10:237) and the loop devices (block major 7).
        DeviceCgroupRules: ['c 10:237 rwm', 'b 7:* rwm'],
        // AppArmor's docker-default profile forbids mount, whatever the capabilities.
        SecurityOpt: ['apparmor=unconfined', 'no-new-privileges'],
        PidMode: 'host',
        NetworkMode: 'none',
        ReadonlyRootfs: true,
      },
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

/**
 * The helper's entrypoint: `sh -c` this, the script, then the script's $0 and arguments. Its
 * parent ($PPID, seen through the host's process namespace) is the engine's container shim.
 */
const ENTER_ENGINE_NAMESPACE = 'exec nsenter --target "$PPID" --mount -- sh -c "$0" "$@"';
