import { randomBytes } from 'node:crypto';
import { stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostShell } from './host-shell.js';

/** Size and use of one tenant's filesystem, bytes, as its own statfs reports them. */
export interface DiskUsage {
  /** Space for data: the image's size less what ext4 keeps for itself (journal, inode tables, a reserve). */
  sizeBytes: number;
  usedBytes: number;
}

/** Host paths of a tenant's two volume folders, both on its own filesystem. */
export interface TenantDiskPaths {
  files: string;
  history: string;
}

/**
 * Per-tenant filesystems of fixed size: the disk quota. Each tenant gets a sparse image file
 * formatted ext4 and loop-mounted under the disk folder; its two Docker volumes are bind-backed
 * local volumes on folders of that filesystem, so whatever the tenant's code writes, it gets
 * ENOSPC at the image's size and the host's own filesystem (the central database's too) gives
 * no more than that. Mounts do not survive a host reboot: `ensure` mounts again before every
 * start. Only the runtime calls this.
 */
export interface TenantDisks {
  /** The folder holding the images and their mount points (TENANT_DISK_DIR), absolute. */
  readonly dir: string;
  /**
   * Makes sure the tenant's filesystem exists with at least `bytes`, is mounted and holds the
   * two volume folders, and returns their host paths. A bigger plan grows the filesystem in
   * place (ext4 grows online); a smaller one keeps the bigger filesystem (ext4 cannot shrink
   * while mounted, and the data might not fit).
   */
  ensure(name: string, bytes: number): Promise<TenantDiskPaths>;
  /**
   * Mounts the tenant's filesystem when its image exists and is not mounted (after a host
   * reboot), at its current size; false when the tenant has no image. For reading its volumes
   * while it sleeps (an export), without growing or creating anything.
   */
  mountExisting(name: string): Promise<boolean>;
  /** Copies everything in `source` (a host folder) into `target` (one of `ensure`'s folders). */
  adopt(source: string, target: string): Promise<void>;
  /** Unmounts and deletes the tenant's filesystem and everything on it. Missing is fine. */
  remove(name: string): Promise<void>;
  /** Size and use of the tenant's filesystem; undefined while it is not mounted (or not visible here). */
  usage(name: string): Promise<DiskUsage | undefined>;
  /**
   * Proves this host can enforce quotas: makes, mounts, checks and removes a small filesystem.
   * Throws with the reason when it cannot (no loop devices, no privilege, missing tools, a
   * folder the supervisor cannot see the mounts of).
   */
  probe(): Promise<void>;
}

export interface TenantDisksOptions {
  /** TENANT_DISK_DIR: must be the same absolute path for the engine, the shell and this process. */
  dir: string;
  /** Runs the scripts below as root on the host (see host-shell.ts). */
  shell: HostShell;
  /** Owner of the volume folders, `uid:gid` (the tenant user). */
  owner: string;
}

/**
 * Makes (aside, then renamed: a crash half-way leaves no image that looks ready), grows and
 * mounts one tenant's filesystem. No reserved blocks (-m 0): the whole size is the tenant's.
 * nodev and nosuid: a tenant cannot make device nodes or set-id programs count for anything.
 * The loop device is attached explicitly (--nooverlap reuses the image's own) and detached by
 * the remove script, not left to autoclear, whose timing varies.
 * Growing happens offline, before the mount: online growth needs CAP_SYS_RESOURCE, which not
 * every host grants (this project's test VMs do not), and a wake runs this while the container
 * is stopped anyway. e2fsck opens the device exclusively, which the kernel refuses while the
 * filesystem is mounted anywhere (a container still on it): then it keeps its size until a
 * later start, and nothing is truncated.
 * Arguments: image, mount point, size in bytes, owner of the volume folders.
 */
const ENSURE_SCRIPT = `set -eu
img=$1 mnt=$2 size=$3 owner=$4
mkdir -p "$mnt"
if [ ! -e "$img" ]; then
  rm -f "$img.new"
  truncate -s "$size" "$img.new"
  mkfs.ext4 -q -F -m 0 "$img.new"
  mv "$img.new" "$img"
fi
dev=$(losetup -f --show --nooverlap "$img")
if [ "$(stat -c %s "$img")" -lt "$size" ]; then
  if mountpoint -q "$mnt"; then umount "$mnt"; fi
  checked=0
  e2fsck -f -p "$dev" >/dev/null 2>&1 || checked=$?
  if [ "$checked" -le 1 ]; then
    truncate -s "$size" "$img"
    losetup -c "$dev"
    resize2fs "$dev" >/dev/null 2>&1
  else
    echo "filesystem in use (e2fsck $checked): not grown" >&2
  fi
fi
if ! mountpoint -q "$mnt"; then mount -o nodev,nosuid "$dev" "$mnt"; fi
for sub in files history; do
  if [ ! -d "$mnt/$sub" ]; then
    mkdir "$mnt/$sub"
    chown "$owner" "$mnt/$sub"
    chmod 0700 "$mnt/$sub"
  fi
done
`;

/** Arguments: image, mount point. */
const REMOVE_SCRIPT = `set -eu
img=$1 mnt=$2
if mountpoint -q "$mnt"; then umount "$mnt"; fi
for dev in $(losetup -n -O NAME -j "$img"); do losetup -d "$dev"; done
if [ -d "$mnt" ]; then rmdir "$mnt"; fi
rm -f "$img" "$img.new"
`;

/** Arguments: source folder, target folder. Stops at the first error (ENOSPC: the data does not fit). */
const ADOPT_SCRIPT = `set -eu
cp -a "$1/." "$2/"
`;

/** Small enough to cost nothing, big enough for ext4 with a journal. */
const PROBE_BYTES = 32 * 1024 ** 2;

/** Loop-mounted ext4 images under `dir`, managed through `shell`. */
export function createTenantDisks(options: TenantDisksOptions): TenantDisks {
  const { dir, shell, owner } = options;
  const mountPoint = (name: string) => join(dir, name);
  const image = (name: string) => join(dir, `${name}.img`);
  const paths = (name: string): TenantDiskPaths => ({
    files: join(mountPoint(name), 'files'),
    history: join(mountPoint(name), 'history'),
  });

  /** A mount point is mounted when it is on another device than its parent (mountpoint(1)'s test). */
  async function isMounted(path: string): Promise<boolean> {
    try {
      const [inner, outer] = await Promise.all([stat(path), stat(dir)]);
      return inner.dev !== outer.dev;
    } catch {
      return false;
    }
  }

  async function imageSize(name: string): Promise<number> {
    return (await stat(image(name)).catch(() => undefined))?.size ?? 0;
  }

  const disks: TenantDisks = {
    dir,
    async ensure(name, bytes) {
      // Every wake passes here: when the filesystem is mounted and big enough, no shell at all.
      if (!((await isMounted(mountPoint(name))) && (await imageSize(name)) >= bytes)) {
        await shell(ENSURE_SCRIPT, [image(name), mountPoint(name), String(bytes), owner]);
      }
      return paths(name);
    },
    async mountExisting(name) {
      const size = await imageSize(name);
      if (size === 0) return false;
      await disks.ensure(name, size);
      return true;
    },
    async adopt(source, target) {
      await shell(ADOPT_SCRIPT, [source, target]);
    },
    async remove(name) {
      await shell(REMOVE_SCRIPT, [image(name), mountPoint(name)]);
    },
    async usage(name) {
      const path = mountPoint(name);
      // Unmounted, statfs would describe the host's filesystem instead.
      if (!(await isMounted(path))) return undefined;
      const fs = await statfs(path);
      // ext4 holds back a little of the free space (for its own metadata): what the tenant can
      // still write is bavail, so used plus that is the size a tenant sees fill up.
      const usedBytes = (fs.blocks - fs.bfree) * fs.bsize;
      return { sizeBytes: usedBytes + fs.bavail * fs.bsize, usedBytes };
    },
    async probe() {
      const name = `.probe-${randomBytes(4).toString('hex')}`;
      try {
        await disks.ensure(name, PROBE_BYTES);
        const usage = await disks.usage(name);
        if (!usage) {
          throw new Error(
            `a filesystem mounted at ${mountPoint(name)} is not visible to the supervisor (in a container, bind ${dir} at the same path with rslave propagation)`,
          );
        }
        if (usage.sizeBytes > PROBE_BYTES)
          throw new Error(`a ${PROBE_BYTES}-byte filesystem reports ${usage.sizeBytes} bytes`);
      } finally {
        await disks.remove(name).catch(() => undefined);
      }
    },
  };
  return disks;
}
