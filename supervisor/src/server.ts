import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { ConfigError, formatCidr, isTenancyError, loggerOptions, parseCidr } from '@tenancy/shared';
import Docker from 'dockerode';
import { type Logger, pino } from 'pino';
import { AccountDeletion } from './accounts/account-deletion.js';
import { InactiveAccounts, inactivityPolicy } from './accounts/inactive-accounts.js';
import { buildApp } from './app.js';
import { loadSupervisorConfig, type SupervisorConfig } from './config.js';
import { createMetrics, diskSampler } from './http/metrics.js';
import { UserChanges } from './http/user-changes.js';
import { TenantController } from './lifecycle/controller.js';
import { createPlanTable } from './plans.js';
import { createDockerRuntime } from './runtime/docker-runtime.js';
import { parseExtraLabels } from './runtime/labels.js';
import { createIptablesNetworkFilter, type NetworkFilter } from './runtime/network-filter.js';
import { type NodeEngineAddress, nodeEngineClient, parseNodeEngines } from './runtime/node-engines.js';
import { openTenantDisks } from './runtime/open-disks.js';
import { createSwarmRuntime } from './runtime/swarm-runtime.js';
import type { TenantRuntime } from './runtime/types.js';
import { createStore, openDatabase } from './store/index.js';
import { parseTenantEnv } from './tenant-env.js';

/** Starts the supervisor process: config, store, runtime, controller, HTTP; stops cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: Readonly<SupervisorConfig>;
  let plans: ReturnType<typeof createPlanTable>;
  let extraLabels: Record<string, string>;
  let extraEnv: Readonly<Record<string, string>>;
  let egressDenied: string[];
  let nodeEngines: NodeEngineAddress[];
  try {
    config = loadSupervisorConfig(process.env);
    // Values with a syntax of their own (JSON, label lists) are configuration too: a mistake in
    // them is a configuration error, reported the same way.
    plans = createPlanTable(config.PLANS);
    extraLabels = parseExtraLabels(config.TENANT_LABELS);
    extraEnv = parseTenantEnv(config.TENANT_ENV);
    if (config.TENANT_RUNTIME === 'swarm' && !config.UNSAFE_TENANT_DISK_UNBOUNDED) {
      // Fail closed: per-tenant filesystems are a single-host feature so far.
      throw new RangeError(
        'TENANT_RUNTIME=swarm has no disk quotas yet: set UNSAFE_TENANT_DISK_UNBOUNDED=true to run with unbounded tenant volumes',
      );
    }
    nodeEngines = parseNodeEngines(config.SWARM_NODE_ENGINES);
    egressDenied = config.EGRESS_DENY.split(',')
      .filter((block) => block.trim() !== '')
      .map((block) => formatCidr(parseCidr(block)));
  } catch (err) {
    if (err instanceof ConfigError || err instanceof RangeError || isTenancyError(err)) {
      console.error((err as Error).message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const log = pino(loggerOptions('supervisor', config.LOG_LEVEL));

  mkdirSync(dirname(config.DATABASE_PATH), { recursive: true });
  const attach = config.TENANT_NETWORK_ATTACH.split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const swarm = config.TENANT_RUNTIME === 'swarm';
  // Swarm tenants sit on overlays that give no host an address; egress tenants are refused there
  // until the filter runs on every node (swarm-runtime.ts): this host's filter is not theirs.
  const networkFilter = swarm
    ? undefined
    : await installNetworkFilter(config, plans.withEgress(), egressDenied, attach.length === 0, log);

  const store = createStore(openDatabase(config.DATABASE_PATH));
  let disks: Awaited<ReturnType<typeof openTenantDisks>>;
  try {
    // Swarm: none yet (refused above unless UNSAFE_TENANT_DISK_UNBOUNDED).
    disks = swarm
      ? undefined
      : await openTenantDisks({
          dir: config.TENANT_DISK_DIR,
          helperImage: config.TENANT_DISK_HELPER_IMAGE,
          unsafeUnbounded: config.UNSAFE_TENANT_DISK_UNBOUNDED,
          instance: config.TENANCY_INSTANCE,
          extraLabels,
          log,
        });
  } catch (err) {
    // Not an ordinary failure to start: the host lacks what the configuration demands.
    log.fatal({ err }, 'tenant disk quotas unavailable');
    console.error((err as Error).message);
    process.exit(78); // EX_CONFIG
  }
  const timeouts = { callMs: config.DOCKER_TIMEOUT, startMs: config.DOCKER_START_TIMEOUT };
  const runtime = swarm
    ? await swarmRuntime(config, nodeEngines, { instance: config.TENANCY_INSTANCE, extraLabels, attach, timeouts, log })
    : createDockerRuntime({
        instance: config.TENANCY_INSTANCE,
        extraLabels,
        attach,
        port: config.TENANT_PORT,
        timeouts,
        ...(networkFilter ? { networkFilter } : {}),
        ...(disks ? { disks } : {}),
      });
  // Before anything asks the runtime more (the default MAX_RUNNING_TENANTS reads its memory): an
  // engine that is down, or no swarm manager in swarm mode, is said as such.
  await runtime.ping();
  // The controller exists by the time metrics are collected.
  const metrics = createMetrics(
    () => store.tenants.countByState(),
    () => controller.queueLength,
    diskSampler(store.tenants, (userId) => runtime.diskUsage(controller.namesFor(userId))),
  );
  const controller = new TenantController({
    runtime,
    store,
    plans,
    log,
    observer: metrics.observer,
    settings: {
      namespaceKey: config.TENANT_NAMESPACE_KEY,
      instance: config.TENANCY_INSTANCE,
      image: config.TENANT_IMAGE,
      port: config.TENANT_PORT,
      healthPath: config.TENANT_HEALTH_PATH,
      subnetPool: config.TENANT_SUBNET_POOL,
      subnetPrefix: config.TENANT_SUBNET_PREFIX,
      idleTimeoutMs: config.IDLE_TIMEOUT,
      pauseTimeoutMs: config.PAUSE_TIMEOUT,
      memoryReserveBytes: config.MEMORY_RESERVE,
      warmupTimeoutMs: config.WARMUP_TIMEOUT,
      stopGraceMs: config.STOP_GRACE,
      probeIntervalMs: config.HEALTH_PROBE_INTERVAL,
      probeMaxIntervalMs: config.HEALTH_PROBE_MAX_INTERVAL,
      reaperIntervalMs: config.REAPER_INTERVAL,
      maxRunning: config.MAX_RUNNING_TENANTS || (await defaultMaxRunning(runtime)),
      wakeConcurrency: config.WAKE_CONCURRENCY || 2 * availableParallelism(),
      capacityPolicy: config.CAPACITY_POLICY,
      evictMinIdleMs: config.EVICT_MIN_IDLE,
      extraEnv,
      // A failed wake's clean-up: a thaw and a stop, each a call, the stop with its grace.
      transitionGraceMs: config.STOP_GRACE + 3 * config.DOCKER_TIMEOUT,
      ...(config.TENANT_SUMMARY_URL ? { summaryUrl: config.TENANT_SUMMARY_URL } : {}),
    },
  });

  await controller.start();
  const removed = await runtime.removeExportHelpers();
  if (removed > 0) log.info({ removed }, 'removed export helpers left by a crash');
  const users = new UserChanges();
  const deletion = new AccountDeletion({
    store,
    controller,
    users,
    namespaceKey: config.TENANT_NAMESPACE_KEY,
    graceMs: config.DELETION_GRACE,
    intervalMs: config.REAPER_INTERVAL,
    log,
  });
  // The inactivity policy asks for deletions in the reaper's own passes, never beside them.
  const policy = inactivityPolicy(config.INACTIVE_TENANT_DAYS, config.INACTIVE_WARNING_DAYS);
  const inactive = policy && new InactiveAccounts({ store, deletion, policy, log });
  deletion.start(inactive ? () => inactive.sweep() : undefined);
  const app = await buildApp(config, { store, runtime, controller, plans, metrics, users, deletion, logger: log });
  await app.listen({ host: config.SUPERVISOR_HOST, port: config.SUPERVISOR_PORT });

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'supervisor stopping; tenants keep running');
    await app.close();
    await deletion.close();
    await controller.close();
    store.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

/**
 * MAX_RUNNING_TENANTS when not set: sized from the memory of every node the runtime has now
 * (idle tenants use ~25 MiB, busy ones more), at least 10.
 */
async function defaultMaxRunning(runtime: TenantRuntime): Promise<number> {
  const totalBytes = (await runtime.memory()).reduce((sum, node) => sum + node.totalBytes, 0);
  return Math.max(10, Math.floor(totalBytes / (96 * 1024 ** 2)));
}

/**
 * Installs the network filter where tenants need it, or exits saying why it cannot be: tenants
 * with egress always need it (fail closed); tenants without egress need it in host mode
 * (`hostOnBridge`), where the host has an address on their bridges, unless the operator accepts
 * the risk with UNSAFE_TENANT_HOST_REACHABLE. With peers attached to tenant networks (compose)
 * and no egress, the bridges give the host no address, and no filter is needed.
 */
/**
 * The Swarm runtime on the manager at DOCKER_HOST, with the engine of each node: the manager's
 * own (its node id asked from it) and SWARM_NODE_ENGINES.
 */
async function swarmRuntime(
  config: Readonly<SupervisorConfig>,
  addresses: readonly NodeEngineAddress[],
  options: {
    instance: string;
    extraLabels: Record<string, string>;
    attach: string[];
    timeouts: { callMs: number; startMs: number };
    log: Logger;
  },
): Promise<TenantRuntime> {
  const manager = new Docker();
  const info = (await manager.info()) as { Swarm?: { NodeID?: string } };
  const engines = new Map<string, Docker>();
  if (info.Swarm?.NodeID) engines.set(info.Swarm.NodeID, manager);
  for (const address of addresses) engines.set(address.nodeId, nodeEngineClient(address, config.SWARM_NODE_TLS_DIR));
  return createSwarmRuntime({
    ...options,
    docker: manager,
    nodeEngines: engines,
    port: config.TENANT_PORT,
    anchorImage: config.TENANT_IMAGE,
  });
}

async function installNetworkFilter(
  config: Readonly<SupervisorConfig>,
  egressPlans: readonly string[],
  egressDenied: readonly string[],
  hostOnBridge: boolean,
  log: Logger,
): Promise<NetworkFilter | undefined> {
  if (egressPlans.length === 0 && !hostOnBridge) return undefined;
  const filter = createIptablesNetworkFilter({ instance: config.TENANCY_INSTANCE, extraDenied: egressDenied });
  try {
    await filter.ensure();
    return filter;
  } catch (err) {
    const why = (err as Error).message;
    if (egressPlans.length > 0) {
      console.error(
        `PLANS grants egress (${egressPlans.join(', ')}), but ${why}. Egress needs the supervisor ` +
          'in the host network namespace with iptables and root (host mode; see docs/security.md#egress); ' +
          'otherwise remove egress from PLANS.',
      );
    } else if (config.UNSAFE_TENANT_HOST_REACHABLE) {
      log.warn(
        { reason: why },
        "UNSAFE_TENANT_HOST_REACHABLE: running without the network filter; every tenant can reach each service listening on all of this host's addresses",
      );
      return undefined;
    } else {
      console.error(
        `${why}. In host mode the supervisor keeps tenants off the host's own addresses with iptables, ` +
          'which needs root in the host network namespace (see docs/security.md#the-host). ' +
          'For development only, UNSAFE_TENANT_HOST_REACHABLE=true runs without it.',
      );
    }
    process.exit(78); // EX_CONFIG
  }
}

main().catch((err: unknown) => {
  console.error('supervisor failed to start:', err);
  process.exit(1);
});
