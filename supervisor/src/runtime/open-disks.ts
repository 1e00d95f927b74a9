import Docker from 'dockerode';
import { errors } from '../errors.js';
import { TENANT_USER } from './container-spec.js';
import { dockerShell, localShell } from './host-shell.js';
import { LABELS } from './labels.js';
import { createTenantDisks, type TenantDisks } from './tenant-disks.js';

export interface OpenDisksOptions {
  /** TENANT_DISK_DIR. */
  dir: string;
  /** TENANT_DISK_HELPER_IMAGE: empty runs the scripts in this process's own shell. */
  helperImage: string;
  /** UNSAFE_TENANT_DISK_UNBOUNDED: without quotas rather than not at all, when the host cannot. */
  unsafeUnbounded: boolean;
  /** TENANCY_INSTANCE and TENANT_LABELS, for the helper containers. */
  instance: string;
  extraLabels: Readonly<Record<string, string>>;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** dockerode client for the helper; by default the engine at DOCKER_HOST or the default socket. */
  docker?: Docker;
}

/**
 * The disk quotas of this supervisor, proven at start with a real filesystem. Fails closed: when
 * the host cannot enforce them the supervisor does not start (SUP_ERR_DISK_QUOTA_UNAVAILABLE)
 * unless the operator opted out by name, and then it says so loudly and returns undefined (plain,
 * unbounded volumes).
 */
export async function openTenantDisks(options: OpenDisksOptions): Promise<TenantDisks | undefined> {
  const shell = options.helperImage
    ? dockerShell(options.docker ?? new Docker(), options.helperImage, {
        ...options.extraLabels,
        [LABELS.instance]: options.instance,
      })
    : localShell();
  const disks = createTenantDisks({ dir: options.dir, shell, owner: TENANT_USER });
  try {
    await disks.probe();
  } catch (err) {
    const reason = (err as Error).message;
    if (!options.unsafeUnbounded) {
      throw errors.diskQuotaUnavailable(
        `this host cannot enforce tenant disk quotas in ${options.dir}: ${reason}. Give the supervisor what docs/operations.md ("Disk quotas") lists, or set UNSAFE_TENANT_DISK_UNBOUNDED=true to run with every tenant able to fill the host's disk`,
        { cause: err },
      );
    }
    options.log.warn(
      { dir: options.dir, reason },
      'TENANT DISKS ARE UNBOUNDED: this host cannot enforce disk quotas and UNSAFE_TENANT_DISK_UNBOUNDED=true; any tenant can fill the disk of the host and of the central database',
    );
    return undefined;
  }
  options.log.info({ dir: options.dir, helper: options.helperImage || undefined }, 'tenant disk quotas enforced');
  return disks;
}
