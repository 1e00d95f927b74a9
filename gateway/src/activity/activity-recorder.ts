import type { ActivityBatch } from '@tenancy/shared';
import type { FastifyBaseLogger } from 'fastify';

type Item = ActivityBatch['items'][number];

/**
 * Per-user activity seen since the last report: requests, WebSocket frames, open streams.
 * Reported to the supervisor in one batch every interval; a failed report is merged into the
 * next one, so nothing is lost while the supervisor restarts.
 */
export class ActivityRecorder {
  private pending = new Map<string, Item>();
  /** Open streams and WebSockets per user, with when each user's first one opened. */
  private readonly open = new Map<string, { count: number; since: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly report: (batch: ActivityBatch) => Promise<void>,
    private readonly log: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {}

  request(userId: string): void {
    this.item(userId).requests++;
  }

  frame(userId: string): void {
    this.item(userId).wsFrames++;
  }

  /** A stream or WebSocket opened; call the returned function when it closes. */
  streamOpened(userId: string): () => void {
    const entry = this.open.get(userId) ?? { count: 0, since: this.now() };
    entry.count++;
    this.open.set(userId, entry);
    this.item(userId);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      const current = this.open.get(userId);
      if (!current) return;
      current.count--;
      if (current.count === 0) {
        this.item(userId).streamMs += this.now() - current.since;
        this.open.delete(userId);
      }
    };
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  /** Sends what was seen; open streams count as activity now. */
  async flush(): Promise<void> {
    const now = this.now();
    for (const [userId, entry] of this.open) {
      this.item(userId).streamMs += now - entry.since;
      entry.since = now;
    }
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.report({ items: [...batch.values()].slice(0, 10_000) });
    } catch (err) {
      this.log.warn({ err, users: batch.size }, 'activity report failed; will retry');
      for (const [userId, item] of batch) {
        const merged = this.item(userId);
        merged.requests += item.requests;
        merged.wsFrames += item.wsFrames;
        merged.streamMs += item.streamMs;
        merged.lastActivity = Math.max(merged.lastActivity, item.lastActivity);
      }
    }
  }

  private item(userId: string): Item {
    let item = this.pending.get(userId);
    if (!item) {
      item = { userId, lastActivity: 0, requests: 0, wsFrames: 0, streamMs: 0 };
      this.pending.set(userId, item);
    }
    item.lastActivity = this.now();
    return item;
  }
}
