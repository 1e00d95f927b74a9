import { Readable } from 'node:stream';
import { extract } from 'tar-stream';

/** The names of every entry of a tar, read from a buffer or streamed from a fetch answer. */
export async function tarEntryNames(archive: Buffer | Response): Promise<string[]> {
  const names: string[] = [];
  const reader = extract();
  reader.on('entry', (header, stream, next) => {
    names.push(header.name);
    stream.on('end', next);
    stream.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    reader.on('finish', resolve);
    reader.on('error', reject);
  });
  if (Buffer.isBuffer(archive)) reader.end(archive);
  else Readable.fromWeb(archive.body as never).pipe(reader);
  await done;
  return names;
}
