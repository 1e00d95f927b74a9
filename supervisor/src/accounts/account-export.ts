import { PassThrough, pipeline, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { isTenancyError } from '@tenancy/shared';
import tar, { type Pack } from 'tar-stream';
import { errors } from '../errors.js';
import type { TenantObjectNames } from '../runtime/names.js';
import type { ReadHold, TenantRuntime, VolumeKind } from '../runtime/types.js';
import type { Store } from '../store/index.js';

/** The folder every entry of an export sits in: unpacking one never scatters files. */
export const EXPORT_ROOT = 'tenancy-export';

/**
 * How much of a tenant's history volume an export takes into memory so that the tenant can be
 * thawed before the client has read it. The default app keeps its history to a few MiB
 * (HISTORY_MAX_MESSAGES); a larger one stays frozen until the client has read the rest.
 */
export const HISTORY_BUFFER_BYTES = 64 * 1024 * 1024;

export interface AccountExportDeps {
  store: Pick<Store, 'accounts' | 'audit'>;
  runtime: Pick<TenantRuntime, 'archiveVolume'>;
  namesFor: (userId: string) => TenantObjectNames;
  /** Holds the tenant still (frozen when running) until the returned release is called. */
  holdStill: (userId: string) => Promise<() => Promise<void>>;
  /** The tenant image: the engine has it, and the volume reader is made from it. */
  image: string;
  now?: () => number;
}

/** A download ready to be streamed to its client. */
export interface AccountExport {
  stream: Readable;
  filename: string;
  contentType: string;
}

/**
 * One archive of everything the platform holds about a user: `tenancy-export/account.json` (the
 * user and tenant records, the last usage summary, every audit entry about them) followed by
 * both volumes of their tenant (`tenancy-export/volumes/history/…`, then `…/volumes/files/…`),
 * as tar or gzipped tar. Works whatever the tenant's state (see volume-archive.ts).
 *
 * The history (the app's SQLite database and its WAL) is read while the tenant is held still
 * (`holdStill`: a running tenant is frozen, nothing wakes or stops it), so the copy is one
 * consistent moment that SQLite opens as it would after a power cut; it is taken into memory up
 * to {@link HISTORY_BUFFER_BYTES}, which makes the freeze last as long as reading it from the
 * engine, not as long as the client takes. The files are streamed afterwards, the tenant
 * running: each file as it is at that moment. Streamed end to end: the engine's archives are
 * re-packed entry by entry under the root folder with backpressure all the way, so neither
 * memory (past the history) nor the host's disk ever holds a copy. No secret is in it: the
 * tenant's secret and tokens live in its container's environment and are derived from the
 * namespace key, never stored in the volumes or the record. Audited (`user.export`, and again
 * with result `error` if the stream fails half-way).
 */
export async function exportAccount(
  deps: AccountExportDeps,
  userId: string,
  options: { gzip: boolean; actor: string },
): Promise<AccountExport> {
  const { store, runtime } = deps;
  const now = deps.now ?? Date.now;
  const record = store.accounts.record(userId);
  if (!record) throw errors.userNotFound(`no user ${JSON.stringify(userId)}`);
  const format = options.gzip ? 'tar.gz' : 'tar';
  const names = deps.namesFor(userId);
  const read = (kind: VolumeKind, hold?: ReadHold) =>
    runtime.archiveVolume(names, deps.image, kind, hold).catch((err: unknown) => {
      if (isTenancyError(err)) throw err;
      throw errors.exportFailed(undefined, { cause: err });
    });

  // The history read held still, buffered so that the hold ends with the engine's last byte.
  // pipeline: a buffer the pack abandons destroys the reader too (which ends the hold).
  const historyReader = await read('history', () => deps.holdStill(userId));
  const history = historyReader
    ? pipeline(historyReader, new PassThrough({ highWaterMark: HISTORY_BUFFER_BYTES }), () => undefined)
    : undefined;
  let files: Readable | undefined;
  try {
    files = await read('files');
  } catch (err) {
    history?.destroy();
    throw err;
  }
  store.audit.append({ actor: options.actor, action: 'user.export', target: userId, result: 'ok', detail: { format } });

  const pack = tar.pack();
  const mtime = new Date(now());
  pack.entry(
    { name: `${EXPORT_ROOT}/account.json`, mode: 0o644, mtime },
    `${JSON.stringify({ exportedAt: mtime.toISOString(), ...record }, null, 2)}\n`,
  );
  // The client went away (or the pack failed): stop reading, which removes the volume readers.
  pack.once('close', () => {
    history?.destroy();
    files?.destroy();
  });
  const sources = [history, files].filter((source) => source !== undefined);
  repackInOrder(pack, sources, `${EXPORT_ROOT}/volumes/`).then(
    () => pack.finalize(),
    (err: Error) => {
      store.audit.append({
        actor: options.actor,
        action: 'user.export',
        target: userId,
        result: 'error',
        detail: { format, reason: err.message },
      });
      pack.destroy(err);
    },
  );
  // pipeline: a failed pack ends the gzip stream with the error, and a gzip stream the client
  // abandoned destroys the pack (and so the volume readers) too.
  const stream = options.gzip ? pipeline(pack, createGzip(), () => undefined) : pack;
  const date = mtime.toISOString().slice(0, 10);
  return {
    stream,
    filename: `tenancy-export-${date}.${format}`,
    contentType: options.gzip ? 'application/gzip' : 'application/x-tar',
  };
}

/** Adds every entry of each tar stream, one stream after the other, to `pack` under `prefix`. */
async function repackInOrder(pack: Pack, sources: readonly Readable[], prefix: string): Promise<void> {
  for (const source of sources) {
    await new Promise<void>((resolve, reject) => {
      const extract = tar.extract();
      extract.on('entry', (header, entry, next) => {
        const renamed = { ...header, name: `${prefix}${header.name}` };
        // A hard link names another entry of the archive, which moved with the rest.
        if (header.type === 'link' && header.linkname) renamed.linkname = `${prefix}${header.linkname}`;
        const done = (err?: Error | null) => (err ? reject(err) : next());
        if (header.type === 'file' || header.type === 'contiguous-file') {
          entry.pipe(pack.entry(renamed, done));
        } else {
          entry.resume();
          pack.entry(renamed, done);
        }
      });
      extract.on('finish', resolve);
      extract.on('error', reject);
      source.on('error', reject);
      source.pipe(extract);
    });
  }
}
