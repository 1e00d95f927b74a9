import type { FastifyBaseLogger } from 'fastify';
import type { RevocationMessage } from '../revocation/keys.js';
import { userHash } from '../revocation/keys.js';
import type { Revocations } from '../revocation/revocations.js';
import type { Session } from './tokens.js';

/** Why a connection tied to a session was ended. */
export type SessionEndReason = 'expired' | 'revoked' | 'closing';

interface Bound {
  session: Session;
  user: string;
  end: (reason: SessionEndReason) => void;
  timer: NodeJS.Timeout | undefined;
}

/** setTimeout takes at most 2^31-1 ms (24.8 days); a longer wait is made of several. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Connections that outlive the request that opened them (WebSocket tunnels, streamed responses)
 * checked the session once, at the start. This ends each of them when its session ends, however
 * it ends: a timer per connection set to the session's end (`expiresAt`, the sliding window
 * already capped by SESSION_MAX_AGE: a stream cannot refresh its cookie), and the revocation
 * feed for logouts. A timer, not a poll: nothing runs until a session ends.
 */
export class SessionStreams {
  private readonly open = new Set<Bound>();
  private readonly onRevoked = (message: RevocationMessage) => {
    for (const bound of this.open) {
      if (
        (message.kind === 'session' && bound.session.sid === message.sid) ||
        (message.kind === 'key' && bound.session.keyId === message.keyId) ||
        (message.kind === 'user' && bound.user === message.user && bound.session.authTime <= message.before)
      ) {
        this.finish(bound, 'revoked');
      }
    }
  };

  constructor(
    private readonly revocations: Revocations,
    private readonly log: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {
    revocations.on('revoked', this.onRevoked);
  }

  /**
   * Ties a connection to its session: `end` is called once, when the session ends. Returns the
   * release to call when the connection closes by itself (it is then forgotten, its timer cleared).
   */
  bind(session: Session, end: (reason: SessionEndReason) => void): () => void {
    const bound: Bound = { session, user: userHash(session.userId), end, timer: undefined };
    this.open.add(bound);
    this.arm(bound);
    return () => this.release(bound);
  }

  /** Connections currently tied to a session. */
  get size(): number {
    return this.open.size;
  }

  /** Ends every connection (the gateway is closing) and stops following revocations. */
  close(): void {
    this.revocations.off('revoked', this.onRevoked);
    for (const bound of this.open) this.finish(bound, 'closing');
  }

  private arm(bound: Bound): void {
    const remaining = bound.session.expiresAt - this.now();
    if (remaining <= 0) {
      this.finish(bound, 'expired');
      return;
    }
    // Unref'd: an open socket keeps the process alive, not its timer.
    bound.timer =
      remaining > MAX_TIMER_MS
        ? setTimeout(() => this.arm(bound), MAX_TIMER_MS).unref()
        : setTimeout(() => this.finish(bound, 'expired'), remaining).unref();
  }

  private finish(bound: Bound, reason: SessionEndReason): void {
    if (!this.release(bound)) return;
    if (reason !== 'closing')
      this.log.info({ userId: bound.session.userId, reason }, 'closing a stream of an ended session');
    bound.end(reason);
  }

  private release(bound: Bound): boolean {
    clearTimeout(bound.timer);
    return this.open.delete(bound);
  }
}
