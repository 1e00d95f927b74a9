import type { FastifyBaseLogger } from 'fastify';
import { listAll } from './capacity.js';
import { byLeastRecentActivity, isIdle, isPauseOver } from './idle.js';
import type { InFlight } from './in-flight.js';
import type { LifecycleStore } from './ports.js';
import type { Sleeper } from './sleeper.js';

/** Settings of the sleep schedule; durations in milliseconds, memory in bytes. */
export interface SleepScheduleSettings {
  /** A paused tenant is stopped after this; 0: tenants are never paused. */
  pauseTimeoutMs: number;
  /** Paused tenants are stopped early (least recently active first) while less memory is available. */
  memoryReserveBytes: number;
  /** How often deadlines are checked. */
  reaperIntervalMs: number;
}

export interface SleepScheduleDeps {
  store: LifecycleStore;
  sleeper: Sleeper;
  inFlight: InFlight;
  settings: SleepScheduleSettings;
  log: FastifyBaseLogger;
  /** Clock, epoch milliseconds. */
  now: () => number;
  /** Memory the host can still give, bytes. */
  availableMemory: () => number;
}

/**
 * When tenants sleep: running tenants past their idle deadline are paused (or stopped when
 * PAUSE_TIMEOUT is 0), paused ones past PAUSE_TIMEOUT are stopped, and while the host has less
 * memory available than MEMORY_RESERVE, paused tenants are stopped least recently active first.
 * A reaper timer checks every REAPER_INTERVAL; tenants with an operation in flight are skipped
 * and looked at again next time.
 */
export class SleepSchedule {
  private reaper: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SleepScheduleDeps) {}

  /** Starts the reaper timer. It does not keep the process alive. */
  start(): void {
    if (this.reaper) return;
    this.reaper = setInterval(() => {
      this.reap().catch((err: unknown) => this.deps.log.error({ err }, 'idle reaper failed'));
    }, this.deps.settings.reaperIntervalMs);
    this.reaper.unref();
  }

  /** Stops the reaper timer; sleeps in flight go on. */
  stop(): void {
    if (this.reaper) clearInterval(this.reaper);
    this.reaper = undefined;
  }

  /** One pass of the schedule: sleep what is due now. */
  async reap(): Promise<void> {
    const { settings, store, inFlight, sleeper } = this.deps;
    const now = this.deps.now();
    const idle = listAll(store, 'running').filter(
      (tenant) => isIdle(tenant.idleDeadline, now) && !inFlight.isBusy(tenant.userId),
    );
    const expired = listAll(store, 'paused').filter(
      (tenant) => isPauseOver(tenant.pausedAt, now, settings.pauseTimeoutMs) && !inFlight.isBusy(tenant.userId),
    );
    await Promise.allSettled([
      ...idle.map((tenant) => sleeper.sleep(tenant.userId, 'idle')),
      ...expired.map((tenant) => sleeper.stop(tenant.userId, 'idle')),
    ]);
    await this.relieveMemory();
  }

  /** Stops paused tenants, least recently active first, until MEMORY_RESERVE is available again. */
  private async relieveMemory(): Promise<void> {
    const { settings, store, inFlight, sleeper, log } = this.deps;
    if (this.deps.availableMemory() >= settings.memoryReserveBytes) return;
    const paused = byLeastRecentActivity(listAll(store, 'paused').filter((tenant) => !inFlight.isBusy(tenant.userId)));
    // One at a time, measuring again after each: every stop gives memory back.
    for (const tenant of paused) {
      const available = this.deps.availableMemory();
      if (available >= settings.memoryReserveBytes) return;
      log.info({ userId: tenant.userId, availableBytes: available }, 'memory low; stopping a paused tenant');
      await sleeper.stop(tenant.userId, 'memory').catch((err: unknown) => log.error({ err }, 'stop for memory failed'));
    }
  }
}
