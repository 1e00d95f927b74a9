import type { FastifyBaseLogger } from 'fastify';
import type { Revocations } from './revocations.js';

/** First wait before trying a failed revocation again (ms); doubles each time, up to the max. */
const RETRY_MIN_MS = 100;
/** Longest wait between two attempts (ms). */
const RETRY_MAX_MS = 5_000;

/**
 * Ends every session of a user the supervisor disabled, as its feed announces it. Every replica
 * hears the announcement and records the same revocation in Redis (a repeat is harmless: the
 * latest time wins), so it holds once any one write lands, and every replica's view, open
 * WebSockets and streams follow through the revocation channel.
 *
 * A write that fails (Redis away) is tried again with backoff, with the time the announcement
 * arrived, so a session begun after a later enable is not caught by a late retry. Meanwhile the
 * user is still refused: the supervisor answers their route lookups and wakes with 403. Retries
 * stop once the revocation would be moot (`retentionMs`, the longest a session lives, has passed).
 */
export class DisabledUsers {
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly revocations: Revocations,
    private readonly log: FastifyBaseLogger,
    private readonly retentionMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Revokes every session of `userId` begun until now; returns at once, retrying in the background. */
  revoke(userId: string): void {
    void this.attempt(userId, this.now(), RETRY_MIN_MS);
  }

  /** Stops retrying. */
  close(): void {
    this.closed = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }

  private async attempt(userId: string, before: number, delayMs: number): Promise<void> {
    clearTimeout(this.retries.get(userId));
    this.retries.delete(userId);
    try {
      await this.revocations.revokeUser(userId, before);
      this.log.info({ userId }, 'sessions revoked: user disabled');
    } catch (err) {
      if (this.closed || this.now() - before > this.retentionMs) return;
      this.log.warn({ err, userId, retryInMs: delayMs }, 'revoking a disabled user failed; retrying');
      const next = Math.min(delayMs * 2, RETRY_MAX_MS);
      // unref: close() cancels it, and a forgotten close must not keep a process alive.
      this.retries.set(userId, setTimeout(() => void this.attempt(userId, before, next), delayMs).unref());
    }
  }
}
