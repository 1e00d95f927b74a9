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
 * Pushes the usage summary to the supervisor after something changed and once more at shutdown,
 * skipping pushes that would repeat the last one. No timer runs while the tenant is idle: a
 * change arms one timer (`intervalMs` later, so a burst of changes costs one push) and nothing is
 * armed again until the next change. A failed push is logged and retried one interval later: the
 * figures are totals, so nothing is lost by a missed push.
 */
export class SummaryPusher {
  private timer: NodeJS.Timeout | undefined;
  private lastSent = '';
  private stopped = false;

  constructor(private readonly options: SummaryPusherOptions) {}

  /** Pushes once, one interval after the start: figures the supervisor may not have yet. */
  start(): void {
    this.changed();
  }

  /** Something the summary counts may have changed: push within one interval. */
  changed(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send().then((outcome) => {
        if (outcome === 'failed') this.changed();
      });
    }, this.options.intervalMs);
    // The pusher must never be what keeps a stopping process alive.
    this.timer.unref();
  }

  /** Whether a push is armed: a change (or a failed push) not pushed yet. */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Disarms the timer and pushes a last time (bounded, so a stop is never held up for long). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.send(2_000);
  }

  /** Sends the summary unless it equals the last one sent. Returns whether a push was made. */
  async push(timeoutMs = 5_000): Promise<boolean> {
    return (await this.send(timeoutMs)) === 'sent';
  }

  private async send(timeoutMs = 5_000): Promise<'sent' | 'unchanged' | 'failed'> {
    try {
      const body = JSON.stringify(await this.options.collect());
      if (body === this.lastSent) return 'unchanged';
      const res = await fetch(this.options.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`summary ingest answered ${res.status}`);
      this.lastSent = body;
      return 'sent';
    } catch (err) {
      this.options.log.warn({ err }, 'summary push failed');
      return 'failed';
    }
  }
}
