import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { Redis } from 'ioredis';
import { errors } from '../errors.js';

/** An admin session ends after this long without a request (ms). */
export const ADMIN_SESSION_IDLE_MS = 15 * 60_000;
/** And after this long in any case (ms): the admin signs in again. */
export const ADMIN_SESSION_MAX_MS = 8 * 60 * 60_000;

/** What an admin session holds: the admin's own token, which every console request carries to the supervisor. */
export interface AdminSession {
  token: string;
  /** Who the supervisor says the token is (`bootstrap`, `admin:<name>`). */
  actor: string;
  createdAt: number;
}

interface Stored {
  /** AES-256-GCM of the token under the cookie's key: iv, tag, ciphertext (base64url). */
  iv: string;
  tag: string;
  data: string;
  actor: string;
  createdAt: number;
}

/**
 * The admin console's cookie: HttpOnly (page scripts never see it), SameSite=Strict (no other
 * site's page or link carries it), host-only with Path=/ (`__Host-` over https, so no subdomain
 * can set or read it), and a browser-session cookie: it carries no Max-Age, and the server ends
 * it on its own clock (see {@link AdminSessions}).
 */
export function adminCookie(publicBaseUrl: string): { name: string; options: CookieSerializeOptions } {
  const secure = publicBaseUrl.startsWith('https://');
  return {
    name: secure ? '__Host-tenancy_admin' : 'tenancy_admin',
    options: { httpOnly: true, sameSite: 'strict', path: '/', secure },
  };
}

const sessionKey = (key: Buffer) => `tenancy:admin:${createHash('sha256').update(key).digest('hex')}`;

/**
 * Admin sessions of the console. The admin's token is held server-side, never in the browser:
 * the cookie holds only a random 256-bit key; Redis holds the token encrypted under that key,
 * stored under the key's SHA-256. Neither half alone gives the token: a Redis dump has no key,
 * and a stolen cookie is a session (until it ends), not the token. Redis is shared by every
 * replica, so any of them serves the console. A session lives {@link ADMIN_SESSION_IDLE_MS}
 * after its last use, and {@link ADMIN_SESSION_MAX_MS} at most.
 */
export class AdminSessions {
  constructor(
    private readonly redis: Redis,
    /** Longest wait for Redis (ms), then 503 GW_ERR_ADMIN_SESSION_UNAVAILABLE. */
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores a session for a verified token; returns the cookie's value. */
  async create(token: string, actor: string): Promise<string> {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const data = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
    const stored: Stored = {
      iv: iv.toString('base64url'),
      tag: cipher.getAuthTag().toString('base64url'),
      data: data.toString('base64url'),
      actor,
      createdAt: this.now(),
    };
    await this.withTimeout(this.redis.set(sessionKey(key), JSON.stringify(stored), 'PX', ADMIN_SESSION_IDLE_MS));
    return key.toString('base64url');
  }

  /** The session a cookie value stands for, its idle time renewed; undefined when there is none. */
  async get(cookie: string | undefined): Promise<AdminSession | undefined> {
    const key = keyOf(cookie);
    if (!key) return undefined;
    const text = await this.withTimeout(this.redis.get(sessionKey(key)));
    if (text === null) return undefined;
    const stored = JSON.parse(text) as Stored;
    if (stored.createdAt + ADMIN_SESSION_MAX_MS <= this.now()) {
      await this.end(cookie);
      return undefined;
    }
    await this.withTimeout(this.redis.pexpire(sessionKey(key), ADMIN_SESSION_IDLE_MS));
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(stored.iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(stored.tag, 'base64url'));
    const token = Buffer.concat([decipher.update(Buffer.from(stored.data, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
    return { token, actor: stored.actor, createdAt: stored.createdAt };
  }

  /** Ends a session (sign-out, or a token the supervisor no longer accepts). */
  async end(cookie: string | undefined): Promise<void> {
    const key = keyOf(cookie);
    if (key) await this.withTimeout(this.redis.del(sessionKey(key)));
  }

  private async withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(errors.adminSessionUnavailable()), this.timeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } catch (err) {
      throw err instanceof Error && 'code' in err && err.code === errors.adminSessionUnavailable.code
        ? err
        : errors.adminSessionUnavailable(undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The 32-byte key a well-formed cookie value carries. */
function keyOf(cookie: string | undefined): Buffer | undefined {
  if (!cookie || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) return undefined;
  return Buffer.from(cookie, 'base64url');
}
