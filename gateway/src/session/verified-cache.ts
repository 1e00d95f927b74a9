import type { Session } from './tokens.js';

/**
 * Verified tokens, so a request with a known cookie costs a Map lookup instead of an HMAC
 * verification. Bounded: the oldest entry goes first. Entries expire with their token.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Session>();

  constructor(
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(token: string): Session | undefined {
    const session = this.entries.get(token);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.entries.delete(token);
      return undefined;
    }
    return session;
  }

  set(token: string, session: Session): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, session);
  }

  get size(): number {
    return this.entries.size;
  }
}
