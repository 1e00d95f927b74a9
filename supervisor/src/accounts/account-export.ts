import { pipeline, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { isTenancyError } from '@tenancy/shared';
import tar from 'tar-stream';
import { errors } from '../errors.js';
import type { TenantObjectNames } from '../runtime/names.js';
import type { TenantRuntime } from '../runtime/types.js';
import type { Store } from '../store/index.js';

/** The folder every entry of an export sits in: unpacking one never scatters files. */
export const EXPORT_ROOT = 'tenancy-export';

export interface AccountExportDeps {
  store: Pick<Store, 'accounts' | 'audit'>;
  runtime: Pick<TenantRuntime, 'archiveVolumes'>;
  namesFor: (userId: string) => TenantObjectNames;
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
 * both volumes of their tenant (`tenancy-export/volumes/files/…`, `…/volumes/history/…`), as tar
 * or gzipped tar. Streamed end to end: the engine's archive of the volumes is re-packed entry by
 * entry under the root folder with backpressure all the way, so neither memory nor the host's
 * disk ever holds a copy. Works whatever the tenant's state (see volume-archive.ts); a running
 * tenant's files are read as they are at that moment (its SQLite history as on disk: the WAL
 * file comes along, and SQLite replays it when the copy is opened). No secret is in it: the
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
  const volumes = await runtime.archiveVolumes(deps.namesFor(userId), deps.image).catch((err: unknown) => {
    if (isTenancyError(err)) throw err;
    throw errors.exportFailed(undefined, { cause: err });
  });
  store.audit.append({ actor: options.actor, action: 'user.export', target: userId, result: 'ok', detail: { format } });

  const pack = tar.pack();
  const mtime = new Date(now());
  pack.entry(
    { name: `${EXPORT_ROOT}/account.json`, mode: 0o644, mtime },
    `${JSON.stringify({ exportedAt: mtime.toISOString(), ...record }, null, 2)}\n`,
  );
  const fail = (err: Error) => {
    store.audit.append({
      actor: options.actor,
      action: 'user.export',
      target: userId,
      result: 'error',
      detail: { format, reason: err.message },
    });
    pack.destroy(err);
  };
  if (volumes) {
    const extract = tar.extract();
    extract.on('entry', (header, entry, next) => {
      const renamed = { ...header, name: `${EXPORT_ROOT}/${header.name}` };
      // A hard link names another entry of the archive, which moved with the rest.
      if (header.type === 'link' && header.linkname) renamed.linkname = `${EXPORT_ROOT}/${header.linkname}`;
      const done = (err?: Error | null) => (err ? fail(err) : next());
      if (header.type === 'file' || header.type === 'contiguous-file') {
        entry.pipe(pack.entry(renamed, done));
      } else {
        entry.resume();
        pack.entry(renamed, done);
      }
    });
    extract.on('finish', () => pack.finalize());
    extract.on('error', fail);
    volumes.on('error', fail);
    volumes.pipe(extract);
    // The client went away (or the pack failed): stop reading, which removes the volume reader.
    pack.once('close', () => volumes.destroy());
  } else {
    pack.finalize();
  }
  // pipeline: a failed pack ends the gzip stream with the error, and a gzip stream the client
  // abandoned destroys the pack (and so the volume reader) too.
  const stream = options.gzip ? pipeline(pack, createGzip(), () => undefined) : pack;
  const date = mtime.toISOString().slice(0, 10);
  return {
    stream,
    filename: `tenancy-export-${date}.${format}`,
    contentType: options.gzip ? 'application/gzip' : 'application/x-tar',
  };
}
