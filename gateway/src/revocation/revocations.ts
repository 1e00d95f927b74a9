import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { errors } from '../errors.js';
import type { Session } from '../session/tokens.js';
import {
  apiKeyKey,
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

/**
 * Sets a user's revocation time (ARGV[1], with a TTL of ARGV[2] ms) unless a later one is
 * recorded: replicas revoking the same user at nearly the same moment, or a retried revocation,
 * must never move it back and un-revoke a session a later logout-all covered.
 */
const KEEP_LATEST = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tonumber(ARGV[1]) >= current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1`;

/** How long a lost subscription may be lost before the in-memory view stops being trusted. */
const VIEW_GRACE_MS = 1_000;
/** First wait before reloading again after a failed reload (ms); doubles each time, up to the max. */
const RETRY_MIN_MS = 100;
/** Longest wait between two reload attempts (ms): bounds how long a replica stays stale once Redis is fine. */
const RETRY_MAX_MS = 5_000;

/**
 * Session revocation. Redis is the shared truth (keys with TTLs, persisted); every replica keeps
 * an in-memory view fed by pub/sub, so checking a request costs no Redis round trip. When the
 * subscription has been down for more than a second the view is not trusted and each check asks
 * Redis directly; when Redis does not answer in time, the check fails closed (503).
 *
 * The view is loaded after subscribing and reloaded after every resubscription. A failed load is
 * retried with backoff ({@link RETRY_MIN_MS} doubling to {@link RETRY_MAX_MS}) for as long as the
 * subscription is up, so a replica never stays stale because one load timed out. Staleness is
 * logged once when it begins and once when it ends, never per request.
 *
 * Emits `revoked` with a {@link RevocationMessage} whenever a revocation arrives.
 */
export class Revocations extends EventEmitter {
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, number>();
  /** Revoked API key ids, with when their entry may be forgotten. */
  private readonly keys = new Map<string, number>();
  private readonly now: () => number;
  /** When the view stopped being current, or undefined while it is; 0 until the first load. */
  private staleSince: number | undefined = 0;
  /** True while the subscription is up; only then can a load make the view current. */
  private subscribed = false;
  /** Counts subscription losses: a load that overlapped one may have missed a message. */
  private losses = 0;
  /** The load under way, with any reload asked for while it ran. */
  private loading: Promise<void> | undefined;
  /** A reload was asked for while a load ran: that load may predate what the caller saw. */
  private reloadAgain = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = RETRY_MIN_MS;
  /** True once this stale spell has been logged, so it is logged once however long it lasts. */
  private staleLogged = false;
  private closed = false;
  private readonly onSubscriberMessage = (_channel: string, text: string) => this.onMessage(text);
  private readonly onSubscriberClose = () => {
    this.subscribed = false;
    this.losses++;
    clearTimeout(this.retryTimer);
    if (this.closed) return;
    this.staleSince ??= this.now();
    if (this.staleLogged) return;
    this.staleLogged = true;
    this.options.log.warn('revocation subscription lost');
  };
  // After a reconnect ioredis re-subscribes by itself; reload what we may have missed.
  private readonly onSubscriberReady = () => {
    this.subscribed = true;
    if (this.staleSince !== undefined) void this.reload();
  };

  constructor(private readonly options: RevocationOptions) {
    super();
    this.now = options.now ?? Date.now;
  }

  /**
   * Subscribes, then loads existing revocations. Resolves after the first load attempt: the view
   * is current unless that load failed, in which case it is retried in the background.
   */
  async start(): Promise<void> {
    const { subscriber } = this.options;
    subscriber.on('message', this.onSubscriberMessage);
    subscriber.on('close', this.onSubscriberClose);
    await subscriber.subscribe(REVOCATION_CHANNEL);
    this.subscribed = true;
    // Only reconnects from here on: the first connection is covered by the load below.
    subscriber.on('ready', this.onSubscriberReady);
    await this.reload();
  }

  /** Stops retrying and listening; the connections belong to the caller and stay open. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const { subscriber } = this.options;
    subscriber.off('message', this.onSubscriberMessage);
    subscriber.off('close', this.onSubscriberClose);
    subscriber.off('ready', this.onSubscriberReady);
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

  /**
   * Throws 401 GW_ERR_API_KEY_INVALID when the API key is revoked, 503 when that cannot be known.
   * Like a session check: from the view, no Redis round trip, while the view is trusted.
   */
  async checkKey(keyId: string): Promise<void> {
    const revoked = this.isViewTrusted()
      ? this.keys.has(keyId)
      : (await this.withTimeout(this.options.redis.exists(apiKeyKey(keyId)))) === 1;
    if (revoked) throw errors.apiKeyInvalid(undefined, { details: { reason: 'REVOKED' } });
  }

  /** True when the view holds the key's revocation (however much the view is trusted). */
  hasKeyRevocation(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** Revokes one API key everywhere (its row in the supervisor is the lasting record). */
  async revokeKey(keyId: string): Promise<void> {
    const message: RevocationMessage = { kind: 'key', keyId };
    await this.withTimeout(
      this.options.redis
        .multi()
        .set(apiKeyKey(keyId), '1', 'PX', this.options.retentionMs)
        .publish(REVOCATION_CHANNEL, JSON.stringify(message))
        .exec(),
    );
    this.apply(message);
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

  /** Revokes every session of a user that began at or before `before` (epoch ms; default now). */
  async revokeUser(userId: string, before = this.now()): Promise<void> {
    const message: RevocationMessage = { kind: 'user', user: userHash(userId), before };
    await this.withTimeout(
      this.options.redis
        .multi()
        .eval(KEEP_LATEST, 1, userKey(userId), String(message.before), String(this.options.retentionMs))
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
    else if (message.kind === 'key' && typeof message.keyId === 'string') this.keys.set(message.keyId, expires);
    else if (message.kind === 'user' && typeof message.user === 'string' && typeof message.before === 'number') {
      this.users.set(message.user, Math.max(this.users.get(message.user) ?? 0, message.before));
    } else return;
    this.emit('revoked', message);
    this.prune();
  }

  /** Loads now, or once more after the load under way; resolves when loading stops. */
  private reload(): Promise<void> {
    if (this.loading) {
      this.reloadAgain = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.reloadAgain = false;
        await this.loadOnce();
      } while (this.reloadAgain && !this.closed);
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /**
   * One attempt to make the view current. A load only counts when the subscription was up for
   * all of it (a message published in a gap would be missing); a failed one is retried later.
   */
  private async loadOnce(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const losses = this.losses;
    try {
      await this.resync();
    } catch (err) {
      if (!this.closed && this.subscribed) this.scheduleRetry(err);
      return;
    }
    // A loss meanwhile: the reconnect's 'ready' asks for another load.
    if (this.closed || !this.subscribed || this.losses !== losses) return;
    if (this.staleSince !== undefined) {
      this.options.log.info({ sessions: this.sessions.size, users: this.users.size }, 'revocation view current');
    }
    this.staleSince = undefined;
    this.staleLogged = false;
    this.retryDelayMs = RETRY_MIN_MS;
  }

  private scheduleRetry(err: unknown): void {
    const retryInMs = this.retryDelayMs;
    this.retryDelayMs = Math.min(retryInMs * 2, RETRY_MAX_MS);
    if (this.staleLogged) this.options.log.debug({ err, retryInMs }, 'revocation reload failed');
    else this.options.log.warn({ err, retryInMs }, 'revocation view stale');
    this.staleLogged = true;
    // close() cancels it; unref so a forgotten close cannot keep a process alive.
    this.retryTimer = setTimeout(() => void this.reload(), retryInMs).unref();
  }

  /** Reads every revocation from Redis into the view; throws when Redis does not answer in time. */
  private async resync(): Promise<void> {
    const { redis } = this.options;
    let cursor = '0';
    do {
      const [next, keys] = await this.withTimeout(redis.scan(cursor, 'MATCH', REVOCATION_KEY_PATTERN, 'COUNT', 1000));
      cursor = next;
      const values = keys.length > 0 ? await this.withTimeout(redis.mget(...keys)) : [];
      keys.forEach((key, index) => {
        const [, , kind, id] = key.split(':');
        if (!id) return;
        if (kind === 'sid') this.sessions.set(id, this.now() + this.options.retentionMs);
        if (kind === 'key') this.keys.set(id, this.now() + this.options.retentionMs);
        if (kind === 'user') this.users.set(id, Math.max(this.users.get(id) ?? 0, Number(values[index] ?? 0)));
      });
    } while (cursor !== '0');
  }

  private prune(): void {
    const now = this.now();
    for (const entries of [this.sessions, this.keys]) {
      if (entries.size < 100_000) continue;
      for (const [id, expires] of entries) if (expires <= now) entries.delete(id);
    }
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
