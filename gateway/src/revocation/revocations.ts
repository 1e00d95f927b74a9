import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { errors } from '../errors.js';
import type { Session } from '../session/tokens.js';
import {
  REVOCATION_CHANNEL,
  REVOCATION_KEY_PATTERN,
  type RevocationMessage,
  sessionKey,
  userHash,
  userKey,
} from './keys.js';

export interface RevocationOptions {
  /** Connection for commands; created with enableOfflineQueue false so a dead Redis fails fast. */
  redis: Redis;
  /** A second connection, used only for the subscription. */
  subscriber: Redis;
  /** Revocations are kept this long (ms): the longest a session can live. */
  retentionMs: number;
  /** Longest wait for Redis on the slow path (ms). */
  timeoutMs: number;
  log: FastifyBaseLogger;
  now?: () => number;
}

/** How long a lost subscription may be lost before the in-memory view stops being trusted. */
const VIEW_GRACE_MS = 1_000;

/**
 * Session revocation. Redis is the shared truth (keys with TTLs, persisted); every replica keeps
 * an in-memory view fed by pub/sub, so checking a request costs no Redis round trip. When the
 * subscription has been down for more than a second the view is not trusted and each check asks
 * Redis directly; when Redis does not answer in time, the check fails closed (503).
 *
 * Emits `revoked` with a {@link RevocationMessage} whenever a revocation arrives.
 */
export class Revocations extends EventEmitter {
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, number>();
  private readonly now: () => number;
  /** When the view stopped being current, or undefined while it is. */
  private staleSince: number | undefined = 0;

  constructor(private readonly options: RevocationOptions) {
    super();
    this.now = options.now ?? Date.now;
  }

  /** Subscribes, then loads existing revocations; resolves when the view is current. */
  async start(): Promise<void> {
    const { subscriber, log } = this.options;
    subscriber.on('message', (_channel: string, text: string) => this.onMessage(text));
    subscriber.on('close', () => {
      if (this.staleSince === undefined) {
        this.staleSince = this.now();
        log.warn('revocation subscription lost');
      }
    });
    // After a reconnect ioredis re-subscribes by itself; reload what we may have missed.
    subscriber.on('ready', () => {
      if (this.staleSince !== undefined) void this.resync();
    });
    await subscriber.subscribe(REVOCATION_CHANNEL);
    await this.resync();
  }

  /** Throws 401 when the session is revoked, 503 when that cannot be known. */
  async check(session: Session): Promise<void> {
    if (this.isViewTrusted()) {
      if (this.revokedInView(session)) throw errors.sessionInvalid(undefined, { details: { reason: 'REVOKED' } });
      return;
    }
    const [sid, before] = await this.withTimeout(
      Promise.all([
        this.options.redis.exists(sessionKey(session.sid)),
        this.options.redis.get(userKey(session.userId)),
      ]),
    );
    if (sid === 1 || (before !== null && session.authTime <= Number(before))) {
      throw errors.sessionInvalid(undefined, { details: { reason: 'REVOKED' } });
    }
  }

  /** Revokes one session everywhere. */
  async revokeSession(sid: string): Promise<void> {
    const message: RevocationMessage = { kind: 'session', sid };
    await this.withTimeout(
      this.options.redis
        .multi()
        .set(sessionKey(sid), '1', 'PX', this.options.retentionMs)
        .publish(REVOCATION_CHANNEL, JSON.stringify(message))
        .exec(),
    );
    this.apply(message);
  }

  /** Revokes every session of a user that began at or before now. */
  async revokeUser(userId: string): Promise<void> {
    const message: RevocationMessage = { kind: 'user', user: userHash(userId), before: this.now() };
    await this.withTimeout(
      this.options.redis
        .multi()
        .set(userKey(userId), String(message.before), 'PX', this.options.retentionMs)
        .publish(REVOCATION_CHANNEL, JSON.stringify(message))
        .exec(),
    );
    this.apply(message);
  }

  /** True while the view is current, or was lost less than a second ago. */
  isViewTrusted(): boolean {
    return this.staleSince === undefined || this.now() - this.staleSince <= VIEW_GRACE_MS;
  }

  private revokedInView(session: Session): boolean {
    if (this.sessions.has(session.sid)) return true;
    const before = this.users.get(userHash(session.userId));
    return before !== undefined && session.authTime <= before;
  }

  private onMessage(text: string): void {
    let message: RevocationMessage;
    try {
      message = JSON.parse(text) as RevocationMessage;
    } catch {
      return;
    }
    this.apply(message);
  }

  private apply(message: RevocationMessage): void {
    const expires = this.now() + this.options.retentionMs;
    if (message.kind === 'session' && typeof message.sid === 'string') this.sessions.set(message.sid, expires);
    else if (message.kind === 'user' && typeof message.user === 'string' && typeof message.before === 'number') {
      this.users.set(message.user, Math.max(this.users.get(message.user) ?? 0, message.before));
    } else return;
    this.emit('revoked', message);
    this.prune();
  }

  /** Reloads every revocation from Redis; the view is current again when it succeeds. */
  private async resync(): Promise<void> {
    const { redis, log } = this.options;
    try {
      let cursor = '0';
      do {
        const [next, keys] = await this.withTimeout(redis.scan(cursor, 'MATCH', REVOCATION_KEY_PATTERN, 'COUNT', 1000));
        cursor = next;
        const values = keys.length > 0 ? await this.withTimeout(redis.mget(...keys)) : [];
        keys.forEach((key, index) => {
          const [, , kind, id] = key.split(':');
          if (!id) return;
          if (kind === 'sid') this.sessions.set(id, this.now() + this.options.retentionMs);
          if (kind === 'user') this.users.set(id, Math.max(this.users.get(id) ?? 0, Number(values[index] ?? 0)));
        });
      } while (cursor !== '0');
      this.staleSince = undefined;
      log.info({ sessions: this.sessions.size, users: this.users.size }, 'revocation view current');
    } catch (err) {
      log.warn({ err }, 'revocation resync failed');
    }
  }

  private prune(): void {
    if (this.sessions.size < 100_000) return;
    const now = this.now();
    for (const [sid, expires] of this.sessions) if (expires <= now) this.sessions.delete(sid);
  }

  private async withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(errors.revocationUnavailable()), this.options.timeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } catch (err) {
      throw err instanceof Error && 'code' in err && err.code === errors.revocationUnavailable.code
        ? err
        : errors.revocationUnavailable(undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}
