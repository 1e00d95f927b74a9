import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { errors } from '../errors.js';

/** An entry of a folder listing. */
export interface FileEntry {
  name: string;
  type: 'file' | 'folder';
  bytes: number;
  modifiedAt: number;
}

/**
 * The user's files, rooted at one folder. Every path is checked before use: no `..` or `.`
 * segments, no encoded separators or leftovers of double encoding, no NUL, no absolute paths,
 * and no symlink anywhere on the way (so nothing can point outside the root).
 */
export class FilesArea {
  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
    private readonly quotaBytes: number,
  ) {}

  /** Turns a request path (already percent-decoded once) into a safe absolute path. */
  resolve(relative: string): string {
    if (relative.includes('\0') || relative.includes('\\') || relative.includes('%')) throw errors.pathInvalid();
    if (relative.startsWith('/')) throw errors.pathInvalid('absolute paths are not allowed');
    const segments = relative.split('/').filter((segment) => segment !== '');
    if (segments.some((segment) => segment === '..' || segment === '.'))
      throw errors.pathInvalid('".." and "." are not allowed');
    if (segments.some((segment) => segment.length > 255)) throw errors.pathInvalid('a name is too long');
    const full = join(this.root, ...segments);
    if (full !== this.root && !full.startsWith(this.root + sep)) throw errors.pathInvalid();
    return full;
  }

  async list(relative: string): Promise<FileEntry[]> {
    const folder = this.resolve(relative);
    await this.assertNoSymlinks(folder);
    const info = await stat(folder).catch(() => undefined);
    if (!info?.isDirectory()) throw errors.notFound('no such folder');
    const entries = await readdir(folder, { withFileTypes: true });
    const listed: FileEntry[] = [];
    for (const entry of entries) {
      if (!entry.isFile() && !entry.isDirectory()) continue;
      const details = await lstat(join(folder, entry.name));
      listed.push({
        name: entry.name,
        type: entry.isDirectory() ? 'folder' : 'file',
        bytes: details.size,
        modifiedAt: details.mtimeMs,
      });
    }
    return listed.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Opens a file for reading without following a symlink. */
  async read(relative: string): Promise<{ handle: import('node:fs/promises').FileHandle; bytes: number }> {
    const path = this.resolve(relative);
    await this.assertNoSymlinks(dirname(path));
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ELOOP') throw errors.pathInvalid('symlinks are not allowed');
      throw errors.notFound('no such file');
    });
    const info = await handle.stat();
    if (info.isDirectory()) {
      await handle.close();
      throw errors.isDirectory();
    }
    return { handle, bytes: info.size };
  }

  /** Writes a whole file atomically (temp file, then rename), within the size limit and the quota. */
  async write(relative: string, body: Buffer): Promise<{ bytes: number }> {
    if (body.length > this.maxBytes) throw errors.fileTooLarge(this.maxBytes);
    const path = this.resolve(relative);
    if (path === this.root) throw errors.pathInvalid('a file needs a name');
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isSymbolicLink()) throw errors.pathInvalid('symlinks are not allowed');
    if (existing?.isDirectory()) throw errors.isDirectory();
    const used = await this.usage();
    const previous = existing?.isFile() ? existing.size : 0;
    if (used - previous + body.length > this.quotaBytes) throw errors.quotaExceeded();
    await mkdir(dirname(path), { recursive: true });
    await this.assertNoSymlinks(dirname(path));
    const temp = `${path}.upload-${process.pid}-${Date.now()}`;
    const handle = await open(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    return { bytes: body.length };
  }

  async remove(relative: string): Promise<void> {
    const path = this.resolve(relative);
    if (path === this.root) throw errors.pathInvalid('the root cannot be deleted');
    await this.assertNoSymlinks(dirname(path));
    const info = await lstat(path).catch(() => undefined);
    if (!info) throw errors.notFound('no such file');
    if (info.isSymbolicLink()) throw errors.pathInvalid('symlinks are not allowed');
    await rm(path, { recursive: info.isDirectory(), force: false });
  }

  /** Bytes taken by every file under the root. */
  async usage(): Promise<number> {
    let total = 0;
    const walk = async (folder: string) => {
      for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile()) total += (await lstat(path)).size;
      }
    };
    await walk(this.root);
    return total;
  }

  /** Refuses a path if any existing component between the root and it is a symlink. */
  private async assertNoSymlinks(path: string): Promise<void> {
    const realRoot = await realpath(this.root);
    const real = await realpath(path).catch(() => undefined);
    if (real !== undefined && real !== realRoot && !real.startsWith(realRoot + sep)) {
      throw errors.pathInvalid('symlinks out of the files area are not allowed');
    }
    let current = path;
    while (current.startsWith(this.root + sep)) {
      const info = await lstat(current).catch(() => undefined);
      if (info?.isSymbolicLink()) throw errors.pathInvalid('symlinks are not allowed');
      current = dirname(current);
    }
  }
}
