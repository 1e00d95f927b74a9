import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { callLimit, engineCall } from './engine-calls.js';
import { LABELS, MANAGED_BY, SCHEMA_VERSION } from './labels.js';
import type { TenantObjectNames } from './names.js';
import type { TenantDisks } from './tenant-disks.js';
import type { ReadHold, VolumeKind } from './types.js';

/** Where the helper mounts the volume (as `files` or `history` in it). */
export const ARCHIVE_ROOT = '/volumes';

/** The role label of export helpers, so a helper left behind by a crash is found and removed. */
export const EXPORT_ROLE = 'export';

export interface VolumeArchiveOptions {
  docker: Docker;
  instance: string;
  extraLabels: Readonly<Record<string, string>>;
  disks: TenantDisks | undefined;
  /** DOCKER_TIMEOUT and DOCKER_START_TIMEOUT, milliseconds. */
  callMs: number;
  startMs: number;
}

/**
 * A tar stream of one of a tenant's volumes (entries `files/…` or `history/…`), read without
 * starting or touching the tenant's own container, whatever its state (running, paused, stopped,
 * or removed with its network while its volumes stay), or undefined when that volume does not
 * exist yet. One volume per call: an export reads the history while the tenant is held still and
 * the files afterwards (see account-export.ts).
 *
 * How: a helper container is created, never started, with the existing volume mounted
 * read-only and no network, and the engine's archive API (`GET /containers/{id}/archive`) reads
 * it through it. Why not the tenant's container itself: the engine holds a container's lock
 * for as long as an archive of it streams, so every inspect, start or stop of the tenant would
 * wait for the download to end (measured on Docker 20.10: a `docker inspect` took 11.6 s behind a
 * slowly read archive). Why not a helper that runs `tar`: the tenant image need not have one,
 * and nothing runs at all this way. The helper is removed when the stream ends, fails or is
 * abandoned; one left by a crash is removed by {@link removeExportHelpers}.
 */
export async function archiveVolume(
  options: VolumeArchiveOptions,
  names: TenantObjectNames,
  image: string,
  kind: VolumeKind,
  hold?: ReadHold,
): Promise<Readable | undefined> {
  const { docker, callMs, startMs } = options;
  const quick = <T>(operation: string, call: (abortSignal: AbortSignal) => Promise<T>) =>
    engineCall(operation, callLimit(callMs, undefined), undefined, call);
  // With disk quotas the volumes are binds of folders on the tenant's own filesystem: after a
  // host reboot it is not mounted until the next wake, and the engine could not mount them.
  if (options.disks) await options.disks.mountExisting(names.disk);
  const volume = kind === 'files' ? names.filesVolume : names.historyVolume;
  // A missing volume is not made here: creating the helper would make a plain one, which the
  // next wake would then have to adopt onto the tenant's disk.
  const exists = await quick('volume inspect', () => docker.getVolume(volume).inspect()).then(
    () => true,
    (err: { statusCode?: number }) => {
      if (err.statusCode === 404) return false;
      throw err;
    },
  );
  if (!exists) return undefined;
  const target = `${ARCHIVE_ROOT}/${kind}`;
  const mounts: Docker.MountSettings[] = [{ Type: 'volume', Source: volume, Target: target, ReadOnly: true }];

  const helper = await quick('container create', (abortSignal) =>
    docker.createContainer({
      name: `${names.container}-export-${randomBytes(4).toString('hex')}`,
      Image: image,
      // Never started: the entrypoint only has to exist for the engine to accept the container.
      Entrypoint: ['/dev/null'],
      Labels: {
        ...options.extraLabels,
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.instance]: options.instance,
        [LABELS.schema]: SCHEMA_VERSION,
        [LABELS.role]: EXPORT_ROLE,
      },
      NetworkDisabled: true,
      HostConfig: { NetworkMode: 'none', Mounts: mounts, RestartPolicy: { Name: 'no' } },
      abortSignal,
    }),
  );
  const removeHelper = () =>
    engineCall('container remove', startMs, undefined, (abortSignal) =>
      helper.remove({ force: true, v: false, abortSignal }),
    ).catch(() => undefined);
  let stream: Readable;
  // Held only from here, the reader ready: the hold lasts the read alone, not the helper's making.
  let unhold: (() => Promise<void>) | undefined;
  try {
    unhold = await hold?.();
    // Opening is bounded; the transfer is not (a large export to a slow client takes long).
    stream = (await quick('container archive', (abortSignal) =>
      helper.getArchive({ path: target, abortSignal } as never),
    )) as unknown as Readable;
  } catch (err) {
    await unhold?.();
    await removeHelper();
    throw err;
  }
  // Released at the last byte from the engine (or a failed or abandoned read), not at the end
  // of the download: the caller buffers what must be read held.
  let held = unhold !== undefined;
  const releaseHold = () => {
    if (!held) return;
    held = false;
    void unhold?.();
  };
  // The download ends only once the helper is gone: a client that has the whole archive finds
  // no trace of the export on the engine. Abandoned (the client went away), it goes at once.
  const out = new PassThrough();
  let removing: Promise<unknown> | undefined;
  const release = () => {
    removing ??= removeHelper();
    return removing;
  };
  stream.on('error', (err) => {
    releaseHold();
    void release();
    out.destroy(err);
  });
  stream.on('end', () => {
    releaseHold();
    void release().then(() => out.end());
  });
  out.on('close', () => {
    stream.destroy();
    releaseHold();
    void release();
  });
  stream.pipe(out, { end: false });
  return out;
}

/** Removes export helpers of this instance (left behind when the supervisor died during an export). */
export async function removeExportHelpers(options: VolumeArchiveOptions): Promise<number> {
  const { docker, callMs, startMs } = options;
  const filters = { label: [`${LABELS.instance}=${options.instance}`, `${LABELS.role}=${EXPORT_ROLE}`] };
  const helpers = await engineCall('container list', callMs, undefined, (abortSignal) =>
    docker.listContainers({ all: true, filters, abortSignal }),
  );
  for (const { Id } of helpers) {
    await engineCall('container remove', startMs, undefined, (abortSignal) =>
      docker.getContainer(Id).remove({ force: true, v: false, abortSignal }),
    ).catch(() => undefined);
  }
  return helpers.length;
}
