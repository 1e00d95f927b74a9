import { isTenancyError, type StopReason, type TenantRoute, type WakeProgress } from '@tenancy/shared';
import type { FastifyBaseLogger } from 'fastify';
import { errors } from '../errors.js';
import type { PlanTable } from '../plans.js';
import { deriveIdentity, objectNames, type TenantObjectNames } from '../runtime/names.js';
import { firstFreeSubnet, parseCidr } from '../runtime/subnet-pool.js';
import type { RuntimeEvent, TenantRuntime, TenantSpec } from '../runtime/types.js';
import { isIdle, pickEvictionVictim } from './idle.js';
import type { LifecycleStore, TenantRecord } from './ports.js';
import { holdsCapacity, type LifecycleEffect, type LifecycleEvent, transition } from './state-machine.js';
import { readTenantSummary } from './tenant-summary.js';
import { healthPercent, type ProgressListener, WakeProgressChannel } from './wake-progress.js';

/** Settings of the controller, taken from the supervisor's config. Durations in milliseconds. */
export interface ControllerSettings {
  namespaceKey: string;
  instance: string;
  image: string;
  port: number;
  healthPath: string;
  subnetPool: string;
  subnetPrefix: number;
  idleTimeoutMs: number;
  warmupTimeoutMs: number;
  stopGraceMs: number;
  probeIntervalMs: number;
  reaperIntervalMs: number;
  maxRunning: number;
  capacityPolicy: 'evict' | 'reject';
  evictMinIdleMs: number;
  /** Extra environment for every tenant app (TENANT_ENV). */
  extraEnv: Readonly<Record<string, string>>;
  /** Where tenants push their usage summary, if anywhere (TENANT_SUMMARY_URL). */
  summaryUrl?: string;
}

/** Observers the controller reports to (metrics); all optional. */
export interface ControllerObserver {
  wakeFinished?(result: 'ok' | 'failed' | 'timeout' | 'cancelled', ms: number): void;
  stopped?(reason: StopReason): void;
}

export interface ControllerDeps {
  runtime: TenantRuntime;
  store: LifecycleStore;
  plans: PlanTable;
  settings: ControllerSettings;
  log: FastifyBaseLogger;
  observer?: ControllerObserver;
  /** Clock, epoch milliseconds. */
  now?: () => number;
}

/** One wake in flight: every concurrent caller shares its promise. */
interface WakeAttempt {
  promise: Promise<TenantRoute>;
  abort: AbortController;
  progress: WakeProgressChannel;
}

/** In-memory companions of a tenant's persisted record, for operations in flight. */
interface Entry {
  wake?: WakeAttempt;
  stopping?: Promise<void>;
}

const CANCELLED = Symbol('wake cancelled by a stop');

/** Longest a single health probe may take. */
const PROBE_TIMEOUT_MS = 500;

/**
 * Owns the lifecycle of every tenant: single-flight wakes with progress, stops, the idle reaper,
 * capacity, and reconciliation with what the engine runs. Decisions come from the pure state
 * machine; this class performs them against the runtime and the store.
 */
export class TenantController {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly pool;
  private reaper: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private closed = false;
  private readonly unrouteListeners = new Set<(userId: string) => void>();

  constructor(private readonly deps: ControllerDeps) {
    this.now = deps.now ?? Date.now;
    this.pool = parseCidr(deps.settings.subnetPool);
  }

  /** Docker object names of a user's tenant. */
  namesFor(userId: string): TenantObjectNames {
    return objectNames(this.deps.settings.instance, deriveIdentity(this.deps.settings.namespaceKey, userId).hash);
  }

  /** The gateway's view of a tenant, without waking it. */
  route(userId: string): TenantRoute {
    const tenant = this.deps.store.tenants.get(userId);
    if (!tenant) return { state: 'asleep' };
    return this.routeOf(tenant);
  }

  /**
   * Wakes the user's tenant. Concurrent calls share one attempt; with `wait` the call resolves
   * when the tenant is ready (or rejects with the attempt's error), without it at once.
   */
  async wake(userId: string, options: { wait: boolean; actor?: string } = { wait: true }): Promise<TenantRoute> {
    const user = this.deps.store.users.get(userId);
    if (!user) throw errors.userNotFound();
    if (user.disabled) {
      this.deps.store.audit.append({
        actor: options.actor ?? 'gateway',
        action: 'tenant.wake',
        target: userId,
        result: 'denied',
        detail: { reason: 'user disabled' },
      });
      throw errors.userDisabled();
    }
    const entry = this.entry(userId);

    if (entry.stopping) await entry.stopping;
    if (!entry.wake) {
      const tenant = this.deps.store.tenants.ensure(
        userId,
        deriveIdentity(this.deps.settings.namespaceKey, userId).hash,
      );
      if (tenant.state === 'running') return this.routeOf(tenant);
      await this.makeRoom(userId);
      // makeRoom may have awaited: another caller may have started the wake meanwhile.
      if (!entry.wake) {
        const { effects } = this.apply(userId, { type: 'wake' });
        if (effects.some((effect) => effect.type === 'begin-wake')) this.beginWake(userId, entry, options.actor);
      }
    }
    const attempt = entry.wake;
    if (!attempt) return this.route(userId);
    if (!options.wait) return { state: 'waking', phase: attempt.progress.latest?.phase ?? 'queued' };
    return attempt.promise;
  }

  /**
   * Follows the progress of the user's wake, starting one if the tenant is not running.
   * The listener gets `ready` at once for a running tenant. Returns the unsubscribe function.
   */
  async followWake(userId: string, listener: ProgressListener): Promise<() => void> {
    await this.wake(userId, { wait: false });
    const attempt = this.entries.get(userId)?.wake;
    if (attempt) return attempt.progress.subscribe(listener);
    // The wake already ended (or was not needed): report how it ended.
    const tenant = this.deps.store.tenants.get(userId);
    const ready = tenant?.state === 'running';
    listener({
      phase: ready ? 'ready' : 'failed',
      percent: 100,
      message: ready ? 'ready' : (tenant?.stopDetail ?? 'your container could not be started'),
      elapsedMs: 0,
      ...(ready ? {} : { code: errors.wakeFailed.code }),
    } satisfies WakeProgress);
    return () => undefined;
  }

  /** Stops the user's tenant; idempotent. A wake in progress is cancelled first. */
  async stop(userId: string, reason: StopReason, actor = 'system'): Promise<void> {
    const entry = this.entry(userId);
    if (entry.stopping) return entry.stopping;
    const stopping = this.runStop(userId, entry, reason, actor).finally(() => {
      entry.stopping = undefined;
      this.forget(userId);
    });
    entry.stopping = stopping;
    return stopping;
  }

  /** Removes the tenant's container and network, and its volumes; stops it first. */
  async remove(userId: string, actor: string): Promise<void> {
    const tenant = this.deps.store.tenants.get(userId);
    if (tenant && tenant.state !== 'asleep') await this.stop(userId, 'admin', actor);
    const names = this.namesFor(userId);
    await this.deps.runtime.remove(names, { volumes: true });
    this.deps.store.audit.append({ actor, action: 'tenant.delete', target: userId, result: 'ok' });
  }

  /** Records activity the gateway saw; moves idle deadlines forward only. */
  recordActivity(userId: string, at: number): void {
    // Activity from the future (clock skew) counts as now: it must not buy extra time.
    this.deps.store.tenants.touchActivity(userId, Math.min(at, this.now()), this.deps.settings.idleTimeoutMs);
  }

  /** Compares the store with the engine and fixes the store (never stops a running container). */
  async reconcile(): Promise<void> {
    const containers = new Map((await this.deps.runtime.list()).map((status) => [status.tenantHash, status]));
    let after: string | undefined;
    for (;;) {
      const page = this.deps.store.tenants.list({ limit: 500, ...(after ? { after } : {}) });
      for (const tenant of page) {
        if (this.entries.get(tenant.userId)?.wake || this.entries.get(tenant.userId)?.stopping) continue;
        const container = containers.get(tenant.tenantHash);
        this.reconcileOne(tenant, container?.running === true, container?.endpointUrl, container?.oomKilled === true);
      }
      if (page.length < 500) break;
      after = page[page.length - 1]?.userId;
    }
  }

  /** Starts the idle reaper and follows engine events. Call once after construction. */
  async start(): Promise<void> {
    await this.reconcile();
    // Adopted tenants keep running; peers re-created meanwhile need their networks back.
    await this.reattach();
    this.watchEngine();
    this.reaper = setInterval(() => {
      this.reap().catch((err: unknown) => this.deps.log.error({ err }, 'idle reaper failed'));
    }, this.deps.settings.reaperIntervalMs);
    this.reaper.unref();
  }

  /** Stops timers and the event stream; waits for operations in flight. Running tenants keep running. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reaper) clearInterval(this.reaper);
    this.unwatch?.();
    const pending = [...this.entries.values()].flatMap((entry) => [entry.wake?.promise, entry.stopping]);
    await Promise.allSettled(pending.filter(Boolean));
  }

  /** Puts every running tenant whose idle deadline has passed to sleep. */
  async reap(): Promise<void> {
    const now = this.now();
    const idle = this.runningTenants().filter(
      (tenant) => isIdle(tenant.idleDeadline, now) && !this.entries.get(tenant.userId)?.wake,
    );
    await Promise.allSettled(idle.map((tenant) => this.stop(tenant.userId, 'idle')));
  }

  private runningTenants(): TenantRecord[] {
    const all: TenantRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = this.deps.store.tenants.list({ state: 'running', limit: 500, ...(after ? { after } : {}) });
      all.push(...page);
      if (page.length < 500) return all;
      after = page[page.length - 1]?.userId;
    }
  }

  private entry(userId: string): Entry {
    let entry = this.entries.get(userId);
    if (!entry) {
      entry = {};
      this.entries.set(userId, entry);
    }
    return entry;
  }

  private forget(userId: string): void {
    const entry = this.entries.get(userId);
    if (entry && !entry.wake && !entry.stopping) this.entries.delete(userId);
  }

  /** Applies a lifecycle event to the persisted state; returns the effects to perform. */
  private apply(userId: string, event: LifecycleEvent): { effects: LifecycleEffect[]; tenant: TenantRecord } {
    const tenant = this.deps.store.tenants.get(userId);
    if (!tenant) throw errors.tenantNotFound();
    const { next, effects } = transition(
      { state: tenant.state, ...(tenant.phase ? { phase: tenant.phase } : {}) },
      event,
    );
    if (next.state === tenant.state && (next.phase ?? null) === tenant.phase) return { effects, tenant };
    const updated = this.deps.store.tenants.update(userId, { state: next.state, phase: next.phase ?? null });
    if (tenant.state === 'running' && next.state !== 'running') this.unroute(userId);
    return { effects, tenant: updated };
  }

  /** Frees a capacity slot for `userId` if the deployment is full, or throws 429. */
  private async makeRoom(userId: string): Promise<void> {
    const { maxRunning, capacityPolicy, evictMinIdleMs } = this.deps.settings;
    for (let tries = 0; tries < 3; tries++) {
      const counts = this.deps.store.tenants.countByState();
      const busy = (counts.waking ?? 0) + (counts.running ?? 0) + (counts.stopping ?? 0);
      const own = this.deps.store.tenants.get(userId);
      if (busy - (own && holdsCapacity(own.state) ? 1 : 0) < maxRunning) return;
      const victim =
        capacityPolicy === 'evict'
          ? pickEvictionVictim(
              this.runningTenants().filter((tenant) => !this.entries.get(tenant.userId)?.stopping),
              this.now(),
              evictMinIdleMs,
            )
          : undefined;
      if (!victim) break;
      this.deps.log.info({ userId: victim.userId, forUserId: userId }, 'evicting tenant for capacity');
      await this.stop(victim.userId, 'capacity');
    }
    throw errors.capacityFull(undefined, { details: { retryAfterSeconds: 30 } });
  }

  private beginWake(userId: string, entry: Entry, actor = 'gateway'): void {
    const abort = new AbortController();
    const progress = new WakeProgressChannel(this.now());
    progress.emit('queued', this.now());
    const attempt: WakeAttempt = {
      abort,
      progress,
      promise: this.runWake(userId, abort, progress, actor).finally(() => {
        if (entry.wake === attempt) entry.wake = undefined;
        this.forget(userId);
      }),
    };
    // Callers that did not wait still must not see an unhandled rejection.
    attempt.promise.catch(() => undefined);
    entry.wake = attempt;
  }

  private async runWake(
    userId: string,
    abort: AbortController,
    progress: WakeProgressChannel,
    actor: string,
  ): Promise<TenantRoute> {
    const { settings, runtime, store, log } = this.deps;
    const startedAt = this.now();
    const identity = deriveIdentity(settings.namespaceKey, userId);
    const names = objectNames(settings.instance, identity.hash);
    const timeout = AbortSignal.timeout(settings.warmupTimeoutMs);
    const signal = AbortSignal.any([abort.signal, timeout]);
    const phase = (name: 'creating' | 'starting' | 'waiting-health') => {
      this.apply(userId, { type: 'phase', phase: name });
      progress.emit(name, this.now());
      signal.throwIfAborted();
    };
    store.tenants.update(userId, { lastWakeStartedAt: startedAt });

    try {
      phase('creating');
      const subnet = await this.subnetFor(userId);
      const user = store.users.get(userId);
      const spec: TenantSpec = {
        names,
        tenantHash: identity.hash,
        image: settings.image,
        limits: this.deps.plans.limitsFor(user?.plan ?? 'free'),
        subnet,
        env: this.tenantEnv(userId, identity),
        port: settings.port,
        stopGraceMs: settings.stopGraceMs,
      };
      const ensured = await runtime.ensure(spec, signal);
      store.tenants.update(userId, { containerId: ensured.containerId, networkName: names.network, subnet });

      phase('starting');
      const running = await runtime.start(names, signal);

      phase('waiting-health');
      await this.waitHealthy(running.endpointUrl, signal, progress, startedAt);

      const readyAt = this.now();
      this.apply(userId, { type: 'ready' });
      const tenant = store.tenants.update(userId, {
        containerId: running.containerId,
        endpointUrl: running.endpointUrl,
        stopReason: null,
        stopDetail: null,
        lastWakeReadyAt: readyAt,
        lastWakeMs: readyAt - startedAt,
        wakeCount: (store.tenants.get(userId)?.wakeCount ?? 0) + 1,
      });
      const touched = store.tenants.touchActivity(userId, readyAt, settings.idleTimeoutMs) ?? tenant;
      progress.emit('ready', readyAt);
      store.audit.append({
        actor,
        action: 'tenant.wake',
        target: userId,
        result: 'ok',
        detail: { ms: readyAt - startedAt },
      });
      this.deps.observer?.wakeFinished?.('ok', readyAt - startedAt);
      log.info({ userId, tenantId: identity.hash, ms: readyAt - startedAt, created: ensured.created }, 'tenant ready');
      return this.routeOf(touched);
    } catch (err) {
      const ms = this.now() - startedAt;
      if (abort.signal.aborted && abort.signal.reason === CANCELLED) {
        progress.emit('failed', this.now(), { code: errors.wakeCancelled.code, message: 'stopped while waking' });
        this.deps.observer?.wakeFinished?.('cancelled', ms);
        throw errors.wakeCancelled();
      }
      const timedOut = timeout.aborted;
      const failure = timedOut
        ? errors.wakeTimeout(`the tenant did not become ready within ${settings.warmupTimeoutMs} ms`)
        : errors.wakeFailed(isTenancyError(err) ? err.message : 'the tenant failed to start', { cause: err });
      log.warn({ userId, tenantId: identity.hash, ms, err }, 'tenant wake failed');
      const { effects } = this.apply(userId, { type: 'wake-failed', timedOut });
      await this.perform(userId, names, effects, failure.message);
      store.tenants.update(userId, { failureCount: (store.tenants.get(userId)?.failureCount ?? 0) + 1 });
      progress.emit('failed', this.now(), { code: failure.code, message: failure.message });
      store.audit.append({
        actor,
        action: 'tenant.wake',
        target: userId,
        result: 'error',
        detail: { code: failure.code, message: failure.message, ms },
      });
      this.deps.observer?.wakeFinished?.(timedOut ? 'timeout' : 'failed', ms);
      throw failure;
    }
  }

  /**
   * The tenant app's environment: the operator's extra variables, then what the platform sets
   * (which always wins): the port, the secret and, when TENANT_SUMMARY_URL is set, where and
   * with which token to push their usage summary.
   */
  private tenantEnv(userId: string, identity: { secret: string; summaryToken: string }): Record<string, string> {
    const { settings } = this.deps;
    return {
      ...settings.extraEnv,
      PORT: String(settings.port),
      TENANT_SECRET: identity.secret,
      ...(settings.summaryUrl
        ? {
            SUMMARY_URL: `${settings.summaryUrl.replace(/\/+$/, '')}/v1/tenants/${encodeURIComponent(userId)}/summary`,
            SUMMARY_TOKEN: identity.summaryToken,
          }
        : {}),
    };
  }

  /** Probes the health endpoint every few tens of milliseconds until it answers 2xx. */
  private async waitHealthy(
    endpointUrl: string,
    signal: AbortSignal,
    progress: WakeProgressChannel,
    startedAt: number,
  ): Promise<void> {
    const url = new URL(this.deps.settings.healthPath, endpointUrl);
    for (let probe = 0; ; probe++) {
      signal.throwIfAborted();
      try {
        // Short per-probe timeout: a probe stuck on a connection that is not up yet must not
        // delay readiness by more than this.
        const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]) });
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // Not listening yet; the wake's own signal ends the loop.
      }
      if (probe % 20 === 19) {
        const elapsed = this.now() - startedAt;
        progress.emit('waiting-health', this.now(), {
          percent: healthPercent(elapsed, this.deps.settings.warmupTimeoutMs),
        });
      }
      await sleep(this.deps.settings.probeIntervalMs, signal);
    }
  }

  private async runStop(userId: string, entry: Entry, reason: StopReason, actor: string): Promise<void> {
    const tenant = this.deps.store.tenants.get(userId);
    if (!tenant) return;
    const names = objectNames(this.deps.settings.instance, tenant.tenantHash);
    const { effects } = this.apply(userId, { type: 'stop', reason });
    if (effects.length === 0) return;

    if (effects.some((effect) => effect.type === 'cancel-wake') && entry.wake) {
      entry.wake.abort.abort(CANCELLED);
      await entry.wake.promise.catch(() => undefined);
    }
    if (tenant.state === 'running' && tenant.endpointUrl && effects.some((e) => e.type === 'stop-container')) {
      await this.collectSummary(userId, tenant.endpointUrl);
    }
    await this.perform(userId, names, effects, null);
    this.apply(userId, { type: 'stopped' });
    this.deps.store.tenants.update(userId, { endpointUrl: null, stopReason: reason, stopDetail: null, phase: null });
    this.deps.store.audit.append({ actor, action: 'tenant.stop', target: userId, result: 'ok', detail: { reason } });
    this.deps.observer?.stopped?.(reason);
    this.deps.log.info({ userId, tenantId: tenant.tenantHash, reason }, 'tenant stopped');
  }

  /** Keeps the tenant's usage figures current: read them while the app still answers. */
  private async collectSummary(userId: string, endpointUrl: string): Promise<void> {
    const summary = await readTenantSummary(
      endpointUrl,
      deriveIdentity(this.deps.settings.namespaceKey, userId).secret,
    );
    if (summary) this.deps.store.summaries.ingest(userId, summary);
    else this.deps.log.debug({ userId }, 'no usage summary before stop');
  }

  /** Performs the effects the controller does not handle inline. */
  private async perform(
    userId: string,
    names: TenantObjectNames,
    effects: LifecycleEffect[],
    detail: string | null,
  ): Promise<void> {
    for (const effect of effects) {
      if (effect.type === 'stop-container') {
        await this.deps.runtime.stop(names, this.deps.settings.stopGraceMs).catch((err: unknown) => {
          this.deps.log.error({ userId, err }, 'stopping tenant container failed');
        });
      } else if (effect.type === 'record-stop') {
        this.deps.store.tenants.update(userId, { stopReason: effect.reason, stopDetail: detail, endpointUrl: null });
        if (effect.reason !== 'failed-start') this.deps.observer?.stopped?.(effect.reason);
      }
    }
  }

  private reconcileOne(tenant: TenantRecord, running: boolean, endpointUrl: string | undefined, oom: boolean): void {
    const { store, log } = this.deps;
    if (tenant.state === 'waking' || tenant.state === 'stopping') {
      // Left over from a supervisor that died mid-operation: settle on what the engine shows.
      if (running && endpointUrl) {
        store.tenants.update(tenant.userId, { state: 'running', phase: null, endpointUrl });
        store.tenants.touchActivity(tenant.userId, this.now(), this.deps.settings.idleTimeoutMs);
      } else {
        store.tenants.update(tenant.userId, {
          state: 'asleep',
          phase: null,
          endpointUrl: null,
          ...(tenant.state === 'waking'
            ? { stopReason: 'failed-start', stopDetail: 'supervisor restarted during the wake' }
            : {}),
        });
      }
      log.info({ userId: tenant.userId, from: tenant.state, running }, 'reconciled interrupted operation');
      return;
    }
    const { effects } = this.apply(tenant.userId, { type: 'observed', running });
    if (effects.some((effect) => effect.type === 'adopt')) {
      store.tenants.update(tenant.userId, { endpointUrl: endpointUrl ?? null });
      store.tenants.touchActivity(tenant.userId, this.now(), this.deps.settings.idleTimeoutMs);
      log.info({ userId: tenant.userId }, 'adopted running tenant');
    } else if (effects.some((effect) => effect.type === 'record-stop')) {
      store.tenants.update(tenant.userId, { stopReason: oom ? 'oom' : 'crashed', endpointUrl: null, phase: null });
      store.audit.append({
        actor: 'system',
        action: 'tenant.crashed',
        target: tenant.userId,
        result: 'error',
        detail: { oom },
      });
      log.warn({ userId: tenant.userId, oom }, 'tenant found stopped');
    } else if (running && endpointUrl && endpointUrl !== tenant.endpointUrl) {
      store.tenants.update(tenant.userId, { endpointUrl });
    }
  }

  private watchEngine(): void {
    if (this.closed) return;
    this.unwatch = this.deps.runtime.watch(
      (event) => this.onEngineEvent(event),
      (err) => {
        this.deps.log.warn({ err }, 'docker event stream lost; reconnecting');
        this.unwatch?.();
        setTimeout(() => {
          if (this.closed) return;
          this.watchEngine();
          this.reconcile().catch((error: unknown) => this.deps.log.error({ err: error }, 'reconcile failed'));
        }, 1_000).unref();
      },
    );
  }

  /**
   * Calls `listener` with the user id whenever a tenant stops being reachable at the endpoint it
   * had: from the moment a stop begins, or when the engine shows it gone. Returns unsubscribe.
   */
  onUnroute(listener: (userId: string) => void): () => void {
    this.unrouteListeners.add(listener);
    return () => this.unrouteListeners.delete(listener);
  }

  private unroute(userId: string): void {
    for (const listener of this.unrouteListeners) listener(userId);
  }

  private async reattach(): Promise<void> {
    await this.deps.runtime
      .reattach()
      .catch((err: unknown) => this.deps.log.error({ err }, 'attaching peers to tenant networks failed'));
  }

  private onEngineEvent(event: RuntimeEvent): void {
    if (event.type === 'peer-start') {
      this.deps.log.info({ containerId: event.containerId }, 'peer started; attaching it to tenant networks');
      void this.reattach();
      return;
    }
    if (event.type !== 'die' && event.type !== 'oom') return;
    const tenant = this.deps.store.tenants.getByHash(event.tenantHash);
    if (!tenant) return;
    if (event.type === 'oom') {
      // The kernel killed a process of the tenant at its memory limit. The container keeps
      // running if that was not its main process; a following `die` records the stop.
      this.deps.store.audit.append({ actor: 'system', action: 'tenant.oom', target: tenant.userId, result: 'error' });
      this.deps.log.warn({ userId: tenant.userId, tenantId: tenant.tenantHash }, 'tenant hit its memory limit');
      return;
    }
    const entry = this.entries.get(tenant.userId);
    if (entry?.stopping || tenant.state === 'stopping') return;
    if (entry?.wake) {
      // The wake notices through its failing health probes; fail it now instead.
      entry.wake.abort.abort(new Error(`container exited with code ${event.exitCode ?? 'unknown'}`));
      return;
    }
    if (tenant.state !== 'running') return;
    this.deps.runtime
      .inspect(this.namesFor(tenant.userId))
      .then((status) => {
        const oom = status?.oomKilled === true;
        const { effects } = this.apply(tenant.userId, { type: 'died', oom });
        if (effects.length === 0) return;
        this.deps.store.tenants.update(tenant.userId, {
          stopReason: oom ? 'oom' : 'crashed',
          stopDetail: `exit code ${event.exitCode ?? 'unknown'}`,
          endpointUrl: null,
        });
        this.deps.store.audit.append({
          actor: 'system',
          action: oom ? 'tenant.oom' : 'tenant.crashed',
          target: tenant.userId,
          result: 'error',
          detail: { exitCode: event.exitCode ?? null },
        });
        this.deps.observer?.stopped?.(oom ? 'oom' : 'crashed');
        this.deps.log.warn({ userId: tenant.userId, exitCode: event.exitCode, oom }, 'tenant container died');
      })
      .catch((err: unknown) => this.deps.log.error({ err }, 'handling container death failed'));
  }

  private async subnetFor(userId: string): Promise<string> {
    const tenant = this.deps.store.tenants.get(userId);
    if (tenant?.subnet) return tenant.subnet;
    const taken = new Set(this.deps.store.tenants.allocatedSubnets());
    const engine = (await this.deps.runtime.usedSubnets()).flatMap((text) => {
      try {
        return [parseCidr(text)];
      } catch {
        return [];
      }
    });
    const subnet = firstFreeSubnet(this.pool, this.deps.settings.subnetPrefix, taken, engine);
    if (!subnet) throw errors.subnetPoolExhausted();
    // Reserve it at once: two wakes of different tenants must not pick the same one.
    this.deps.store.tenants.update(userId, { subnet });
    return subnet;
  }

  private routeOf(tenant: TenantRecord): TenantRoute {
    const route: TenantRoute = { state: tenant.state };
    if (tenant.phase) route.phase = tenant.phase;
    if (tenant.state === 'running' && tenant.endpointUrl) {
      route.endpoint = {
        url: tenant.endpointUrl,
        secret: deriveIdentity(this.deps.settings.namespaceKey, tenant.userId).secret,
      };
    }
    if (tenant.idleDeadline !== null && tenant.state === 'running') route.idleDeadline = tenant.idleDeadline;
    return route;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
