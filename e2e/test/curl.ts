import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { JsonBody, Teardown } from '@tenancy/test-support';

const run = promisify(execFile);

/** One answer as curl saw it. */
export interface CurlResponse {
  status: number;
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: JsonBody;
}

/**
 * The real `curl` with a cookie jar file, exactly as the README's flow runs it: every call reads
 * and writes the same jar, so the session cookie (and its sliding refresh) travels as it would
 * for a user at a terminal. `wrapper` runs curl through another command, for example
 * `ip netns exec NAME` for an address that exists only inside a network namespace.
 */
export function curlWithJar(t: Teardown, base: string, sharedJar?: string, wrapper: string[] = []) {
  const curl = (args: string[]) =>
    wrapper.length > 0 ? run(wrapper[0] ?? '', [...wrapper.slice(1), 'curl', ...args]) : run('curl', args);
  let jar = sharedJar;
  if (!jar) {
    const dir = mkdtempSync(join(tmpdir(), 'tenancy-curl-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    jar = join(dir, 'cookies.txt');
  }
  const jarFile = jar;
  return {
    jar: jarFile,
    /** A GET that follows redirects (as a browser would), with the address it ended at. */
    async follow(path: string) {
      const { stdout } = await curl([
        ...['-sS', '-L', '-c', jarFile, '-b', jarFile, '--max-time', '60', '-o', '/dev/null'],
        ...['-w', '%{http_code} %{url_effective}', `${base}${path}`],
      ]);
      const [status, url] = stdout.split(' ');
      return { status: Number(status), url: url ?? '' };
    },
    async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      const args = ['-sS', '-c', jarFile, '-b', jarFile, '-X', method, '--max-time', '60', '-w', '\n%{http_code}'];
      for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
      if (body !== undefined) args.push('-H', 'content-type: application/json', '--data', JSON.stringify(body));
      const { stdout } = await curl([...args, `${base}${path}`]);
      const cut = stdout.lastIndexOf('\n');
      const text = stdout.slice(0, cut);
      let json: JsonBody;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: Number(stdout.slice(cut + 1)), body: text, json } satisfies CurlResponse;
    },
  };
}
