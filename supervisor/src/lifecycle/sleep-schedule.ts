import type { FastifyBaseLogger } from 'fastify';
import type { NodeMemory, TenantRuntime } from '../runtime/types.js';
import { listAll } from './capacity.js';
import { byLeastRecentActivity, isIdle, isPauseOver } from './idle.js';
import type { InFlight } from './in-flight.js';
import type { LifecycleStore } from './ports.js';
import type { Sleeper } from './sleeper.js';

/** Settings of the sleep schedule; durations in milliseconds, memory in bytes. */
export interface SleepScheduleSettings {
  /** A paused tenant is stopped after this; 0: tenants are never paused. */
  pauseTimeoutMs: number;
  /** Paused tenants on a node are stopped early (least recently active first) while it has less memory available. */
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
  /** Each node's memory (`memory`), and where tenants are (`list`: their `node`). */
  runtime: Pick<TenantRuntime, 'memory' | 'list'>;
}

/**
 * When tenants sleep: running tenants past their idle deadline are paused (or stopped when
 * PAUSE_TIMEOUT is 0), paused ones past PAUSE_TIMEOUT are stopped, and while a node has less
 * memory available than MEMORY_RESERVE, the paused tenants on that node are stopped least
 * recently active first.
 * A reaper timer checks every REAPER_INTERVAL; tenants with an operation in flight are skipped
 * and looked at again next time.
 */
export class SleepSchedule {
  private reaper: NodeJS.Timeout | undefined;
  /** The timer's pass in flight: a tick during a slow pass is skipped, not run beside it. */
  private pass: Promise<void> | undefined;

  constructor(private readonly deps: SleepScheduleDeps) {}

  /**
   * Starts the reaper timer. It does not keep the process alive. Passes never overlap: two at
   * once would read every node's memory twice (an exec per node on a swarm) and could both pick
   * the same paused tenant to stop for memory.
   */
  start(): void {
    if (this.reaper) return;
    this.reaper = setInterval(() => {
      if (this.pass) return;
      this.pass = this.reap()
        .catch((err: unknown) => this.deps.log.error({ err }, 'idle reaper failed'))
        .finally(() => {
          this.pass = undefined;
        });
    }, this.deps.settings.reaperIntervalMs);
    this.reaper.unref();
  }

  /** Stops the reaper timer and waits for its pass in flight (sleeps it started go on). */
  async stop(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    this.reaper = undefined;
    await this.pass;
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

  /**
   * On each node with less than MEMORY_RESERVE available, stops the paused tenants on that node,
   * least recently active first, until the reserve is back: a paused tenant holds the memory of
   * its own node only.
   */
  private async relieveMemory(): Promise<void> {
    const { settings, store, inFlight, runtime, log } = this.deps;
    const reserve = settings.memoryReserveBytes;
    // Only paused tenants can be stopped for memory: without any, the runtime is not asked (on a
    // swarm, reading a node's memory costs an exec on that node).
    const paused = byLeastRecentActivity(listAll(store, 'paused').filter((tenant) => !inFlight.isBusy(tenant.userId)));
    if (paused.length === 0) return;
    const nodes = await runtime.memory();
    const short = nodes.filter((node) => node.availableBytes < reserve);
    if (short.length === 0) return;
    const nodeOf = await this.tenantNodes(nodes);
    for (const node of short) {
      const onNode = paused.filter((tenant) => nodeOf(tenant.tenantHash) === node.node);
      // One at a time, measuring again after each: every stop gives memory back.
      let available: number | undefined = node.availableBytes;
      for (const tenant of onNode) {
        if (available === undefined || available >= reserve) break;
        log.info(
          { userId: tenant.userId, node: node.node, availableBytes: available },
          'memory low; stopping a paused tenant',
        );
        await this.deps.sleeper
          .stop(tenant.userId, 'memory')
          .catch((err: unknown) => log.error({ err }, 'stop for memory failed'));
        available = (await runtime.memory(node.node))[0]?.availableBytes;
      }
    }
  }

  /**
   * The node of each tenant by its hash, from one `list` of the runtime; a tenant the runtime
   * places nowhere is on the only node when there is one (a runtime of one host may not say).
   */
  private async tenantNodes(nodes: readonly NodeMemory[]): Promise<(tenantHash: string) => string | undefined> {
    const where = new Map((await this.deps.runtime.list()).map((status) => [status.tenantHash, status.node]));
    const only = nodes.length === 1 ? nodes[0]?.node : undefined;
    return (tenantHash) => where.get(tenantHash) ?? only;
  }
}
