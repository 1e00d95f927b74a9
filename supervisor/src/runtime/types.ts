import type { Readable } from 'node:stream';
import type { PlanLimits } from '../plans.js';
import type { TenantObjectNames } from './names.js';
import type { DiskUsage } from './tenant-disks.js';

/** A tenant's two volumes: its files, and its app's history (a SQLite database). */
export type VolumeKind = 'files' | 'history';

/**
 * Holds a tenant still for the read of a volume: called once the reader is ready, right before
 * the read begins; the function it resolves to is called as soon as the engine has sent the last
 * byte (or the read failed or was abandoned).
 */
export type ReadHold = () => Promise<() => Promise<void>>;

/**
 * The only way lifecycle code touches containers. The Docker implementation lives in
 * docker-runtime.ts; a Swarm or Kubernetes runtime implements the same interface. Every method
 * settles in bounded time: an engine that does not answer within a call's limit fails it with
 * SUP_ERR_RUNTIME_UNAVAILABLE (see engine-calls.ts), and a method given a signal fails with the
 * signal's reason as soon as it aborts. A signal carries its caller's deadline (a wake's
 * budget): calls made with one are bounded by it alone, not by the per-call limits as well.
 */
export interface TenantRuntime {
  /** What this runtime can do; the controller leaves out what it cannot (see {@link RuntimeCapabilities}). */
  readonly capabilities: Readonly<RuntimeCapabilities>;
  /**
   * Makes sure the tenant's network, both volumes and its container exist with the wanted spec,
   * creating what is missing; with disk quotas, the tenant's filesystem is mounted (again after
   * a reboot) and grown to the plan's size first. A container whose spec differs (new image, new limits) is removed
   * and created again; so is a network whose egress policy (`Internal`) is not the plan's, with
   * its container. Volume data is never lost here (a plain volume from before disk quotas
   * is copied onto the tenant's filesystem). Does not start anything.
   */
  ensure(spec: TenantSpec, signal?: AbortSignal): Promise<EnsureResult>;
  // Throws SUP_ERR_SUBNET_CONFLICT when the engine refuses the spec's subnet (another network
  // overlaps it): the caller reserves another and tries again.
  /** Starts the container (a no-op when it runs) and returns where it answers. */
  start(names: TenantObjectNames, signal?: AbortSignal): Promise<RunningTenant>;
  /**
   * SIGTERM, then SIGKILL after `graceMs`. Keeps the container for a fast next start. No-op when
   * stopped or missing; a paused container is unpaused first so its app can shut down cleanly.
   */
  stop(names: TenantObjectNames, graceMs: number): Promise<void>;
  /** Freezes every process of the container (cgroup freezer): memory kept, no CPU. */
  pause(names: TenantObjectNames): Promise<void>;
  /** Thaws a paused container; a no-op when it is not paused. */
  unpause(names: TenantObjectNames): Promise<void>;
  /**
   * Removes the container and network, and the volumes when asked (with the tenant's disk, the
   * filesystem that holds them). Missing objects are fine.
   */
  remove(names: TenantObjectNames, options: { volumes: boolean }): Promise<void>;
  /**
   * Size and use of the tenant's disk (the filesystem of its volumes, sized by the plan's
   * diskBytes); undefined when disks are not bounded or it is not mounted (after a host reboot,
   * until the next wake).
   */
  diskUsage(names: TenantObjectNames): Promise<DiskUsage | undefined>;
  /**
   * A tar stream of one of the tenant's volumes (entries `files/…` or `history/…`), read without
   * starting or touching the tenant's container, in any state; undefined when that volume does
   * not exist. `image` is one the engine has (the tenant image): the helper container that
   * mounts the volume is made from it and never started (see volume-archive.ts). `hold`, when
   * given, lasts exactly the read.
   */
  archiveVolume(
    names: TenantObjectNames,
    image: string,
    kind: VolumeKind,
    hold?: ReadHold,
  ): Promise<Readable | undefined>;
  /** Removes export helpers a crash left behind; returns how many. */
  removeExportHelpers(): Promise<number>;
  /** The container's current state, or undefined when it does not exist. */
  inspect(names: TenantObjectNames): Promise<ContainerStatus | undefined>;
  /** The last `tail` lines of the container's output. */
  logs(names: TenantObjectNames, tail: number): Promise<string>;
  /**
   * Every tenant container of this deployment, running or not, in one call to the engine:
   * `exitCode` and `oomKilled` are not filled in (ask `inspect` for them).
   */
  list(): Promise<ContainerStatus[]>;
  /** Subnets of every network on the engine, to avoid overlaps when allocating. */
  usedSubnets(): Promise<string[]>;
  /**
   * Memory of each node that runs tenants, one entry per node (one for a single host), the
   * nodes whose tenants the runtime can stop now: MEMORY_RESERVE is kept on each, and the default
   * MAX_RUNNING_TENANTS sums them. A tenant's `ContainerStatus.node` names its entry. `node`:
   * that node's entry only (none when it is not one of them), where reading a node costs.
   */
  memory(node?: string): Promise<NodeMemory[]>;
  /** Follows container events of this deployment until the returned function is called. */
  watch(onEvent: (event: RuntimeEvent) => void, onError: (err: Error) => void): () => void;
  /** Resolves when the engine answers. */
  ping(): Promise<void>;
  /**
   * Connects the configured peers (gateway replicas, the supervisor) to every tenant network of
   * this instance that lacks them. A no-op without peers (host mode).
   */
  reattach(): Promise<void>;
}

/** What a tenant container is made from. */
export interface TenantSpec {
  names: TenantObjectNames;
  tenantHash: string;
  image: string;
  limits: Readonly<PlanLimits>;
  /**
   * The tenant network's subnet (CIDR), from TENANT_SUBNET_POOL; absent when the runtime does
   * not give each tenant a network of its own (`capabilities.subnets` false).
   */
  subnet?: string;
  /** Environment of the tenant app (port, secret, ...). */
  env: Readonly<Record<string, string>>;
  port: number;
  stopGraceMs: number;
}

export interface EnsureResult {
  containerId: string;
  /** True when the container was created (first wake or re-created after a spec change). */
  created: boolean;
}

export interface RunningTenant {
  containerId: string;
  /** Base URL of the tenant app, for example `http://10.201.0.2:8080`. */
  endpointUrl: string;
}

export interface ContainerStatus {
  containerId: string;
  /** The tenant hash from the container's labels. */
  tenantHash: string;
  /** True while it runs, paused or not. */
  running: boolean;
  /** True while frozen by `pause`. */
  paused: boolean;
  /** Exit code of the last run, when stopped. */
  exitCode: number | undefined;
  oomKilled: boolean;
  /** Base URL of the app when running (paused included). */
  endpointUrl: string | undefined;
  /**
   * The node the container is on, or the one it is pinned to while asleep: the `node` of one of
   * `memory()`'s entries. Undefined when not known (a runtime of one host may leave it out).
   */
  node?: string;
}

/** What a runtime can do beyond the methods every runtime has. */
export interface RuntimeCapabilities {
  /**
   * Tenants can be frozen (`pause`/`unpause`), keeping their memory. Without it idle tenants are
   * stopped at once, as with PAUSE_TIMEOUT=0, and `pause`/`unpause` are never called.
   */
  pause: boolean;
  /**
   * Each tenant gets a network of its own on a subnet of TENANT_SUBNET_POOL, chosen by the
   * supervisor (`TenantSpec.subnet`, `usedSubnets`, SUP_ERR_SUBNET_CONFLICT). Without it the
   * runtime addresses tenants itself (a cluster's pod network) and the spec carries no subnet.
   */
  subnets: boolean;
}

/** Memory of one node, in bytes. */
export interface NodeMemory {
  /** The node's id, as `ContainerStatus.node` names it. */
  node: string;
  totalBytes: number;
  /** What the node can still give tenants (how it is measured is the runtime's; see each). */
  availableBytes: number;
}

/** A container event of this deployment. */
export interface RuntimeEvent {
  /**
   * A tenant container's `start`, `die`, `oom` or `destroy`; or `peer-start`: one of the
   * containers the runtime attaches to tenant networks (a gateway replica, the supervisor
   * itself) started, for example after being re-created, and lost its attachments.
   */
  type: 'start' | 'die' | 'oom' | 'destroy' | 'peer-start';
  tenantHash: string;
  containerId: string;
  /** Exit code on `die`. */
  exitCode: number | undefined;
  /** Event time, epoch milliseconds. */
  at: number;
}
