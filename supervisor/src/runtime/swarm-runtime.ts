import { isTenancyError } from '@tenancy/shared';
import Docker from 'dockerode';
import { errors } from '../errors.js';
import { specHash, tenantLabels } from './container-spec.js';
import { demuxLogs, eventTime, followEvents, ifStatus, parseEvent, pingWith, type RawEvent } from './docker-runtime.js';
import { callLimit, DEFAULT_ENGINE_TIMEOUTS, type EngineTimeouts, engineCall } from './engine-calls.js';
import { LABELS } from './labels.js';
import type { TenantObjectNames } from './names.js';
import { anchorName, attachPeersOnNode } from './swarm-attach.js';
import {
  anchorMemAvailable,
  type DebugLog,
  MEMORY_READING_MAX_AGE_MS,
  RecentReadings,
  swarmMemory,
} from './swarm-memory.js';
import {
  chooseNode,
  NODE_LABEL,
  type NodeCapacity,
  overlayOptions,
  type PinnedTenant,
  serviceSpec,
} from './swarm-spec.js';
import type { ContainerStatus, EnsureResult, RunningTenant, TenantRuntime } from './types.js';
import { archiveVolume, removeExportHelpers } from './volume-archive.js';

export interface SwarmRuntimeOptions {
  /** The engine of a manager node (the supervisor runs on one); by default DOCKER_HOST's. */
  docker?: Docker;
  /** TENANCY_INSTANCE: scopes names and labels. */
  instance: string;
  /** Extra labels for every object (TENANT_LABELS). */
  extraLabels?: Readonly<Record<string, string>>;
  /**
   * Services whose task containers are connected to every tenant network (the gateway, the
   * supervisor): TENANT_NETWORK_ATTACH in swarm mode.
   */
  attach?: readonly string[];
  /**
   * The engine of each node, by Swarm node id. A container can be connected to a network, paused
   * or have its volumes read only through the engine of the node it is on (the manager's API
   * cannot), and only node engines report container events: Swarm 20.10 has no task events.
   */
  nodeEngines: ReadonlyMap<string, Docker>;
  /** Port of the tenant app inside the container. */
  port: number;
  /** An image on every node with `node` in it (TENANT_IMAGE): anchors of new networks run it (swarm-attach.ts). */
  anchorImage: string;
  timeouts?: Partial<EngineTimeouts>;
  /** Where `memory` says which node's figure it could not read. */
  log?: DebugLog;
}

/** Swarm's view of a service, as far as we read it. */
interface ServiceInfo {
  ID: string;
  Version: { Index: number };
  Spec: {
    Labels?: Record<string, string>;
    Mode?: { Replicated?: { Replicas?: number } };
    TaskTemplate?: { ForceUpdate?: number } & Record<string, unknown>;
  } & Record<string, unknown>;
}

interface TaskInfo {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  DesiredState: string;
  CreatedAt?: string;
  Status: { State: string; Err?: string; ContainerStatus?: { ContainerID?: string; ExitCode?: number } };
  NetworksAttachments?: Array<{ Network: { Spec: { Name: string } }; Addresses?: string[] }>;
}

/** Task states after which a task never runs again. */
const ENDED = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove']);

/**
 * The Docker Swarm implementation of {@link TenantRuntime}: each tenant is a service of one
 * replica at most (0 asleep, 1 awake), pinned to the node chosen at its first wake, on its own
 * attachable overlay network. See docs/architecture.md, "Docker Swarm".
 */
export function createSwarmRuntime(options: SwarmRuntimeOptions): TenantRuntime {
  const docker = options.docker ?? new Docker();
  const extraLabels = options.extraLabels ?? {};
  const attach = options.attach ?? [];
  const { nodeEngines } = options;
  const instanceFilter = [`${LABELS.instance}=${options.instance}`, `${LABELS.role}=tenant`];
  const { callMs, startMs } = { ...DEFAULT_ENGINE_TIMEOUTS, ...options.timeouts };
  const quick = <T>(operation: string, call: (abortSignal: AbortSignal) => Promise<T>, signal?: AbortSignal) =>
    engineCall(operation, callLimit(callMs, signal), signal, call);

  const inspectService = (name: string, signal?: AbortSignal) =>
    quick(
      'service inspect',
      (abortSignal) => promised<ServiceInfo>(docker.getService(name).inspect({ abortSignal } as never)),
      signal,
    ).catch(ifStatus(404, undefined));

  const tasksOf = (name: string, signal?: AbortSignal) =>
    quick(
      'task list',
      (abortSignal) => promised<TaskInfo[]>(docker.listTasks({ filters: { service: [name] }, abortSignal } as never)),
      signal,
      // No such service: no tasks.
    ).catch(ifStatus(404, [] as TaskInfo[]));

  /** The task that runs or is about to: the newest one Swarm wants running. */
  const currentTask = (tasks: TaskInfo[]) =>
    tasks
      .filter((task) => task.DesiredState === 'running')
      .sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''))[0];

  const endpointOf = (task: TaskInfo, network: string) => {
    const address = task.NetworksAttachments?.find((a) => a.Network.Spec.Name === network)?.Addresses?.[0];
    return address ? `http://${address.split('/')[0]}:${options.port}` : undefined;
  };

  /** The engine of a node, or SUP_ERR_RUNTIME_UNAVAILABLE naming what needed it. */
  const engineOf = (nodeId: string | undefined, what: string) => {
    const engine = nodeId ? nodeEngines.get(nodeId) : undefined;
    if (!engine) throw errors.runtimeUnavailable(`${what} needs the engine of node ${nodeId ?? 'unknown'}`);
    return engine;
  };

  /** Updates a service to `spec` (Swarm wants the version it read, against lost updates). */
  const updateService = (info: ServiceInfo, spec: Record<string, unknown>, signal?: AbortSignal) =>
    quick(
      'service update',
      (abortSignal) =>
        docker
          .getService(info.ID)
          .update({ _query: { version: info.Version.Index }, _body: spec, abortSignal } as never),
      signal,
    );

  /** Throws SUP_ERR_NODE_UNAVAILABLE unless the node is ready and active. */
  async function requireNode(nodeId: string, signal?: AbortSignal): Promise<void> {
    const node = (await quick('node inspect', () => docker.getNode(nodeId).inspect(), signal).catch(
      ifStatus(404, undefined),
    )) as { Status?: { State?: string }; Spec?: { Availability?: string } } | undefined;
    const state = node?.Status?.State ?? 'removed from the swarm';
    const availability = node?.Spec?.Availability ?? 'none';
    if (state !== 'ready' || availability !== 'active') {
      throw errors.nodeUnavailable(`node ${nodeId} is ${state} (${availability})`);
    }
  }

  /** Nodes and what awake tenants reserve on each, for placement. */
  async function capacity(signal?: AbortSignal): Promise<{ nodes: NodeCapacity[]; tenants: PinnedTenant[] }> {
    const nodes = (await quick('node list', () => docker.listNodes(), signal)) as Array<{
      ID: string;
      Status?: { State?: string };
      Spec?: { Availability?: string };
      Description?: { Resources?: { MemoryBytes?: number } };
    }>;
    const services = (await quick(
      'service list',
      (abortSignal) =>
        promised<unknown>(docker.listServices({ filters: { label: instanceFilter }, abortSignal } as never)),
      signal,
    )) as unknown as ServiceInfo[];
    return {
      nodes: nodes.map((node) => ({
        id: node.ID,
        available: node.Status?.State === 'ready' && node.Spec?.Availability === 'active',
        memoryBytes: node.Description?.Resources?.MemoryBytes ?? 0,
      })),
      tenants: services.map((service) => {
        const awake = (service.Spec.Mode?.Replicated?.Replicas ?? 0) > 0;
        const limits = (service.Spec.TaskTemplate as { Resources?: { Limits?: { MemoryBytes?: number } } } | undefined)
          ?.Resources?.Limits;
        return {
          nodeId: service.Spec.Labels?.[NODE_LABEL] ?? '',
          reservedBytes: awake ? (limits?.MemoryBytes ?? 0) : 0,
        };
      }),
    };
  }

  /**
   * The node the tenant is pinned to; at its first wake, the one with most free memory, recorded
   * in a Swarm config object (`<name>-node`). The config outlives the service and network (both
   * are removed when a sleeping tenant's subnet is reclaimed): the tenant returns to the node
   * that holds its volumes. It goes only with the volumes.
   */
  async function pinnedNode(names: TenantObjectNames, labels: Record<string, string>, signal?: AbortSignal) {
    const configName = `${names.container}-node`;
    const existing = (await quick('config inspect', () => docker.getConfig(configName).inspect(), signal).catch(
      ifStatus(404, undefined),
    )) as { Spec?: { Data?: string } } | undefined;
    if (existing?.Spec?.Data) return Buffer.from(existing.Spec.Data, 'base64').toString('utf8');
    const { nodes, tenants } = await capacity(signal);
    const chosen = chooseNode(nodes, tenants);
    if (!chosen) throw errors.nodeUnavailable('no node of the swarm is ready and active');
    await quick(
      'config create',
      (abortSignal) =>
        docker.createConfig({
          Name: configName,
          Labels: labels,
          Data: Buffer.from(chosen).toString('base64'),
          abortSignal,
        } as never),
      signal,
    );
    return chosen;
  }

  /** Containers of the peer services running on one node's engine (label filters are ANDed: one call each). */
  async function peersOn(engine: Docker, signal?: AbortSignal): Promise<string[]> {
    const ids: string[] = [];
    for (const service of attach) {
      const containers = await quick(
        'container list',
        (abortSignal) =>
          engine.listContainers({ filters: { label: [`com.docker.swarm.service.name=${service}`] }, abortSignal }),
        signal,
      ).catch(() => []);
      ids.push(...containers.map((c) => c.Id));
    }
    return ids;
  }

  /**
   * Connects every peer on every node to the networks, through its node's engine (see
   * swarm-attach.ts). A node whose engine does not answer is skipped: its peers are down with it,
   * and the ones that start there later are attached by `reattach` on their start.
   */
  async function connectPeers(networkIds: string[], signal?: AbortSignal): Promise<void> {
    if (attach.length === 0) return;
    for (const engine of nodeEngines.values()) {
      await attachPeersOnNode({
        engine,
        services: attach,
        networks: networkIds,
        anchorImage: options.anchorImage,
        instance: options.instance,
        quick,
        signal,
      }).catch((err: unknown) => {
        if (!engineDown(err)) throw err;
      });
    }
  }

  async function ensureNetwork(
    spec: Parameters<TenantRuntime['ensure']>[0],
    labels: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<string> {
    const existing = (await quick(
      'network inspect',
      () => docker.getNetwork(spec.names.network).inspect(),
      signal,
    ).catch(ifStatus(404, undefined))) as { Id: string; Internal?: boolean } | undefined;
    if (existing && existing.Internal !== !spec.limits.egress) {
      // The plan's egress changed: Internal is fixed at creation. The service goes first (Swarm
      // refuses to remove a network in use); ensure makes it again.
      await removeService(spec.names.container, signal);
      await removeNetwork(spec.names.network, signal);
    } else if (existing) {
      return existing.Id;
    }
    await quick(
      'network create',
      (abortSignal) => docker.createNetwork({ ...overlayOptions(spec, labels), abortSignal } as never),
      signal,
    )
      .catch(ifStatus(409, undefined))
      .catch((err: unknown) => {
        if (/overlap/i.test(String((err as Error).message))) throw errors.subnetConflict(undefined, { cause: err });
        throw err;
      });
    // Its id, also when another wake made it meanwhile (409).
    const made = (await quick('network inspect', () => docker.getNetwork(spec.names.network).inspect(), signal)) as {
      Id: string;
    };
    return made.Id;
  }

  /** Removes the service and waits until its task containers are gone (they hold network and volumes). */
  async function removeService(name: string, signal?: AbortSignal): Promise<void> {
    const service = await inspectService(name, signal);
    if (!service) return;
    await quick(
      'service remove',
      (abortSignal) => promised<unknown>(docker.getService(service.ID).remove({ abortSignal } as never)),
      signal,
    ).catch(ifStatus(404, undefined));
    // The service is gone at once, its tasks once their node stopped them: followed by service id.
    await until(startMs, signal, async () => {
      const tasks = await quick(
        'task list',
        (abortSignal) => promised<TaskInfo[]>(docker.listTasks({ abortSignal } as never)),
        signal,
      );
      return !tasks.some((task) => task.ServiceID === service.ID && !ENDED.has(task.Status.State));
    });
  }

  /** Removes an overlay network, disconnecting the peers and the anchor first on their nodes. */
  async function removeNetwork(name: string, signal?: AbortSignal): Promise<void> {
    for (const engine of nodeEngines.values()) {
      for (const container of [...(await peersOn(engine, signal)), anchorName(options.instance)]) {
        await quick(
          'network disconnect',
          (abortSignal) => engine.getNetwork(name).disconnect({ Container: container, Force: true, abortSignal }),
          signal,
        ).catch(() => undefined);
      }
    }
    // Swarm frees a network a moment after its last task and attachment went: retried meanwhile.
    // An attachment on a node that is down (its anchor or peers, not disconnected above) holds
    // the network until that node returns: it is left then, rather than failing the removal of
    // the tenant (its subnet stays taken, which the allocator sees; `docker network rm` frees it).
    let left = false;
    await until(startMs, signal, async () =>
      quick('network remove', (abortSignal) => docker.getNetwork(name).remove({ abortSignal }), signal).then(
        () => true,
        async (err: { statusCode?: number; message?: string }) => {
          if (err.statusCode === 404) return true;
          if (err.statusCode === 403 || err.statusCode === 409) return false;
          if (err.statusCode === 400 && /in use by task/i.test(String(err.message))) {
            left = !(await allNodesReady(signal));
            return left;
          }
          throw err;
        },
      ),
    );
    if (left) return;
    // The manager deletes a network in the background: until it is gone its name stays taken, and
    // a network made again under it at once (a reclaimed tenant's next wake) met the old one
    // (its create answered 409, the old id then failed every attachment with NotFound; seen on
    // the lab about one run in three).
    await until(startMs, signal, async () =>
      quick('network inspect', () => docker.getNetwork(name).inspect(), signal).then(
        () => false,
        (err: { statusCode?: number }) => {
          if (err.statusCode === 404) return true;
          throw err;
        },
      ),
    );
  }

  async function allNodesReady(signal?: AbortSignal): Promise<boolean> {
    const { nodes } = await capacity(signal);
    return nodes.every((node) => node.available);
  }

  async function status(names: TenantObjectNames, signal?: AbortSignal): Promise<ContainerStatus | undefined> {
    const service = await inspectService(names.container, signal);
    if (!service) return undefined;
    const tasks = await tasksOf(names.container, signal);
    const task = currentTask(tasks) ?? latest(tasks);
    const base = statusOf(service, task, names.network, new Set());
    // Paused and killed-for-memory are the container's state on its node: Swarm reports
    // neither. Its node's engine does, while it answers (and keeps the container of an ended task).
    const engine = task?.NodeID ? nodeEngines.get(task.NodeID) : undefined;
    const id = task?.Status.ContainerStatus?.ContainerID;
    if (!engine || !id) return base;
    const info = await quick(
      'container inspect',
      (abortSignal) => engine.getContainer(id).inspect({ abortSignal }),
      signal,
    ).catch(() => undefined);
    if (!info) return base;
    return { ...base, paused: base.running && info.State.Paused === true, oomKilled: info.State.OOMKilled === true };
  }

  function statusOf(
    service: ServiceInfo,
    task: TaskInfo | undefined,
    network: string,
    paused: ReadonlySet<string>,
  ): ContainerStatus {
    const running = task?.Status.State === 'running' && task.DesiredState === 'running';
    const containerId = task?.Status.ContainerStatus?.ContainerID;
    return {
      containerId: containerId ?? service.ID,
      tenantHash: service.Spec.Labels?.[LABELS.tenant] ?? '',
      running,
      paused: running && containerId !== undefined && paused.has(containerId),
      exitCode: running ? undefined : task?.Status.ContainerStatus?.ExitCode,
      oomKilled: false,
      endpointUrl: running && task ? endpointOf(task, network) : undefined,
      node: service.Spec.Labels?.[NODE_LABEL],
    };
  }

  /**
   * Ids of the tenant containers paused on any node whose engine answers, one call per node: a
   * paused tenant found after a restart is adopted as paused, not as running (its requests would
   * hang on the frozen app).
   */
  async function pausedContainers(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const engine of nodeEngines.values()) {
      const containers = await quick('container list', (abortSignal) =>
        engine.listContainers({ filters: { label: instanceFilter, status: ['paused'] }, abortSignal }),
      ).catch(() => []);
      for (const container of containers) ids.add(container.Id);
    }
    return ids;
  }

  /** The container of the tenant's running task and its node's engine, or undefined when asleep. */
  async function runningContainer(names: TenantObjectNames) {
    const task = currentTask(await tasksOf(names.container));
    const id = task?.Status.ContainerStatus?.ContainerID;
    if (task?.Status.State !== 'running' || !id) return undefined;
    return engineOf(task.NodeID, 'pausing a tenant').getContainer(id);
  }

  // Each node's MemAvailable, read by an exec in its anchor; kept a little (see RecentReadings).
  const readings = new RecentReadings((nodeId) => {
    const engine = nodeEngines.get(nodeId);
    if (!engine) return Promise.reject(new Error('no engine known for the node'));
    return anchorMemAvailable(engine, options.instance, quick);
  }, MEMORY_READING_MAX_AGE_MS);

  const runtime: TenantRuntime = {
    capabilities: { pause: true, subnets: true },

    async ensure(spec, signal) {
      // Fail closed: egress needs the network filter on every node, which swarm mode lacks so far.
      if (spec.limits.egress) throw errors.egressUnavailable('the swarm runtime has no network filter yet');
      const labels = tenantLabels(options.instance, spec.tenantHash, extraLabels);
      const networkId = await ensureNetwork(spec, labels, signal);
      await connectPeers([networkId], signal);
      const nodeId = await pinnedNode(spec.names, labels, signal);
      const existing = await inspectService(spec.names.container, signal);
      if (existing) {
        const same =
          existing.Spec.Labels?.[LABELS.spec] === specHash(spec) && existing.Spec.Labels?.[NODE_LABEL] === nodeId;
        if (same) return { containerId: existing.ID, created: false } satisfies EnsureResult;
        // Outdated: made again, asleep. Volumes stay on the node.
        await removeService(spec.names.container, signal);
      }
      const created = (await quick(
        'service create',
        (abortSignal) => docker.createService({ ...serviceSpec(spec, labels, nodeId, 0), abortSignal } as never),
        signal,
      )) as { id?: string; ID?: string };
      return { containerId: created.ID ?? created.id ?? '', created: true };
    },

    async start(names, signal) {
      const service = await inspectService(names.container, signal);
      if (!service) throw errors.wakeFailed('the tenant has no service');
      await requireNode(service.Spec.Labels?.[NODE_LABEL] ?? '', signal);
      const replicas = service.Spec.Mode?.Replicated?.Replicas ?? 0;
      const task = currentTask(await tasksOf(names.container, signal));
      if (replicas === 0 || !task || ENDED.has(task.Status.State)) {
        // Scale to one, forced: with restart condition none, Swarm 20.10 sometimes counts the slot
        // of a task just removed by the scale-down as filled and makes no new task (measured);
        // a replica whose task ended (the app exited: Swarm never restarts it) needs the same.
        const template = service.Spec.TaskTemplate ?? {};
        const force = (template.ForceUpdate ?? 0) + 1;
        await updateService(
          service,
          { ...service.Spec, Mode: { Replicated: { Replicas: 1 } }, TaskTemplate: { ...template, ForceUpdate: force } },
          signal,
        );
      }
      let running: RunningTenant | undefined;
      await until(startMs, signal, async () => {
        const tasks = await tasksOf(names.container, signal);
        const current = currentTask(tasks);
        if (!current) return false;
        if (ENDED.has(current.Status.State)) {
          throw errors.wakeFailed(
            `the task ${current.Status.State}: ${current.Status.Err ?? `exit code ${current.Status.ContainerStatus?.ExitCode ?? 'unknown'}`}`,
          );
        }
        const endpointUrl = endpointOf(current, names.network);
        const containerId = current.Status.ContainerStatus?.ContainerID;
        if (current.Status.State !== 'running' || !endpointUrl || !containerId) return false;
        running = { containerId, endpointUrl };
        return true;
      });
      if (!running) throw errors.wakeFailed('the task did not start');
      return running;
    },

    async stop(names, graceMs) {
      const service = await inspectService(names.container);
      if (!service) return;
      // A frozen app would not see SIGTERM: thawed first, when its node's engine is known.
      const container = await runningContainer(names).catch(() => undefined);
      await container?.unpause().catch(() => undefined);
      if ((service.Spec.Mode?.Replicated?.Replicas ?? 0) > 0) {
        await updateService(service, { ...service.Spec, Mode: { Replicated: { Replicas: 0 } } });
      }
      // The node waits the grace time itself before it kills.
      // Scaled-down tasks are deleted once their container stopped: asleep when none is left.
      await until(graceMs + startMs, undefined, async () =>
        (await tasksOf(names.container)).every(
          (task) => ENDED.has(task.Status.State) && task.DesiredState !== 'running',
        ),
      );
    },

    async pause(names) {
      const container = await runningContainer(names);
      if (container) await quick('container pause', (abortSignal) => container.pause({ abortSignal }));
    },

    async unpause(names) {
      const container = await runningContainer(names);
      await container?.unpause().catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 409) throw err;
      });
    },

    async remove(names, { volumes }) {
      const service = await inspectService(names.container);
      const nodeId = service?.Spec.Labels?.[NODE_LABEL];
      await removeService(names.container);
      await removeNetwork(names.network);
      if (!volumes) return;
      const configName = `${names.container}-node`;
      const config = (await quick('config inspect', () => docker.getConfig(configName).inspect()).catch(
        ifStatus(404, undefined),
      )) as { Spec?: { Data?: string } } | undefined;
      const pinned =
        nodeId ?? (config?.Spec?.Data ? Buffer.from(config.Spec.Data, 'base64').toString('utf8') : undefined);
      if (pinned) {
        const engine = engineOf(pinned, 'removing a tenant’s volumes');
        for (const volume of [names.filesVolume, names.historyVolume]) {
          // The node removes the containers of the service's ended tasks in its own time; they
          // still hold the volume, and are of no use with the service gone.
          const holders = await quick('container list', (abortSignal) =>
            engine.listContainers({ all: true, filters: { volume: [volume], label: instanceFilter }, abortSignal }),
          );
          for (const holder of holders) {
            await engineCall('container remove', startMs, undefined, (abortSignal) =>
              engine.getContainer(holder.Id).remove({ force: true, abortSignal }),
            ).catch(ifStatus(404, undefined));
          }
          await quick('volume remove', (abortSignal) =>
            engine.getVolume(volume).remove({ force: true, abortSignal }),
          ).catch(ifStatus(404, undefined));
        }
      }
      // Last: the pin goes with the volumes it points at.
      await quick('config remove', (abortSignal) =>
        promised<unknown>(docker.getConfig(configName).remove({ abortSignal } as never)),
      ).catch(ifStatus(404, undefined));
    },

    async diskUsage() {
      // Per-tenant filesystems are a single-host feature so far.
      return undefined;
    },

    async archiveVolume(names, image, kind, hold) {
      const config = (await quick('config inspect', () => docker.getConfig(`${names.container}-node`).inspect()).catch(
        ifStatus(404, undefined),
      )) as { Spec?: { Data?: string } } | undefined;
      if (!config?.Spec?.Data) return undefined;
      const engine = engineOf(Buffer.from(config.Spec.Data, 'base64').toString('utf8'), 'exporting a tenant');
      return archiveVolume(
        { docker: engine, instance: options.instance, extraLabels, disks: undefined, callMs, startMs },
        names,
        image,
        kind,
        hold,
      );
    },

    async removeExportHelpers() {
      let removed = 0;
      for (const engine of nodeEngines.values()) {
        removed += await removeExportHelpers({
          docker: engine,
          instance: options.instance,
          extraLabels,
          disks: undefined,
          callMs,
          startMs,
        }).catch(() => 0);
      }
      return removed;
    },

    inspect(names) {
      return status(names);
    },

    async logs(names, tail) {
      const output = await quick('service logs', (abortSignal) =>
        promised<Buffer>(
          docker
            .getService(names.container)
            .logs({ stdout: true, stderr: true, tail, follow: false, abortSignal } as never),
        ),
      ).catch(ifStatus(404, undefined));
      if (output === undefined) throw errors.tenantNotFound('the tenant has no service');
      return demuxLogs(output);
    },

    async list() {
      const services = (await quick('service list', (abortSignal) =>
        promised<unknown>(docker.listServices({ filters: { label: instanceFilter }, abortSignal } as never)),
      )) as ServiceInfo[];
      const tasks = (await quick('task list', (abortSignal) =>
        promised<unknown>(docker.listTasks({ filters: { 'desired-state': ['running'] }, abortSignal } as never)),
      )) as TaskInfo[];
      const paused = await pausedContainers();
      return services.map((service) => {
        const name = (service.Spec as { Name?: string }).Name ?? '';
        const task = currentTask(tasks.filter((t) => t.ServiceID === service.ID));
        return statusOf(service, task, `${name}-net`, paused);
      });
    },

    /** Each ready and active node's memory and real `MemAvailable`, read on all at once (see swarm-memory.ts). */
    async memory(node) {
      const { nodes, tenants } = await capacity();
      return swarmMemory({
        nodes: node === undefined ? nodes : nodes.filter((entry) => entry.id === node),
        tenants,
        readAvailable: (nodeId) => readings.get(nodeId),
        log: options.log,
      });
    },

    async usedSubnets() {
      const networks = await quick('network list', (abortSignal) => docker.listNetworks({ abortSignal }));
      return networks.flatMap((network) => (network.IPAM?.Config ?? []).map((config) => config.Subnet ?? ''));
    },

    watch(onEvent, onError) {
      const streams: Array<() => void> = [];
      for (const engine of nodeEngines.values()) {
        streams.push(
          followEvents(
            engine,
            callMs,
            { type: ['container'], event: ['start', 'die', 'oom', 'destroy'], label: instanceFilter },
            (raw) => {
              const event = parseEvent(raw);
              if (event) onEvent(event);
            },
            onError,
          ),
        );
        for (const service of attach) {
          streams.push(
            followEvents(
              engine,
              callMs,
              { type: ['container'], event: ['start'], label: [`com.docker.swarm.service.name=${service}`] },
              (raw: RawEvent) =>
                onEvent({
                  type: 'peer-start',
                  tenantHash: '',
                  containerId: raw.id ?? '',
                  exitCode: undefined,
                  at: eventTime(raw),
                }),
              onError,
            ),
          );
        }
      }
      return () => {
        for (const close of streams) close();
      };
    },

    async reattach() {
      if (attach.length === 0) return;
      const networks = await quick('network list', (abortSignal) =>
        docker.listNetworks({ filters: { label: [`${LABELS.instance}=${options.instance}`] }, abortSignal }),
      );
      await connectPeers(networks.map((network) => network.Id));
    },

    async ping() {
      try {
        const info = (await quick('info', (abortSignal) =>
          promised<unknown>(docker.info({ abortSignal } as never)),
        )) as {
          Swarm?: { ControlAvailable?: boolean };
        };
        if (info.Swarm?.ControlAvailable !== true) {
          throw errors.runtimeUnavailable('the engine is not a manager of a swarm (TENANT_RUNTIME=swarm)');
        }
        await quick('ping', (abortSignal) => pingWith(docker, abortSignal));
      } catch (err) {
        if (isTenancyError(err)) throw err;
        throw errors.runtimeUnavailable(undefined, { cause: err });
      }
    },
  };
  // A tenant that starts, stops, pauses, thaws or goes changes its node's memory: the readings
  // kept are forgotten once it has, so the memory reserve sees what each stop gave back.
  const thenForget =
    <A extends unknown[], R>(operation: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await operation(...args);
      } finally {
        readings.forget();
      }
    };
  return {
    ...runtime,
    start: thenForget(runtime.start),
    stop: thenForget(runtime.stop),
    pause: thenForget(runtime.pause),
    unpause: thenForget(runtime.unpause),
    remove: thenForget(runtime.remove),
  };
}

/** A dockerode call's promise: its typings pick the callback overload for options they do not list. */
function promised<T>(result: unknown): Promise<T> {
  return result as Promise<T>;
}

/** True when an engine call failed because the engine does not answer at all (its node is down). */
function engineDown(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return (
    code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EHOSTUNREACH' || code === 'SUP_ERR_RUNTIME_UNAVAILABLE'
  );
}

function latest(tasks: TaskInfo[]): TaskInfo | undefined {
  return [...tasks].sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''))[0];
}

/**
 * Calls `check` until it returns true, every 100 ms: Swarm 20.10 reports task changes through no
 * event stream. Fails with SUP_ERR_RUNTIME_UNAVAILABLE after `ms` (or with the signal's reason).
 */
async function until(ms: number, signal: AbortSignal | undefined, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    signal?.throwIfAborted();
    if (await check()) return;
    if (!signal && Date.now() > deadline) {
      throw errors.runtimeUnavailable(`the swarm did not settle within ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
