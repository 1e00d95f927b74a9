import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import type { Teardown } from '@tenancy/test-support';

/**
 * A TCP front door on 127.0.0.1 with a port known before the gateway starts: the gateway's
 * PUBLIC_BASE_URL (and so its redirect URI, registered at the provider) must name it up front,
 * while the gateway itself listens on port 0. Bytes pass through untouched.
 */
export async function frontDoor(t: Teardown) {
  let targetPort = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const upstream = createConnection(targetPort);
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Where the door leads: the gateway's real port. */
    open(port: number) {
      targetPort = port;
    },
  };
}

const createConnection = (port: number) => connect(port, '127.0.0.1');

/**
 * What curl with a cookie jar does, one request at a time: no redirect is followed by itself,
 * so the test walks the flow by hand and can stop, replay or alter any step. Cookies are kept
 * per name for 127.0.0.1 (both servers live there; browsers share cookies across ports too).
 */
export function cookieJar() {
  const cookies = new Map<string, string>();
  const jar = {
    cookies,
    /** One request; stores the cookies it sets (and forgets those it clears). */
    async fetch(url: string, init: RequestInit = {}): Promise<Response> {
      const headers = new Headers(init.headers);
      if (cookies.size > 0) headers.set('cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '));
      const res = await fetch(url, { ...init, headers, redirect: 'manual' });
      for (const line of res.headers.getSetCookie()) {
        const [pair = '', ...attributes] = line.split(';');
        const name = pair.slice(0, pair.indexOf('=')).trim();
        const value = pair.slice(pair.indexOf('=') + 1).trim();
        const cleared = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
        if (cleared || value === '') cookies.delete(name);
        else cookies.set(name, value);
      }
      return res;
    },
    /** The Location of a redirect, absolute. */
    location(res: Response, base: string): string {
      const location = res.headers.get('location');
      if (!location || res.status < 300 || res.status > 399) throw new Error(`expected a redirect, got ${res.status}`);
      return new URL(location, base).href;
    },
  };
  return jar;
}

/**
 * Starts a sign-in at the gateway and walks it through the provider as `account`, stopping
 * before the callback: returns the callback URL the provider sent the browser to.
 */
export async function throughProvider(
  jar: ReturnType<typeof cookieJar>,
  gatewayUrl: string,
  account: string,
  next = '/',
): Promise<string> {
  const start = await jar.fetch(`${gatewayUrl}/auth/oidc/start?next=${encodeURIComponent(next)}`);
  let url = jar.location(start, gatewayUrl);
  // authorize → the provider's login page → the login → back to authorize → the callback.
  for (let step = 0; step < 6; step++) {
    if (url.startsWith(`${gatewayUrl}/auth/oidc/callback`)) return url;
    const interaction = /\/interaction\/[\w-]+$/.test(new URL(url).pathname);
    const res = interaction
      ? await jar.fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ login: account }).toString(),
        })
      : await jar.fetch(url);
    url = jar.location(res, url);
  }
  throw new Error(`the provider did not send the browser back: last at ${url}`);
}
