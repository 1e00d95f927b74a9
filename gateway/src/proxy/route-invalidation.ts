import { serverSentEvents } from '@tenancy/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { SupervisorClient } from '../supervisor/client.js';
import type { RouteCache } from './route-cache.js';

export interface RouteInvalidationOptions {
  /** Wait between two connection attempts (ms). */
  retryMs?: number;
  /** Called when the supervisor announces a disabled user: their sessions must end now. */
  onRevoke?: (userId: string) => void;
  /** Called when the supervisor announces a revoked API key: every replica records it. */
  onRevokeKey?: (keyId: string) => void;
}

/**
 * Keeps the route cache honest: follows the supervisor's feed of stopped tenants and drops their
 * cached routes at once, so a request never goes to a container that was just put to sleep,
 * evicted or removed (it would get a 502 until the entry expired), nor tells a tenant a plan the
 * user no longer has. On every (re)connection the whole cache is dropped, since stops may have
 * been missed while the feed was down; while it is down, entries still expire after
 * ROUTE_CACHE_TTL. The same feed announces disabled users (`revoke`), passed to `onRevoke`, and
 * revoked API keys (`revoke-key`), passed to `onRevokeKey`.
 */
export class RouteInvalidation {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  /** True between the feed's `hello` and its loss: stops are being heard as they happen. */
  following = false;

  private readonly retryMs: number;
  private readonly onRevoke: (userId: string) => void;
  private readonly onRevokeKey: (keyId: string) => void;

  constructor(
    private readonly supervisor: SupervisorClient,
    private readonly routes: RouteCache,
    private readonly log: FastifyBaseLogger,
    options: RouteInvalidationOptions = {},
  ) {
    this.retryMs = options.retryMs ?? 1_000;
    this.onRevoke = options.onRevoke ?? (() => {});
    this.onRevokeKey = options.onRevokeKey ?? (() => {});
  }

  start(): void {
    this.running = this.follow();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async follow(): Promise<void> {
    const { signal } = this.abort;
    // The first failure in a row is a warning; the retries after it, every second, are not news.
    let failures = 0;
    while (!signal.aborted) {
      try {
        const res = await this.supervisor.routeEvents(signal);
        for await (const { event, data } of serverSentEvents(res.body as ReadableStream<Uint8Array>)) {
          if (event === 'hello') {
            this.routes.clear();
            this.following = true;
            failures = 0;
            this.log.info('following tenant stops');
          } else if (event === 'unroute' || event === 'revoke') {
            const userId = userIdOf(data);
            if (userId === undefined) continue;
            this.routes.drop(userId);
            if (event === 'revoke') this.onRevoke(userId);
          } else if (event === 'revoke-key') {
            const keyId = fieldOf(data, 'keyId');
            if (keyId !== undefined) this.onRevokeKey(keyId);
          }
        }
        this.following = false;
        if (!signal.aborted && failures++ === 0) this.log.warn('tenant stop feed ended; reconnecting');
      } catch (err) {
        this.following = false;
        if (signal.aborted) break;
        if (failures++ === 0) this.log.warn({ err }, 'tenant stop feed unavailable; reconnecting');
        else this.log.debug({ err }, 'tenant stop feed still unavailable');
      }
      await pause(this.retryMs, signal);
    }
  }
}

/** Waits `ms`, or less when `signal` aborts; never keeps the process alive by itself. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

function userIdOf(data: string): string | undefined {
  return fieldOf(data, 'userId');
}

/** A string field of an event's JSON data, or undefined. */
function fieldOf(data: string, name: string): string | undefined {
  try {
    const value = (JSON.parse(data) as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
