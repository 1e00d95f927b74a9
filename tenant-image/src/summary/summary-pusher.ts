import type { FastifyBaseLogger } from 'fastify';
import type { FilesArea } from '../files/files-area.js';
import type { HistoryStore } from '../history/history-store.js';

/** What the supervisor aggregates: the body of GET /summary. */
export interface Summary {
  messages: number;
  replies: number;
  tokensUsed: number;
  bytesStored: number;
  lastActivity: number | null;
}

/** The tenant's summary now: counts from the history, bytes from the files area. */
export async function readSummary(history: HistoryStore, files: FilesArea): Promise<Summary> {
  return { ...history.stats(), bytesStored: await files.usage() };
}

export interface SummaryPusherOptions {
  /** The supervisor's summary ingest for this tenant. */
  url: string;
  /** The tenant's own token: it may push its own summary and do nothing else. */
  token: string;
  intervalMs: number;
  collect: () => Promise<Summary>;
  log: FastifyBaseLogger;
}

/**
 * Pushes the usage summary to the supervisor on an interval and once more at shutdown, skipping
 * pushes that would repeat the last one. A failed push is logged and retried at the next tick:
 * the figures are totals, so nothing is lost by a missed push.
 */
export class SummaryPusher {
  private timer: NodeJS.Timeout | undefined;
  private lastSent = '';

  constructor(private readonly options: SummaryPusherOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.push(), this.options.intervalMs);
    // The pusher must never be what keeps a stopping process alive.
    this.timer.unref();
  }

  /** Stops the interval and pushes a last time (bounded, so a stop is never held up for long). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.push(2_000);
  }

  /** Sends the summary unless it equals the last one sent. Returns whether a push was made. */
  async push(timeoutMs = 5_000): Promise<boolean> {
    try {
      const body = JSON.stringify(await this.options.collect());
      if (body === this.lastSent) return false;
      const res = await fetch(this.options.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`summary ingest answered ${res.status}`);
      this.lastSent = body;
      return true;
    } catch (err) {
      this.options.log.warn({ err }, 'summary push failed');
      return false;
    }
  }
}
