import type { FastifyBaseLogger } from 'fastify';
import type { Revocations } from '../revocation/revocations.js';

/** First wait before trying a failed revocation again (ms); doubles each time, up to the max. */
const RETRY_MIN_MS = 100;
/** Longest wait between two attempts (ms). */
const RETRY_MAX_MS = 5_000;
/**
 * Retries stop after this long: by then every replica has asked the supervisor again
 * (VERIFIED_KEY_TTL_MS), and the supervisor refuses a revoked key whatever Redis holds.
 */
const GIVE_UP_MS = 10 * 60_000;

/**
 * Records the API key revocations the supervisor's feed announces (an admin's, or a user's made
 * through another replica). Every replica hears it and records it in Redis (a repeat is
 * harmless), so it holds once any one write lands, and every replica's view follows through the
 * revocation channel. A failed write (Redis away) is retried with backoff, as for disabled users.
 */
export class RevokedKeys {
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly revocations: Revocations,
    private readonly log: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Revokes the key everywhere; returns at once, retrying in the background. */
  revoke(keyId: string): void {
    // Already recorded (the replica that revoked it published it before the feed spoke).
    if (this.revocations.isViewTrusted() && this.revocations.hasKeyRevocation(keyId)) return;
    void this.attempt(keyId, this.now(), RETRY_MIN_MS);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }

  private async attempt(keyId: string, since: number, delayMs: number): Promise<void> {
    clearTimeout(this.retries.get(keyId));
    this.retries.delete(keyId);
    try {
      await this.revocations.revokeKey(keyId);
    } catch (err) {
      if (this.closed || this.now() - since > GIVE_UP_MS) return;
      this.log.warn({ err, keyId, retryInMs: delayMs }, 'recording an api key revocation failed; retrying');
      const next = Math.min(delayMs * 2, RETRY_MAX_MS);
      this.retries.set(keyId, setTimeout(() => void this.attempt(keyId, since, next), delayMs).unref());
    }
  }
}
