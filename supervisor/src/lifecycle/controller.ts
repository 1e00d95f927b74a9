import type { StopReason, TenantRoute, WakeProgress } from '@tenancy/shared';
import type { FastifyBaseLogger } from 'fastify';
import { errors } from '../errors.js';
import type { PlanTable } from '../plans.js';
import { objectNames, type TenantObjectNames } from '../runtime/names.js';
import type { TenantRuntime } from '../runtime/types.js';
import { Capacity } from './capacity.js';
import { EngineEvents } from './engine-events.js';
import { InFlight } from './in-flight.js';
import type { LifecycleStore } from './ports.js';
import { waitUntilHealthy } from './readiness.js';
import { reconcile } from './reconciler.js';
import { SleepSchedule } from './sleep-schedule.js';
import { Sleeper, type SleepObserver, type SleepReason } from './sleeper.js';
import { StartQueue } from './start-queue.js';
import { SubnetAllocator } from './subnet-allocator.js';
import { type TenantRef, tenantRef } from './tenant-ref.js';
import { TenantStates } from './tenant-states.js';
import type { ProgressListener } from './wake-progress.js';
import { routeOf, type WakeAttempt, type WakeObserver, Waker } from './waker.js';
import { TransitionWatchdog } from './watchdog.js';

export type { SleepReason } from './sleeper.js';

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
  /**
   * Second stage of sleep: a paused tenant is stopped after this; 0 = stop at once, never pause.
   * Taken as 0 when the runtime cannot pause (`capabilities.pause`).
   */
  pauseTimeoutMs: number;
  /**
   * Paused tenants on a node are stopped early (least recently active first) while the node has
   * less memory available than this (the runtime's `memory`).
   */
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
export interface ControllerObserver extends WakeObserver, SleepObserver {}

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

/**
 * The one door to the lifecycle of every tenant, which the HTTP layer uses. It owns wakes
 * (single-flight, admitted through capacity and the start queue, waited for within a budget) and
 * wires the other concerns, each in its own module: the {@link Waker} performs wakes, the
 * {@link Sleeper} pauses and stops, the {@link SleepSchedule} decides when, {@link EngineEvents}
 * follows the engine and {@link reconcile} settles the store on it. The state machine (through
 * {@link TenantStates}) is the only code that sets a tenant's state.
 */
export class TenantController {
  private readonly inFlight = new InFlight();
  private readonly now: () => number;
  private readonly states: TenantStates;
  private readonly capacity: Capacity;
  private readonly queue: StartQueue;
  private readonly waker: Waker;
  private readonly sleeper: Sleeper;
  private readonly schedule: SleepSchedule;
  private readonly engine: EngineEvents;
  private readonly watchdog: TransitionWatchdog;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private readonly unrouteListeners = new Set<(userId: string) => void>();

  /** PAUSE_TIMEOUT as the runtime allows it: 0 when it cannot pause. */
  private readonly pauseTimeoutMs: number;

  constructor(private readonly deps: ControllerDeps) {
    const { settings, store, runtime, log, observer } = deps;
    this.now = deps.now ?? Date.now;
    const { capabilities } = runtime;
    this.pauseTimeoutMs = capabilities.pause ? settings.pauseTimeoutMs : 0;
    this.states = new TenantStates(store, (userId) => this.unroute(userId), this.now);
    this.capacity = new Capacity(store, {
      maxRunning: settings.maxRunning,
      policy: settings.capacityPolicy,
      evictMinIdleMs: settings.evictMinIdleMs,
    });
    this.queue = new StartQueue(settings.wakeConcurrency);
    const ref = (userId: string) => this.ref(userId);
    this.waker = new Waker({
      runtime,
      store,
      states: this.states,
      queue: this.queue,
      // A runtime that addresses tenants itself gets no subnet: TENANT_SUBNET_POOL is unused.
      ...(capabilities.subnets
        ? {
            subnets: new SubnetAllocator(store, runtime, settings.subnetPool, settings.subnetPrefix, () =>
              this.reclaimSubnet(),
            ),
          }
        : {}),
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
      log,
      ...(observer ? { observer } : {}),
      now: this.now,
    });
    this.sleeper = new Sleeper({
      runtime,
      store,
      states: this.states,
      inFlight: this.inFlight,
      ref,
      settings: {
        pauseTimeoutMs: this.pauseTimeoutMs,
        canPause: capabilities.pause,
        stopGraceMs: settings.stopGraceMs,
      },
      log,
      ...(observer ? { observer } : {}),
    });
    this.schedule = new SleepSchedule({
      store,
      sleeper: this.sleeper,
      inFlight: this.inFlight,
      settings: {
        pauseTimeoutMs: this.pauseTimeoutMs,
        memoryReserveBytes: settings.memoryReserveBytes,
        reaperIntervalMs: settings.reaperIntervalMs,
      },
      log,
      now: this.now,
      runtime,
    });
    this.engine = new EngineEvents({
      runtime,
      store,
      states: this.states,
      inFlight: this.inFlight,
      ref,
      reconcile: () => this.reconcile(),
      log,
      ...(observer ? { observer } : {}),
    });
    this.watchdog = new TransitionWatchdog({
      store,
      states: this.states,
      log,
      now: this.now,
      graceMs: settings.transitionGraceMs ?? settings.stopGraceMs + 30_000,
      inFlight: (userId) => {
        const wake = this.inFlight.get(userId)?.wake;
        return {
          busy: this.inFlight.isBusy(userId),
          ...(wake ? { wake: { deadline: wake.deadline, aborted: wake.abort.signal.aborted } } : {}),
        };
      },
      abortWake: (userId, reason) => this.inFlight.get(userId)?.wake?.abort.abort(reason),
      abandonWake: (userId) => {
        const entry = this.inFlight.get(userId);
        if (entry) entry.wake = undefined;
        this.inFlight.forget(userId);
      },
    });
  }

  /** Docker object names of a user's tenant. */
  namesFor(userId: string): TenantObjectNames {
    return this.ref(userId).names;
  }

  /** The limits the admin console shows: MAX_RUNNING_TENANTS, WAKE_CONCURRENCY and the start queue now. */
  get limits(): { maxRunning: number; wakeConcurrency: number; startQueue: number } {
    const { settings } = this.deps;
    return {
      maxRunning: settings.maxRunning,
      wakeConcurrency: settings.wakeConcurrency,
      startQueue: this.queue.length,
    };
  }

  /** Starts waiting for a start slot (the start queue's length). */
  get queueLength(): number {
    return this.queue.length;
  }

  /** The gateway's view of a tenant, without waking it; a wake in flight says where it stands. */
  route(userId: string): TenantRoute {
    const tenant = this.deps.store.tenants.get(userId);
    if (!tenant) return { state: 'asleep' };
    const entry = this.inFlight.get(userId);
    if (entry?.pausing) return { state: 'paused' };
    // A failed wake still stopping its container has its answer: the record says it.
    if (entry?.wake && !entry.wake.decided) return this.pendingView(entry.wake);
    return routeOf(tenant, this.ref(userId).secret);
  }

  /** The live phase of the tenant's wake, when one is in flight. */
  phaseOf(userId: string): WakeProgress['phase'] | undefined {
    return this.inFlight.get(userId)?.wake?.progress.latest?.phase;
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
    // An account its owner asked to delete stays asleep until it is restored or erased.
    if (user.deletionDueAt !== undefined) throw errors.deletionPending();
    const ref = this.ref(userId);
    let early: TenantRoute | undefined;
    try {
      early = await this.admit(ref, actor, options.wait);
    } finally {
      this.inFlight.forget(userId);
    }
    if (early) return early;
    const attempt = this.inFlight.get(userId)?.wake;
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
      const entry = await this.inFlight.settled(ref.userId);
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
              this.inFlight.forget(ref.userId);
            });
        }
        return undefined;
      }
      const victim =
        evictions < 3 ? this.capacity.victim(this.now(), (userId) => this.inFlight.isBusy(userId)) : undefined;
      if (!victim) throw errors.capacityFull(undefined, { details: { retryAfterSeconds: 30 } });
      log.info({ userId: victim.userId, forUserId: ref.userId }, 'evicting tenant for capacity');
      await this.sleeper.sleep(victim.userId, 'capacity');
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
    const attempt = this.inFlight.get(userId)?.wake;
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

  /** See {@link Sleeper.sleep}: paused unless PAUSE_TIMEOUT is 0 (or the runtime cannot pause), else stopped. */
  sleep(userId: string, reason: SleepReason, actor = 'system'): Promise<void> {
    return this.sleeper.sleep(userId, reason, actor);
  }

  /** See {@link Sleeper.pause}. */
  pause(userId: string, reason: SleepReason, actor = 'system'): Promise<void> {
    return this.sleeper.pause(userId, reason, actor);
  }

  /** See {@link Sleeper.stop}. */
  stop(userId: string, reason: StopReason, actor = 'system'): Promise<void> {
    return this.sleeper.stop(userId, reason, actor);
  }

  /**
   * Holds the tenant still while its volumes are read (an export), until the returned `release`
   * is called: no wake, sleep or stop of it runs meanwhile (each waits, or the reaper looks again
   * next pass), and a running tenant is frozen on the runtime for the time (its state stays
   * `running`; requests to it wait), so its SQLite database and WAL are read as of one moment,
   * never a database file from before a checkpoint beside a WAL from after it. On a runtime
   * that cannot pause, a running tenant is held but not frozen. `release` thaws what it froze
   * and can be called more than once.
   */
  async holdStill(userId: string): Promise<() => Promise<void>> {
    const { store, runtime, log } = this.deps;
    let entry = await this.inFlight.settled(userId);
    while (entry.wake) {
      // A wake in flight ends first: its container is read as the wake left it.
      await entry.wake.promise.catch(() => undefined);
      entry = await this.inFlight.settled(userId);
    }
    let released!: () => void;
    const holding = new Promise<void>((resolve) => {
      released = resolve;
    });
    entry.holding = holding;
    const names = this.namesFor(userId);
    let frozen = store.tenants.get(userId)?.state === 'running' && runtime.capabilities.pause;
    const end = () => {
      if (entry.holding === holding) entry.holding = undefined;
      released();
      this.inFlight.forget(userId);
    };
    if (frozen) {
      try {
        await runtime.pause(names);
      } catch (err) {
        // Not running after all (it died a moment ago; the engine's event is on its way) or
        // gone: nothing in it writes, so it is held without being frozen.
        const status = (err as { statusCode?: number }).statusCode;
        if (status !== 404 && status !== 409) {
          end();
          throw err;
        }
        frozen = false;
      }
    }
    let releasing: Promise<void> | undefined;
    return () => {
      releasing ??= (async () => {
        const thawed =
          !frozen ||
          (await runtime.unpause(names).then(
            () => true,
            (err: unknown) => {
              log.error({ userId, err }, 'thawing a tenant held for a read failed; stopping it');
              return false;
            },
          ));
        end();
        // A tenant left frozen would answer nobody while counted as running: stopped, its next
        // request wakes it afresh.
        if (!thawed) await this.stop(userId, 'crashed').catch(() => undefined);
      })();
      return releasing;
    };
  }

  /**
   * Frees the subnet of the least recently active sleeping tenant: its container and network are
   * removed, its volumes stay (its next wake makes both again, on another subnet, and finds its
   * data). The removal counts as a stop in flight, so a wake of that tenant meanwhile waits for
   * it. False when no sleeping tenant holds a subnet (or none is free to take).
   */
  private async reclaimSubnet(): Promise<boolean> {
    const { store, runtime, log } = this.deps;
    const victim = store.tenants.sleepersWithSubnets(16).find((tenant) => !this.inFlight.isBusy(tenant.userId));
    if (!victim) return false;
    const { userId } = victim;
    const entry = this.inFlight.entry(userId);
    const taking = (async () => {
      await runtime.remove(this.namesFor(userId), { volumes: false });
      store.tenants.update(userId, { subnet: null, networkName: null, containerId: null });
      store.audit.append({
        actor: 'system',
        action: 'tenant.network-released',
        target: userId,
        result: 'ok',
        detail: { subnet: victim.subnet },
      });
      log.info({ userId, tenantId: victim.tenantHash, subnet: victim.subnet }, 'subnet pool full: freed a sleeper');
    })();
    entry.stopping = taking;
    try {
      await taking;
      return true;
    } catch (err) {
      log.error({ userId, err }, 'freeing a sleeping tenant’s subnet failed');
      return false;
    } finally {
      entry.stopping = undefined;
      this.inFlight.forget(userId);
    }
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

  /** One pass of the sleep schedule (see {@link SleepSchedule.reap}); the reaper runs it on its own. */
  reap(): Promise<void> {
    return this.schedule.reap();
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
      (userId) => this.inFlight.isBusy(userId),
    );
  }

  /** Reconciles, follows engine events and starts the idle reaper. Call once after construction. */
  async start(): Promise<void> {
    if (this.pauseTimeoutMs !== this.deps.settings.pauseTimeoutMs) {
      this.deps.log.warn(
        { pauseTimeoutMs: this.deps.settings.pauseTimeoutMs },
        'the runtime cannot pause tenants: PAUSE_TIMEOUT taken as 0, idle tenants are stopped at once',
      );
    }
    await this.engine.attachPeers();
    await this.reconcile();
    this.engine.start();
    this.schedule.start();
    this.watchdogTimer = setInterval(() => {
      try {
        this.watchdog.check();
      } catch (err) {
        this.deps.log.error({ err }, 'transition watchdog failed');
      }
    }, this.deps.settings.reaperIntervalMs);
    this.watchdogTimer.unref();
  }

  /** Stops timers and the event stream; waits for operations in flight. Running tenants keep running. */
  async close(): Promise<void> {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    const scheduleStopped = this.schedule.stop();
    this.engine.close();
    await scheduleStopped;
    await Promise.allSettled(this.inFlight.pending());
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

  private ref(userId: string): TenantRef {
    const { namespaceKey, instance } = this.deps.settings;
    return tenantRef(namespaceKey, instance, userId);
  }
}
