import { isTenancyError, type TenantRoute } from '@tenancy/shared';
import type { FastifyBaseLogger } from 'fastify';
import { errors } from '../errors.js';
import type { PlanTable } from '../plans.js';
import type { TenantRuntime, TenantSpec } from '../runtime/types.js';
import type { LifecycleStore, TenantRecord } from './ports.js';
import { type ProbeSettings, untilAborted, waitUntilHealthy } from './readiness.js';
import type { StartQueue } from './start-queue.js';
import type { SubnetAllocator } from './subnet-allocator.js';
import type { TenantRef } from './tenant-ref.js';
import type { TenantStates } from './tenant-states.js';
import { healthPercent, WakeProgressChannel } from './wake-progress.js';

/** Settings of a wake; durations in milliseconds. */
export interface WakeSettings {
  image: string;
  port: number;
  healthPath: string;
  idleTimeoutMs: number;
  /** Budget of one start once it has its slot: create, start, first healthy answer. */
  warmupTimeoutMs: number;
  stopGraceMs: number;
  probe: ProbeSettings;
  /** Extra environment for every tenant app (TENANT_ENV). */
  extraEnv: Readonly<Record<string, string>>;
  /** Where tenants push their usage summary, if anywhere (TENANT_SUMMARY_URL). */
  summaryUrl?: string;
}

/** Observers of wakes (metrics); optional. */
export interface WakeObserver {
  wakeFinished?(result: 'ok' | 'failed' | 'timeout' | 'cancelled', ms: number): void;
}

export interface WakerDeps {
  runtime: TenantRuntime;
  store: LifecycleStore;
  states: TenantStates;
  queue: StartQueue;
  /** Gives each tenant its subnet; absent when the runtime addresses tenants itself (`capabilities.subnets` false). */
  subnets?: SubnetAllocator;
  plans: PlanTable;
  settings: WakeSettings;
  log: FastifyBaseLogger;
  observer?: WakeObserver;
  now: () => number;
}

/** One wake in flight: every concurrent caller shares its promise and its progress. */
export interface WakeAttempt {
  ref: TenantRef;
  /** Settles when the attempt is over, the clean-up of a failed one (stopping its container) included. */
  promise: Promise<TenantRoute>;
  /**
   * The answer for callers: settles as soon as the wake is ready or has failed, before the
   * clean-up, which on a hung engine takes as long as its call timeouts allow.
   */
  outcome: Promise<TenantRoute>;
  /** True once `outcome` has settled: the tenant's record says how the wake ended. */
  decided: boolean;
  /** When the budget of the admitted wake runs out, epoch milliseconds; undefined while queued. */
  deadline: number | undefined;
  abort: AbortController;
  progress: WakeProgressChannel;
  /** Place in the start queue while waiting for a slot; undefined once admitted (or never queued). */
  position: number | undefined;
  /** A resume (thawing a paused tenant) rather than a start. */
  resume: boolean;
  /**
   * When this wake asked the engine to start (or thaw) the container, epoch milliseconds;
   * undefined before. A `die` the engine reports from before then belongs to the container's
   * previous life (a stop the engine reports late, as it does under load), not to this wake.
   */
  launchedAt: number | undefined;
}

/** Abort reason of a wake that a stop cancelled. */
export const CANCELLED = Symbol('wake cancelled by a stop');

/** How often the engine may refuse a freshly chosen subnet before the wake gives up. */
const SUBNET_TRIES = 3;

/**
 * Performs wakes. A start (the tenant was asleep or failed) waits its turn in the start queue,
 * then creates what is missing, starts the container and waits for its health; a resume (the
 * tenant was paused) only thaws it and checks its health, without queueing: it costs the host
 * almost nothing. Either way the tenant's state moves only through {@link TenantStates}.
 */
export class Waker {
  constructor(private readonly deps: WakerDeps) {}

  /** Begins a wake of the tenant; `resume` when it is paused. The state is already `waking`. */
  begin(ref: TenantRef, resume: boolean, actor: string): WakeAttempt {
    const abort = new AbortController();
    const progress = new WakeProgressChannel(this.deps.now());
    let decide!: (result: { route: TenantRoute } | { error: unknown }) => void;
    const outcome = new Promise<TenantRoute>((resolve, reject) => {
      decide = (result) => {
        if (attempt.decided) return;
        attempt.decided = true;
        if ('route' in result) resolve(result.route);
        else reject(result.error);
      };
    });
    const attempt: WakeAttempt = {
      ref,
      abort,
      progress,
      position: undefined,
      resume,
      promise: Promise.resolve({ state: 'waking' }),
      outcome,
      decided: false,
      deadline: undefined,
      launchedAt: undefined,
    };
    attempt.promise = this.run(attempt, resume, actor, decide);
    // Callers that did not wait still must not see an unhandled rejection.
    attempt.promise.catch(() => undefined);
    attempt.outcome.catch(() => undefined);
    return attempt;
  }

  private async run(
    attempt: WakeAttempt,
    resume: boolean,
    actor: string,
    decide: (result: { route: TenantRoute } | { error: unknown }) => void,
  ): Promise<TenantRoute> {
    const { store, states, log, settings } = this.deps;
    const { ref, abort, progress } = attempt;
    const startedAt = this.deps.now();
    let budget: AbortSignal | undefined;
    let created = false;
    try {
      let endpointUrl: string;
      if (resume) {
        budget = AbortSignal.timeout(settings.warmupTimeoutMs);
        attempt.deadline = this.deps.now() + settings.warmupTimeoutMs;
        endpointUrl = await this.resume(attempt, AbortSignal.any([abort.signal, budget]));
      } else {
        progress.emit('queued', startedAt);
        const release = await this.deps.queue.acquire(abort.signal, (position) => {
          attempt.position = position;
          progress.emit('queued', this.deps.now(), { position, message: `number ${position} in line to start` });
        });
        attempt.position = undefined;
        try {
          budget = AbortSignal.timeout(settings.warmupTimeoutMs);
          attempt.deadline = this.deps.now() + settings.warmupTimeoutMs;
          ({ endpointUrl, created } = await this.start(attempt, AbortSignal.any([abort.signal, budget])));
        } finally {
          release();
        }
      }

      // A stop may have cancelled the wake during the last probe.
      abort.signal.throwIfAborted();
      const readyAt = this.deps.now();
      const ms = readyAt - startedAt;
      // The bookkeeping of a ready tenant in one commit, not synced: on the way of the first byte.
      const tenant = store.transaction(
        () => {
          const before = store.tenants.get(ref.userId);
          states.apply(
            ref.userId,
            { type: 'ready' },
            {
              endpointUrl,
              stopReason: null,
              stopDetail: null,
              lastWakeReadyAt: readyAt,
              lastWakeMs: ms,
              wakeCount: (before?.wakeCount ?? 0) + 1,
            },
          );
          store.audit.append({
            actor,
            action: 'tenant.wake',
            target: ref.userId,
            result: 'ok',
            detail: { ms, resume },
          });
          return store.tenants.touchActivity(ref.userId, readyAt, settings.idleTimeoutMs) as TenantRecord;
        },
        { synced: false },
      );
      progress.emit('ready', readyAt);
      this.deps.observer?.wakeFinished?.('ok', ms);
      log.info({ userId: ref.userId, tenantId: ref.hash, ms, created, resume }, 'tenant ready');
      const route = routeOf(tenant, ref.secret);
      decide({ route });
      return route;
    } catch (err) {
      let failure: unknown;
      try {
        failure = await this.fail(attempt, err, startedAt, budget?.aborted === true, actor, decide);
      } catch (error) {
        failure = error;
      }
      // Whatever went wrong while recording the failure, the callers get an answer.
      decide({ error: failure });
      throw failure;
    }
  }

  /** Creates what is missing and starts the container; returns its endpoint once healthy. */
  private async start(attempt: WakeAttempt, signal: AbortSignal): Promise<{ endpointUrl: string; created: boolean }> {
    const { runtime, store, settings } = this.deps;
    const { ref } = attempt;
    this.phase(attempt, 'creating', signal);
    const user = store.users.get(ref.userId);
    const limits = this.deps.plans.limitsFor(user?.plan ?? 'free');
    const { subnets } = this.deps;
    let ensured: Awaited<ReturnType<TenantRuntime['ensure']>> | undefined;
    let subnet: string | undefined;
    const refused = new Set<string>();
    for (let tries = 1; !ensured; tries++) {
      subnet = subnets ? await untilAborted(subnets.subnetFor(ref.userId, refused), signal) : undefined;
      const spec: TenantSpec = {
        names: ref.names,
        tenantHash: ref.hash,
        image: settings.image,
        limits,
        ...(subnet ? { subnet } : {}),
        env: this.tenantEnv(ref),
        port: settings.port,
        stopGraceMs: settings.stopGraceMs,
      };
      try {
        ensured = await untilAborted(runtime.ensure(spec, signal), signal);
      } catch (err) {
        const conflict = isTenancyError(err) && err.code === errors.subnetConflict.code;
        if (!(subnets && subnet && conflict) || tries >= SUBNET_TRIES) throw err;
        this.deps.log.info({ userId: ref.userId, subnet }, 'subnet taken on the engine; picking another');
        subnets.release(ref.userId);
        refused.add(subnet);
      }
    }
    store.tenants.update(ref.userId, {
      containerId: ensured.containerId,
      networkName: ref.names.network,
      subnet: subnet ?? null,
    });

    this.phase(attempt, 'starting', signal);
    attempt.launchedAt = this.deps.now();
    const running = await untilAborted(runtime.start(ref.names, signal), signal);
    store.tenants.update(ref.userId, { containerId: running.containerId });

    this.phase(attempt, 'waiting-health', signal);
    await this.waitHealthy(attempt, running.endpointUrl, signal);
    return { endpointUrl: running.endpointUrl, created: ensured.created };
  }

  /** Thaws the paused container; returns its endpoint once healthy. */
  private async resume(attempt: WakeAttempt, signal: AbortSignal): Promise<string> {
    const { ref } = attempt;
    const endpointUrl = this.deps.store.tenants.get(ref.userId)?.endpointUrl;
    if (!endpointUrl) throw errors.wakeFailed('the paused tenant has no recorded endpoint');
    this.phase(attempt, 'starting', signal);
    attempt.launchedAt = this.deps.now();
    await untilAborted(this.deps.runtime.unpause(ref.names), signal);
    this.phase(attempt, 'waiting-health', signal);
    await this.waitHealthy(attempt, endpointUrl, signal);
    return endpointUrl;
  }

  private phase(attempt: WakeAttempt, name: 'creating' | 'starting' | 'waiting-health', signal: AbortSignal): void {
    signal.throwIfAborted();
    attempt.progress.emit(name, this.deps.now());
  }

  private async waitHealthy(attempt: WakeAttempt, endpointUrl: string, signal: AbortSignal): Promise<void> {
    const { settings } = this.deps;
    const startedAt = this.deps.now();
    await waitUntilHealthy(new URL(settings.healthPath, endpointUrl), settings.probe, signal, (failed) => {
      // A sign of life now and then while the app boots, not one per probe.
      if (failed % 4 === 0) {
        const percent = healthPercent(this.deps.now() - startedAt, settings.warmupTimeoutMs);
        attempt.progress.emit('waiting-health', this.deps.now(), { percent });
      }
    });
  }

  /**
   * Records a failed wake and tells the callers and followers, then stops what it started;
   * returns the error to throw. The answer comes first: the stop is bounded by the engine's call
   * timeouts but may take them all on a hung engine, and the record already says `failed`.
   */
  private async fail(
    attempt: WakeAttempt,
    err: unknown,
    startedAt: number,
    timedOut: boolean,
    actor: string,
    decide: (result: { error: unknown }) => void,
  ) {
    const { store, states, log, settings, runtime } = this.deps;
    const { ref, abort, progress } = attempt;
    const ms = this.deps.now() - startedAt;
    if (abort.signal.aborted && abort.signal.reason === CANCELLED) {
      progress.emit('failed', this.deps.now(), { code: errors.wakeCancelled.code, message: 'stopped while waking' });
      this.deps.observer?.wakeFinished?.('cancelled', ms);
      const cancelled = errors.wakeCancelled();
      decide({ error: cancelled });
      return cancelled;
    }
    const failure = timedOut
      ? errors.wakeTimeout(`the tenant did not become ready within ${settings.warmupTimeoutMs} ms`, {
          details: { retryAfterSeconds: Math.max(1, Math.ceil(this.deps.queue.estimateWaitMs(1) / 1000)) },
        })
      : isTenancyError(err) && err.code === errors.subnetPoolExhausted.code
        ? err
        : errors.wakeFailed(isTenancyError(err) ? err.message : 'the tenant failed to start', { cause: err });
    log.warn({ userId: ref.userId, tenantId: ref.hash, ms, err }, 'tenant wake failed');
    const before = store.tenants.get(ref.userId);
    const { effects } = states.apply(
      ref.userId,
      { type: 'wake-failed', timedOut },
      {
        stopReason: 'failed-start',
        stopDetail: failure.message,
        endpointUrl: null,
        failureCount: (before?.failureCount ?? 0) + 1,
      },
    );
    progress.emit('failed', this.deps.now(), { code: failure.code, message: failure.message });
    store.audit.append({
      actor,
      action: 'tenant.wake',
      target: ref.userId,
      result: 'error',
      detail: { code: failure.code, message: failure.message, ms },
    });
    this.deps.observer?.wakeFinished?.(timedOut ? 'timeout' : 'failed', ms);
    decide({ error: failure });
    if (effects.some((effect) => effect.type === 'stop-container')) {
      await runtime.stop(ref.names, settings.stopGraceMs).catch((error: unknown) => {
        log.error({ userId: ref.userId, err: error }, 'stopping tenant container failed');
      });
    }
    return failure;
  }

  /**
   * The tenant app's environment: the operator's extra variables, then what the platform sets
   * (which always wins): the port, the secret and, when TENANT_SUMMARY_URL is set, where and
   * with which token to push their usage summary.
   */
  private tenantEnv(ref: TenantRef): Record<string, string> {
    const { settings } = this.deps;
    return {
      ...settings.extraEnv,
      PORT: String(settings.port),
      TENANT_SECRET: ref.secret,
      ...(settings.summaryUrl
        ? {
            SUMMARY_URL: `${settings.summaryUrl.replace(/\/+$/, '')}/v1/tenants/${encodeURIComponent(ref.userId)}/summary`,
            SUMMARY_TOKEN: ref.summaryToken,
          }
        : {}),
    };
  }
}

/** The gateway's view of a tenant record. */
export function routeOf(tenant: TenantRecord, secret: string): TenantRoute {
  const route: TenantRoute = { state: tenant.state };
  if (tenant.state === 'running' && tenant.endpointUrl) route.endpoint = { url: tenant.endpointUrl, secret };
  if (tenant.idleDeadline !== null && tenant.state === 'running') route.idleDeadline = tenant.idleDeadline;
  return route;
}
