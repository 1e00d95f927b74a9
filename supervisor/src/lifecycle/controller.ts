import type { StopReason, TenantRoute, WakeProgress } from '@tenancy/shared';
import type { FastifyBaseLogger } from 'fastify';
import { errors } from '../errors.js';
import type { PlanTable } from '../plans.js';
import { objectNames, type TenantObjectNames } from '../runtime/names.js';
import type { RuntimeEvent, TenantRuntime } from '../runtime/types.js';
import { Capacity, listAll } from './capacity.js';
import { byLeastRecentActivity, isIdle, isPauseOver } from './idle.js';
import type { LifecycleStore } from './ports.js';
import { waitUntilHealthy } from './readiness.js';
import { reconcile } from './reconciler.js';
import { StartQueue } from './start-queue.js';
import { SubnetAllocator } from './subnet-allocator.js';
import { type TenantRef, tenantRef } from './tenant-ref.js';
import { TenantStates } from './tenant-states.js';
import { readTenantSummary } from './tenant-summary.js';
import type { ProgressListener } from './wake-progress.js';
import { CANCELLED, routeOf, type WakeAttempt, type WakeObserver, Waker } from './waker.js';
import { TransitionWatchdog } from './watchdog.js';

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
  /** Second stage of sleep: a paused tenant is stopped after this; 0 = stop at once, never pause. */
  pauseTimeoutMs: number;
  /** Paused tenants are stopped early (least recently active first) while less memory is available. */
  memoryReserveBytes: number;
  warmupTimeoutMs: number;
  stopGraceMs: number;
  probeIntervalMs: number;
  probeMaxIntervalMs: number;
  reaperIntervalMs: number;
  maxRunning: number;
  /** Most container starts at once (WAKE_CONCURRENCY); further starts queue in order. */
  wakeConcurrency: number;
  capacityPolicy: 'evict' | 'reject';
  evictMinIdleMs: number;
  /** Extra environment for every tenant app (TENANT_ENV). */
  extraEnv: Readonly<Record<string, string>>;
  /** Where tenants push their usage summary, if anywhere (TENANT_SUMMARY_URL). */
  summaryUrl?: string;
  /**
   * How long past its bounds an operation may take before the transition watchdog steps in
   * (see watchdog.ts); by default STOP_GRACE plus 30 s, the time a failed wake's clean-up may take.
   */
  transitionGraceMs?: number;
}

/** A caller waiting for a wake whose budget ends within this much longer gets the wake's own answer. */
const OUTCOME_SLACK_MS = 1_000;

/** Observers the controller reports to (metrics); all optional. */
export interface ControllerObserver extends WakeObserver {
  stopped?(reason: StopReason): void;
  paused?(reason: SleepReason): void;
}

/** Why a running tenant is put to sleep by the platform. */
export type SleepReason = 'idle' | 'capacity' | 'admin';

export interface ControllerDeps {
  runtime: TenantRuntime;
  store: LifecycleStore;
  plans: PlanTable;
  settings: ControllerSettings;
  log: FastifyBaseLogger;
  observer?: ControllerObserver;
  /** Clock, epoch milliseconds. */
  now?: () => number;
  /** Memory the host can still give, bytes (default: /proc/meminfo's MemAvailable). */
  availableMemory?: () => number;
}

/** In-memory companions of a tenant's persisted record, for operations in flight. */
interface Entry {
  wake?: WakeAttempt;
  stopping?: Promise<void>;
  pausing?: Promise<void>;
}

/**
 * Owns the lifecycle of every tenant and is the one door to it: wakes (single-flight, admitted
 * through the start queue), two-stage sleep (pause, then stop), the reaper, capacity, and
 * reconciliation with the engine. Each concern lives in its own module; the state machine
 * (through {@link TenantStates}) is the only code that sets a tenant's state.
 */
export class TenantController {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly states: TenantStates;
  private readonly capacity: Capacity;
  private readonly queue: StartQueue;
  private readonly waker: Waker;
  private readonly availableMemory: () => number;
  private reaper: NodeJS.Timeout | undefined;
  private readonly watchdog: TransitionWatchdog;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private closed = false;
  private readonly unrouteListeners = new Set<(userId: string) => void>();

  constructor(private readonly deps: ControllerDeps) {
    const { settings, store, runtime } = deps;
    this.now = deps.now ?? Date.now;
    this.availableMemory = deps.availableMemory ?? (() => Number.POSITIVE_INFINITY);
    this.states = new TenantStates(store, (userId) => this.unroute(userId), this.now);
    this.capacity = new Capacity(store, {
      maxRunning: settings.maxRunning,
      policy: settings.capacityPolicy,
      evictMinIdleMs: settings.evictMinIdleMs,
    });
    this.queue = new StartQueue(settings.wakeConcurrency);
    this.waker = new Waker({
      runtime,
      store,
      states: this.states,
      queue: this.queue,
      subnets: new SubnetAllocator(store, runtime, settings.subnetPool, settings.subnetPrefix),
      plans: deps.plans,
      settings: {
        image: settings.image,
        port: settings.port,
        healthPath: settings.healthPath,
        idleTimeoutMs: settings.idleTimeoutMs,
        warmupTimeoutMs: settings.warmupTimeoutMs,
        stopGraceMs: settings.stopGraceMs,
        probe: { firstIntervalMs: settings.probeIntervalMs, maxIntervalMs: settings.probeMaxIntervalMs },
        extraEnv: settings.extraEnv,
        ...(settings.summaryUrl ? { summaryUrl: settings.summaryUrl } : {}),
      },
      log: deps.log,
      ...(deps.observer ? { observer: deps.observer } : {}),
      now: this.now,
    });
    this.watchdog = new TransitionWatchdog({
      store,
      states: this.states,
      log: deps.log,
      now: this.now,
      graceMs: settings.transitionGraceMs ?? settings.stopGraceMs + 30_000,
      inFlight: (userId) => {
        const wake = this.entries.get(userId)?.wake;
        return {
          busy: this.isBusy(userId),
          ...(wake ? { wake: { deadline: wake.deadline, aborted: wake.abort.signal.aborted } } : {}),
        };
      },
      abortWake: (userId, reason) => this.entries.get(userId)?.wake?.abort.abort(reason),
      abandonWake: (userId) => {
        const entry = this.entries.get(userId);
        if (entry) entry.wake = undefined;
        this.forget(userId);
      },
    });
  }

  /** Docker object names of a user's tenant. */
  namesFor(userId: string): TenantObjectNames {
    return this.ref(userId).names;
  }

  /** Starts waiting for a start slot (the start queue's length). */
  get queueLength(): number {
    return this.queue.length;
  }

  /** The gateway's view of a tenant, without waking it; a wake in flight says where it stands. */
  route(userId: string): TenantRoute {
    const tenant = this.deps.store.tenants.get(userId);
    if (!tenant) return { state: 'asleep' };
    const entry = this.entries.get(userId);
    if (entry?.pausing) return { state: 'paused' };
    // A failed wake still stopping its container has its answer: the record says it.
    if (entry?.wake && !entry.wake.decided) return this.pendingView(entry.wake);
    return routeOf(tenant, this.ref(userId).secret);
  }

  /** The live phase of the tenant's wake, when one is in flight. */
  phaseOf(userId: string): WakeProgress['phase'] | undefined {
    return this.entries.get(userId)?.wake?.progress.latest?.phase;
  }

  /**
   * Wakes the user's tenant. Concurrent calls share one attempt. Without `wait` the call answers
   * at once with where the wake stands (except for a paused tenant: its resume is awaited, it
   * takes tens of milliseconds); with it, when the tenant is ready or the attempt failed,
   * or after `timeoutMs` (default and cap: WARMUP_TIMEOUT) with 503 `SUP_ERR_WAKE_PENDING` and a
   * retry time while the wake goes on.
   */
  async wake(
    userId: string,
    options: { wait: boolean; actor?: string; timeoutMs?: number } = { wait: true },
  ): Promise<TenantRoute> {
    const { store } = this.deps;
    const user = store.users.get(userId);
    if (!user) throw errors.userNotFound();
    const actor = options.actor ?? 'gateway';
    if (user.disabled) {
      store.audit.append({
        actor,
        action: 'tenant.wake',
        target: userId,
        result: 'denied',
        detail: { reason: 'user disabled' },
      });
      throw errors.userDisabled();
    }
    const ref = this.ref(userId);
    let early: TenantRoute | undefined;
    try {
      early = await this.admit(ref, actor, options.wait);
    } finally {
      this.forget(userId);
    }
    if (early) return early;
    const attempt = this.entries.get(userId)?.wake;
    if (!attempt) return this.route(userId);
    // A resume takes tens of milliseconds: even a caller that would not wait gets its answer.
    if (!options.wait && !attempt.resume) return this.pendingView(attempt);
    const budget = Math.min(
      options.timeoutMs ?? this.deps.settings.warmupTimeoutMs,
      this.deps.settings.warmupTimeoutMs,
    );
    return this.waitFor(attempt, budget);
  }

  /**
   * Takes a start slot and begins the wake, unless the tenant runs or a wake is in flight.
   * Checking for room and taking the slot happen in one turn of the event loop: evicting a
   * tenant for room awaits, so after it the check is made again.
   */
  private async admit(ref: TenantRef, actor: string, wait: boolean): Promise<TenantRoute | undefined> {
    const { store, log } = this.deps;
    for (let evictions = 0; ; evictions++) {
      // A stop or pause in flight finishes first; the wake starts from where it left the tenant.
      const entry = await this.settled(ref.userId);
      if (entry.wake?.decided) {
        // A failed wake still stopping its container: a caller that does not wait hears how it
        // ended; for one that waits, a new wake begins once the clean-up is done.
        if (!wait) return this.route(ref.userId);
        await entry.wake.promise.catch(() => undefined);
        continue;
      }
      if (entry.wake) return undefined;
      const tenant = store.tenants.ensure(ref.userId, ref.hash);
      if (tenant.state === 'running') return routeOf(tenant, ref.secret);
      if (this.capacity.hasRoom(ref.userId)) {
        const { effects } = store.transaction(
          () => this.states.apply(ref.userId, { type: 'wake' }, { lastWakeStartedAt: this.now() }),
          { synced: false },
        );
        const resume = effects.some((effect) => effect.type === 'begin-resume');
        if (resume || effects.some((effect) => effect.type === 'begin-wake')) {
          const attempt = this.waker.begin(ref, resume, actor);
          entry.wake = attempt;
          void attempt.promise
            .catch(() => undefined)
            .finally(() => {
              if (entry.wake === attempt) entry.wake = undefined;
              this.forget(ref.userId);
            });
        }
        return undefined;
      }
      const victim = evictions < 3 ? this.capacity.victim(this.now(), (userId) => this.isBusy(userId)) : undefined;
      if (!victim) throw errors.capacityFull(undefined, { details: { retryAfterSeconds: 30 } });
      log.info({ userId: victim.userId, forUserId: ref.userId }, 'evicting tenant for capacity');
      await this.sleep(victim.userId, 'capacity');
    }
  }

  /** The tenant's entry once no stop or pause is in flight (they may forget the entry they had). */
  private async settled(userId: string): Promise<Entry> {
    for (;;) {
      const entry = this.entry(userId);
      const busy = entry.stopping ?? entry.pausing;
      if (!busy) return entry;
      await busy;
    }
  }

  /**
   * The attempt's result, or 503 `SUP_ERR_WAKE_PENDING` after `budgetMs` while it goes on. A
   * wake whose own budget ends about then (it started when the caller began waiting) is waited
   * for a little longer: every engine call is bounded, so it answers ready or failed by then.
   */
  private waitFor(attempt: WakeAttempt, budgetMs: number): Promise<TenantRoute> {
    return new Promise((resolve, reject) => {
      let extended = false;
      const pending = () => {
        const left = attempt.deadline === undefined ? Number.POSITIVE_INFINITY : attempt.deadline - this.now();
        if (left < OUTCOME_SLACK_MS && !extended) {
          extended = true;
          timer = setTimeout(pending, Math.max(0, left) + OUTCOME_SLACK_MS);
          return;
        }
        const { retryAfterSeconds, position } = this.pendingView(attempt);
        reject(
          errors.wakePending(
            position ? `your container is number ${position} in line to start` : 'your container is still starting',
            { details: { retryAfterSeconds: retryAfterSeconds ?? 2 } },
          ),
        );
      };
      let timer = setTimeout(pending, budgetMs);
      attempt.outcome.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  /** Where a wake in flight stands, with an honest guess of when asking again is worth it. */
  private pendingView(attempt: WakeAttempt): TenantRoute {
    const view: TenantRoute = { state: 'waking', phase: attempt.progress.latest?.phase ?? 'queued' };
    if (attempt.position !== undefined) view.position = attempt.position;
    const waitMs = this.queue.estimateWaitMs(attempt.position ?? 0) + this.queue.estimateWaitMs(1);
    view.retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    return view;
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

  /**
   * Puts a running tenant to sleep the cheapest way memory allows: paused (frozen, wakes in tens
   * of milliseconds) unless PAUSE_TIMEOUT is 0, else stopped.
   */
  async sleep(userId: string, reason: SleepReason, actor = 'system'): Promise<void> {
    if (this.deps.settings.pauseTimeoutMs > 0) return this.pause(userId, reason, actor);
    return this.stop(userId, reason, actor);
  }

  /** Freezes a running tenant: memory kept, no CPU, routes dropped. A no-op in any other state. */
  async pause(userId: string, reason: SleepReason, actor = 'system'): Promise<void> {
    const entry = this.entry(userId);
    if (entry.stopping || entry.pausing || entry.wake) {
      this.forget(userId);
      return;
    }
    const { changed, tenant } = this.states.apply(userId, { type: 'pause' });
    if (!changed) {
      this.forget(userId);
      return;
    }
    const ref = this.ref(userId);
    entry.pausing = this.deps.runtime
      .pause(ref.names)
      .then(
        () => {
          this.deps.store.audit.append({
            actor,
            action: 'tenant.pause',
            target: userId,
            result: 'ok',
            detail: { reason },
          });
          this.deps.observer?.paused?.(reason);
          this.deps.log.info({ userId, tenantId: tenant.tenantHash, reason }, 'tenant paused');
        },
        (err: unknown) => {
          this.states.apply(userId, { type: 'pause-failed' });
          this.deps.log.error({ userId, tenantId: tenant.tenantHash, err }, 'pausing tenant failed; it keeps running');
        },
      )
      .finally(() => {
        entry.pausing = undefined;
        this.forget(userId);
      });
    return entry.pausing;
  }

  /** Stops the user's tenant; idempotent. A wake in progress is cancelled first. */
  async stop(userId: string, reason: StopReason, actor = 'system'): Promise<void> {
    const current = this.entries.get(userId)?.stopping;
    if (current) return current;
    const entry = await this.settled(userId);
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
    await this.deps.runtime.remove(this.namesFor(userId), { volumes: true });
    this.deps.store.audit.append({ actor, action: 'tenant.delete', target: userId, result: 'ok' });
  }

  /** Records activity the gateway saw; moves idle deadlines forward only. */
  recordActivity(userId: string, at: number): void {
    this.recordActivities([{ userId, lastActivity: at }]);
  }

  /**
   * Records a gateway's batch of activity in one commit, not synced (a sync per user would cost
   * ~4 ms each, with hundreds of users per batch): a lost batch only moves idle deadlines back.
   */
  recordActivities(items: readonly { userId: string; lastActivity: number }[]): void {
    const { store, settings } = this.deps;
    const now = this.now();
    store.transaction(
      () => {
        // Activity from the future (clock skew) counts as now: it must not buy extra time.
        for (const item of items)
          store.tenants.touchActivity(item.userId, Math.min(item.lastActivity, now), settings.idleTimeoutMs);
      },
      { synced: false },
    );
  }

  /** Compares the store with the engine and fixes the store (never stops a running container). */
  reconcile(): Promise<void> {
    const { runtime, store, log, settings } = this.deps;
    return reconcile(
      {
        runtime,
        inspect: (tenantHash) => runtime.inspect(objectNames(settings.instance, tenantHash)),
        isHealthy: (endpointUrl) =>
          waitUntilHealthy(
            new URL(settings.healthPath, endpointUrl),
            { firstIntervalMs: settings.probeIntervalMs, maxIntervalMs: settings.probeMaxIntervalMs },
            AbortSignal.timeout(settings.warmupTimeoutMs),
          ).then(
            () => true,
            () => false,
          ),
        stopContainer: (tenantHash) => runtime.stop(objectNames(settings.instance, tenantHash), settings.stopGraceMs),
        store,
        states: this.states,
        log,
        idleTimeoutMs: settings.idleTimeoutMs,
        now: this.now,
      },
      (userId) => this.isBusy(userId),
    );
  }

  /** Starts the idle reaper and follows engine events. Call once after construction. */
  async start(): Promise<void> {
    await this.reconcile();
    // Adopted tenants keep running; peers re-created meanwhile need their networks back.
    await this.reattach();
    this.watchEngine();
    this.watchdogTimer = setInterval(() => {
      try {
        this.watchdog.check();
      } catch (err) {
        this.deps.log.error({ err }, 'transition watchdog failed');
      }
    }, this.deps.settings.reaperIntervalMs);
    this.watchdogTimer.unref();
    this.reaper = setInterval(() => {
      this.reap().catch((err: unknown) => this.deps.log.error({ err }, 'idle reaper failed'));
    }, this.deps.settings.reaperIntervalMs);
    this.reaper.unref();
  }

  /** Stops timers and the event stream; waits for operations in flight. Running tenants keep running. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    if (this.reaper) clearInterval(this.reaper);
    this.unwatch?.();
    const pending = [...this.entries.values()].flatMap((entry) => [entry.wake?.promise, entry.stopping, entry.pausing]);
    await Promise.allSettled(pending.filter(Boolean));
  }

  /**
   * The sleep schedule: running tenants past their idle deadline are paused (or stopped when
   * PAUSE_TIMEOUT is 0), paused ones past PAUSE_TIMEOUT are stopped, and while the host has less
   * memory available than MEMORY_RESERVE, paused tenants are stopped least recently active first.
   */
  async reap(): Promise<void> {
    const { settings, store } = this.deps;
    const now = this.now();
    const idle = listAll(store, 'running').filter(
      (tenant) => isIdle(tenant.idleDeadline, now) && !this.isBusy(tenant.userId),
    );
    const expired = listAll(store, 'paused').filter(
      (tenant) => isPauseOver(tenant.pausedAt, now, settings.pauseTimeoutMs) && !this.isBusy(tenant.userId),
    );
    await Promise.allSettled([
      ...idle.map((tenant) => this.sleep(tenant.userId, 'idle')),
      ...expired.map((tenant) => this.stop(tenant.userId, 'idle')),
    ]);
    await this.relieveMemory();
  }

  /** Stops paused tenants, least recently active first, until MEMORY_RESERVE is available again. */
  private async relieveMemory(): Promise<void> {
    const { settings, store, log } = this.deps;
    if (this.availableMemory() >= settings.memoryReserveBytes) return;
    const paused = byLeastRecentActivity(listAll(store, 'paused').filter((tenant) => !this.isBusy(tenant.userId)));
    for (const tenant of paused) {
      const available = this.availableMemory();
      if (available >= settings.memoryReserveBytes) return;
      log.info({ userId: tenant.userId, availableBytes: available }, 'memory low; stopping a paused tenant');
      await this.stop(tenant.userId, 'memory').catch((err: unknown) => log.error({ err }, 'stop for memory failed'));
    }
  }

  private ref(userId: string): TenantRef {
    const { namespaceKey, instance } = this.deps.settings;
    return tenantRef(namespaceKey, instance, userId);
  }

  private isBusy(userId: string): boolean {
    const entry = this.entries.get(userId);
    return (
      entry !== undefined && (entry.wake !== undefined || entry.stopping !== undefined || entry.pausing !== undefined)
    );
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
    if (!this.isBusy(userId)) this.entries.delete(userId);
  }

  private async runStop(userId: string, entry: Entry, reason: StopReason, actor: string): Promise<void> {
    const { store, runtime, settings, log } = this.deps;
    const before = store.tenants.get(userId);
    if (!before) return;
    const ref = this.ref(userId);
    const { effects, changed } = this.states.apply(userId, { type: 'stop', reason });
    if (!changed) return;

    if (effects.some((effect) => effect.type === 'cancel-wake') && entry.wake) {
      entry.wake.abort.abort(CANCELLED);
      await entry.wake.promise.catch(() => undefined);
    }
    if (effects.some((effect) => effect.type === 'stop-container')) {
      if (before.endpointUrl && (before.state === 'running' || before.state === 'paused')) {
        // The summary is read from the app itself, which must be thawed to answer.
        if (before.state === 'paused') await runtime.unpause(ref.names).catch(() => undefined);
        await this.collectSummary(ref, before.endpointUrl);
      }
      await runtime.stop(ref.names, settings.stopGraceMs).catch((err: unknown) => {
        log.error({ userId, err }, 'stopping tenant container failed');
      });
    }
    this.states.apply(userId, { type: 'stopped' }, { endpointUrl: null, stopReason: reason, stopDetail: null });
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
   * had: from the moment a stop or pause begins, or when the engine shows it gone. Returns unsubscribe.
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
    const { store, log } = this.deps;
    if (event.type === 'peer-start') {
      log.info({ containerId: event.containerId }, 'peer started; attaching it to tenant networks');
      void this.reattach();
      return;
    }
    if (event.type !== 'die' && event.type !== 'oom') return;
    const tenant = store.tenants.getByHash(event.tenantHash);
    if (!tenant) return;
    if (event.type === 'oom') {
      // The kernel killed a process of the tenant at its memory limit. The container keeps
      // running if that was not its main process; a following `die` records the stop.
      store.audit.append({ actor: 'system', action: 'tenant.oom', target: tenant.userId, result: 'error' });
      log.warn({ userId: tenant.userId, tenantId: tenant.tenantHash }, 'tenant hit its memory limit');
      return;
    }
    const entry = this.entries.get(tenant.userId);
    if (entry?.stopping || tenant.state === 'stopping') return;
    if (entry?.wake) {
      // The wake notices through its failing health probes; fail it now instead.
      entry.wake.abort.abort(new Error(`container exited with code ${event.exitCode ?? 'unknown'}`));
      return;
    }
    if (tenant.state !== 'running' && tenant.state !== 'paused') return;
    this.deps.runtime
      .inspect(this.namesFor(tenant.userId))
      .then((status) => {
        const oom = status?.oomKilled === true;
        const { changed } = this.states.apply(
          tenant.userId,
          { type: 'died', oom },
          {
            stopReason: oom ? 'oom' : 'crashed',
            stopDetail: `exit code ${event.exitCode ?? 'unknown'}`,
            endpointUrl: null,
          },
        );
        if (!changed) return;
        store.audit.append({
          actor: 'system',
          action: oom ? 'tenant.oom' : 'tenant.crashed',
          target: tenant.userId,
          result: 'error',
          detail: { exitCode: event.exitCode ?? null },
        });
        this.deps.observer?.stopped?.(oom ? 'oom' : 'crashed');
        log.warn({ userId: tenant.userId, exitCode: event.exitCode, oom }, 'tenant container died');
      })
      .catch((err: unknown) => log.error({ err }, 'handling container death failed'));
  }
}
