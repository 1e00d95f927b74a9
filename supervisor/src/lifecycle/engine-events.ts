import type { FastifyBaseLogger } from 'fastify';
import type { RuntimeEvent, TenantRuntime } from '../runtime/types.js';
import type { InFlight } from './in-flight.js';
import type { LifecycleStore } from './ports.js';
import type { SleepObserver } from './sleeper.js';
import type { TenantRef } from './tenant-ref.js';
import type { TenantStates } from './tenant-states.js';

/** Pause before following the engine again after its event stream was lost. */
const RECONNECT_MS = 1_000;

export interface EngineEventsDeps {
  runtime: TenantRuntime;
  store: LifecycleStore;
  states: TenantStates;
  inFlight: InFlight;
  /** The tenant's identity (names on the engine). */
  ref: (userId: string) => TenantRef;
  /** Settles the store on the engine's truth; run after a lost stream, whose events are gone. */
  reconcile: () => Promise<void>;
  log: FastifyBaseLogger;
  observer?: Pick<SleepObserver, 'stopped'>;
}

/**
 * Follows the engine's events: a tenant container that dies unasked is recorded as crashed or
 * OOM-killed (a wake in flight fails at once instead of after its probes), a memory-limit kill
 * inside a tenant is audited, and a gateway replica that starts again gets the tenant networks
 * back. A lost stream is followed again after {@link RECONNECT_MS}, with a reconcile for what
 * happened meanwhile.
 */
export class EngineEvents {
  private unwatch: (() => void) | undefined;
  private closed = false;

  constructor(private readonly deps: EngineEventsDeps) {}

  /**
   * Attaches the peers to the tenant networks: adopted tenants keep running, and peers re-created
   * meanwhile need their networks back. The supervisor is such a peer when it runs in a container
   * (compose, Swarm): this comes before the reconcile, whose health probes of half-woken tenants
   * would otherwise go to networks the new container is not on yet, fail for the whole wake
   * budget and hold the supervisor from listening.
   */
  async attachPeers(): Promise<void> {
    await this.reattach();
  }

  /** Follows the engine until {@link close}. */
  start(): void {
    this.watch();
  }

  close(): void {
    this.closed = true;
    this.unwatch?.();
  }

  private watch(): void {
    if (this.closed) return;
    const { runtime, log } = this.deps;
    this.unwatch = runtime.watch(
      (event) => this.onEvent(event),
      (err) => {
        log.warn({ err }, 'docker event stream lost; reconnecting');
        this.unwatch?.();
        setTimeout(() => {
          if (this.closed) return;
          this.watch();
          this.deps.reconcile().catch((error: unknown) => log.error({ err: error }, 'reconcile failed'));
        }, RECONNECT_MS).unref();
      },
    );
  }

  private async reattach(): Promise<void> {
    await this.deps.runtime
      .reattach()
      .catch((err: unknown) => this.deps.log.error({ err }, 'attaching peers to tenant networks failed'));
  }

  private onEvent(event: RuntimeEvent): void {
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
    const entry = this.deps.inFlight.get(tenant.userId);
    if (entry?.stopping || tenant.state === 'stopping') return;
    if (entry?.wake) {
      // The container's previous life ending, reported late (a hundred stops at once can put
      // the engine's events seconds behind): nothing to do with this wake, which must not fail.
      const launchedAt = entry.wake.launchedAt;
      if (launchedAt === undefined || event.at < launchedAt) {
        log.debug({ userId: tenant.userId, at: event.at, launchedAt }, 'ignoring a die from before this wake');
        return;
      }
      // The wake notices through its failing health probes; fail it now instead.
      entry.wake.abort.abort(new Error(`container exited with code ${event.exitCode ?? 'unknown'}`));
      return;
    }
    if (tenant.state !== 'running' && tenant.state !== 'paused') return;
    this.recordDeath(tenant.userId, event.exitCode).catch((err: unknown) =>
      log.error({ err }, 'handling container death failed'),
    );
  }

  /** Records an unasked stop; only an inspect says whether the kernel killed it for memory. */
  private async recordDeath(userId: string, exitCode: number | undefined): Promise<void> {
    const { runtime, states, store, log } = this.deps;
    const status = await runtime.inspect(this.deps.ref(userId).names);
    const oom = status?.oomKilled === true;
    const { changed } = states.apply(
      userId,
      { type: 'died', oom },
      { stopReason: oom ? 'oom' : 'crashed', stopDetail: `exit code ${exitCode ?? 'unknown'}`, endpointUrl: null },
    );
    if (!changed) return;
    store.audit.append({
      actor: 'system',
      action: oom ? 'tenant.oom' : 'tenant.crashed',
      target: userId,
      result: 'error',
      detail: { exitCode: exitCode ?? null },
    });
    this.deps.observer?.stopped?.(oom ? 'oom' : 'crashed');
    log.warn({ userId, exitCode, oom }, 'tenant container died');
  }
}
