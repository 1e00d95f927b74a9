import type { StopReason } from '@tenancy/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { TenantRuntime } from '../runtime/types.js';
import type { InFlight, InFlightEntry } from './in-flight.js';
import type { LifecycleStore } from './ports.js';
import type { TenantRef } from './tenant-ref.js';
import type { TenantStates } from './tenant-states.js';
import { readTenantSummary } from './tenant-summary.js';
import { CANCELLED } from './waker.js';

/** Why a running tenant is put to sleep by the platform. */
export type SleepReason = 'idle' | 'capacity' | 'admin';

/** Observers of sleeps (metrics); optional. */
export interface SleepObserver {
  stopped?(reason: StopReason): void;
  paused?(reason: SleepReason): void;
}

/** Settings of sleeps; durations in milliseconds. */
export interface SleepSettings {
  /** Second stage of sleep: 0 means tenants are stopped at once, never paused. */
  pauseTimeoutMs: number;
  /**
   * The runtime can pause (`capabilities.pause`). Without it `pauseTimeoutMs` must be 0, an
   * explicit pause stops instead, and `pause`/`unpause` are never called.
   */
  canPause: boolean;
  /** Time a tenant gets between SIGTERM and SIGKILL. */
  stopGraceMs: number;
}

export interface SleeperDeps {
  runtime: TenantRuntime;
  store: LifecycleStore;
  states: TenantStates;
  inFlight: InFlight;
  /** The tenant's identity (names on the engine, secret). */
  ref: (userId: string) => TenantRef;
  settings: SleepSettings;
  log: FastifyBaseLogger;
  observer?: SleepObserver;
}

/**
 * Puts tenants to sleep: pauses them (first stage: frozen, memory kept) and stops them (second
 * stage, or an admin's stop). When a tenant sleeps is the {@link SleepSchedule}'s business; this
 * is how. Each operation is single-flight per tenant through {@link InFlight}, and the state moves
 * only through {@link TenantStates}.
 */
export class Sleeper {
  constructor(private readonly deps: SleeperDeps) {}

  /**
   * Puts a running tenant to sleep the cheapest way memory allows: paused (frozen, wakes in tens
   * of milliseconds) unless PAUSE_TIMEOUT is 0, else stopped.
   */
  sleep(userId: string, reason: SleepReason, actor = 'system'): Promise<void> {
    if (this.deps.settings.pauseTimeoutMs > 0) return this.pause(userId, reason, actor);
    return this.stop(userId, reason, actor);
  }

  /**
   * Freezes a running tenant: memory kept, no CPU, routes dropped. A no-op in any other state.
   * On a runtime that cannot pause, the tenant is stopped instead.
   */
  async pause(userId: string, reason: SleepReason, actor = 'system'): Promise<void> {
    const { inFlight, states, runtime, store, log } = this.deps;
    if (!this.deps.settings.canPause) return this.stop(userId, reason, actor);
    const entry = inFlight.entry(userId);
    if (entry.stopping || entry.pausing || entry.wake || entry.holding) {
      inFlight.forget(userId);
      return;
    }
    const { changed, tenant } = states.apply(userId, { type: 'pause' });
    if (!changed) {
      inFlight.forget(userId);
      return;
    }
    entry.pausing = runtime
      .pause(this.deps.ref(userId).names)
      .then(
        () => {
          store.audit.append({ actor, action: 'tenant.pause', target: userId, result: 'ok', detail: { reason } });
          this.deps.observer?.paused?.(reason);
          log.info({ userId, tenantId: tenant.tenantHash, reason }, 'tenant paused');
        },
        (err: unknown) => {
          states.apply(userId, { type: 'pause-failed' });
          log.error({ userId, tenantId: tenant.tenantHash, err }, 'pausing tenant failed; it keeps running');
        },
      )
      .finally(() => {
        entry.pausing = undefined;
        inFlight.forget(userId);
      });
    return entry.pausing;
  }

  /** Stops the user's tenant; idempotent. A wake in progress is cancelled first. */
  async stop(userId: string, reason: StopReason, actor = 'system'): Promise<void> {
    const { inFlight } = this.deps;
    const current = inFlight.get(userId)?.stopping;
    if (current) return current;
    const entry = await inFlight.settled(userId);
    // Another stop may have begun while this one waited for a pause to settle.
    if (entry.stopping) return entry.stopping;
    const stopping = this.runStop(userId, entry, reason, actor).finally(() => {
      entry.stopping = undefined;
      inFlight.forget(userId);
    });
    entry.stopping = stopping;
    return stopping;
  }

  private async runStop(userId: string, entry: InFlightEntry, reason: StopReason, actor: string): Promise<void> {
    const { store, runtime, states, settings, log } = this.deps;
    const before = store.tenants.get(userId);
    if (!before) return;
    const ref = this.deps.ref(userId);
    const { effects, changed } = states.apply(userId, { type: 'stop', reason });
    if (!changed) return;

    if (effects.some((effect) => effect.type === 'cancel-wake') && entry.wake) {
      entry.wake.abort.abort(CANCELLED);
      await entry.wake.promise.catch(() => undefined);
    }
    if (effects.some((effect) => effect.type === 'stop-container')) {
      if (before.endpointUrl && (before.state === 'running' || before.state === 'paused')) {
        // The summary is read from the app itself, which must be thawed to answer.
        if (before.state === 'paused' && settings.canPause) await runtime.unpause(ref.names).catch(() => undefined);
        await this.collectSummary(ref, before.endpointUrl);
      }
      await runtime.stop(ref.names, settings.stopGraceMs).catch((err: unknown) => {
        log.error({ userId, err }, 'stopping tenant container failed');
      });
    }
    states.apply(userId, { type: 'stopped' }, { endpointUrl: null, stopReason: reason, stopDetail: null });
    store.audit.append({ actor, action: 'tenant.stop', target: userId, result: 'ok', detail: { reason } });
    this.deps.observer?.stopped?.(reason);
    log.info({ userId, tenantId: ref.hash, reason, from: before.state }, 'tenant stopped');
  }

  /** Keeps the tenant's usage figures current: read them while the app still answers. */
  private async collectSummary(ref: TenantRef, endpointUrl: string): Promise<void> {
    const summary = await readTenantSummary(endpointUrl, ref.secret);
    if (summary) this.deps.store.summaries.ingest(ref.userId, summary);
    else this.deps.log.debug({ userId: ref.userId }, 'no usage summary before stop');
  }
}
