/**
 * Failed sign-ins per client, so a wrong credential cannot be tried at any speed. nginx holds
 * credential-less logins to 10 a minute per client, but lets logins carrying Authorization
 * through at the general rate (a token-mode backend signs many users in from one address); this
 * holds the failures of those, and of every other mode, per replica.
 *
 * A fixed window per client, in memory: no Redis round trip on the login path, and the limit
 * needs no precision, only a ceiling. Written by hand because @fastify/rate-limit counts every
 * request, not only the ones that fail.
 */
export class FailedLogins {
  private readonly windows = new Map<string, { startedAt: number; failures: number }>();

  constructor(
    /** Failures a client may have within one window before its logins are refused. */
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the client may try again, or 0 when it may try now. */
  retryAfterSeconds(client: string): number {
    const window = this.current(client);
    if (!window || window.failures < this.limit) return 0;
    return Math.max(1, Math.ceil((window.startedAt + this.windowMs - this.now()) / 1000));
  }

  /** Counts one failed credential check of the client. */
  failed(client: string): void {
    const window = this.current(client);
    if (window) window.failures++;
    else this.windows.set(client, { startedAt: this.now(), failures: 1 });
    // Bounded memory under a spray of addresses: ended windows go once the map grows.
    if (this.windows.size > 10_000) this.prune();
  }

  private current(client: string): { startedAt: number; failures: number } | undefined {
    const window = this.windows.get(client);
    if (window && window.startedAt + this.windowMs <= this.now()) {
      this.windows.delete(client);
      return undefined;
    }
    return window;
  }

  private prune(): void {
    const now = this.now();
    for (const [client, window] of this.windows)
      if (window.startedAt + this.windowMs <= now) this.windows.delete(client);
  }
}
