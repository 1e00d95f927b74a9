import type { Readable } from 'node:stream';
import { isTenancyError } from '@tenancy/shared';
import Docker from 'dockerode';
import { errors } from '../errors.js';
import { containerOptions, networkFollowsPlan, networkOptions, specHash, tenantLabels } from './container-spec.js';
import { callLimit, DEFAULT_ENGINE_TIMEOUTS, type EngineTimeouts, engineCall } from './engine-calls.js';
import { hostMemory, LOCAL_NODE } from './host-memory.js';
import { LABELS } from './labels.js';
import { type NetworkFilter, tenantBridgeName } from './network-filter.js';
import type { TenantDisks } from './tenant-disks.js';
import type { ContainerStatus, EnsureResult, RunningTenant, RuntimeEvent, TenantRuntime, TenantSpec } from './types.js';
import { archiveVolume, removeExportHelpers } from './volume-archive.js';

export interface DockerRuntimeOptions {
  /** dockerode client; by default the engine at DOCKER_HOST or the default socket. */
  docker?: Docker;
  /** TENANCY_INSTANCE: scopes names and labels. */
  instance: string;
  /** Extra labels for every object (TENANT_LABELS). */
  extraLabels?: Readonly<Record<string, string>>;
  /** Containers to connect to every tenant network (TENANT_NETWORK_ATTACH). */
  attach?: readonly string[];
  /** Port of the tenant app inside the container. */
  port: number;
  /** How long engine calls may take (DOCKER_TIMEOUT, DOCKER_START_TIMEOUT); defaults 10 s and 30 s. */
  timeouts?: Partial<EngineTimeouts>;
  /**
   * Keeps tenants with egress off everything but the internet, and every tenant off the host.
   * Without one, tenants whose plan grants egress are not started (SUP_ERR_EGRESS_UNAVAILABLE):
   * egress is never unfiltered. Tenants without egress start without one only in the two cases
   * the supervisor allows: with `attach` (their bridge gives the host no address) or with
   * UNSAFE_TENANT_HOST_REACHABLE.
   */
  networkFilter?: NetworkFilter;
  /**
   * Per-tenant filesystems that bound each tenant's volumes (the plan's diskBytes). Without
   * them the volumes are plain ones on the engine's disk, unbounded: only with
   * UNSAFE_TENANT_DISK_UNBOUNDED, or in tests of other things.
   */
  disks?: TenantDisks;
}

/** The Docker Engine implementation of {@link TenantRuntime}, through dockerode. */
export function createDockerRuntime(options: DockerRuntimeOptions): TenantRuntime {
  const docker = options.docker ?? new Docker();
  const extraLabels = options.extraLabels ?? {};
  const attach = options.attach ?? [];
  // Without peers attached to tenant networks, the host reaches tenants itself: through its
  // address on each tenant bridge (host mode).
  const hostOnBridge = attach.length === 0;
  const { disks } = options;
  const instanceFilter = [`${LABELS.instance}=${options.instance}`, `${LABELS.role}=tenant`];
  const { callMs, startMs } = { ...DEFAULT_ENGINE_TIMEOUTS, ...options.timeouts };
  const archiveOptions = { docker, instance: options.instance, extraLabels, disks, callMs, startMs };
  /** A quick engine call, bounded by the caller's signal when it has one, else by DOCKER_TIMEOUT. */
  const quick = <T>(operation: string, call: (abortSignal: AbortSignal) => Promise<T>, signal?: AbortSignal) =>
    engineCall(operation, callLimit(callMs, signal), signal, call);

  /** Removes a tenant network, first disconnecting the peers (the engine refuses while they are on it). */
  async function removeNetwork(name: string, signal?: AbortSignal): Promise<void> {
    const network = docker.getNetwork(name);
    for (const container of attach) {
      await quick(
        'network disconnect',
        (abortSignal) => network.disconnect({ Container: container, Force: true, abortSignal }),
        signal,
      ).catch(() => undefined);
    }
    await quick('network remove', (abortSignal) => network.remove({ abortSignal }), signal).catch(
      ifStatus(404, undefined),
    );
  }

  async function ensureNetwork(spec: TenantSpec, labels: Record<string, string>, signal?: AbortSignal): Promise<void> {
    const network = docker.getNetwork(spec.names.network);
    let existing = await quick('network inspect', () => network.inspect(), signal).catch(ifStatus(404, undefined));
    if (existing && !networkFollowsPlan(existing, spec, hostOnBridge)) {
      // The plan's egress changed since the network was made (or it predates the network
      // filter), and a network's Internal flag and options are fixed at creation: make it again. The
      // container goes first (the engine refuses to remove a network in use, and a container keeps
      // the id of the network it was made on); it is made again below anyway (its spec changed
      // with the plan, or it was on the old network). The volumes stay.
      await engineCall('container remove', callLimit(startMs, signal), signal, (abortSignal) =>
        docker.getContainer(spec.names.container).remove({ force: true, v: false, abortSignal }),
      ).catch(ifStatus(404, undefined));
      await removeNetwork(spec.names.network, signal);
      existing = undefined;
    }
    if (!existing) {
      await quick(
        'network create',
        (abortSignal) => docker.createNetwork({ ...networkOptions(spec, labels, hostOnBridge), abortSignal }),
        signal,
      )
        .catch(ifStatus(409, undefined))
        .catch((err: unknown) => {
          // Another network took the subnet since it was chosen: the caller picks another.
          if (/overlap/i.test(String((err as Error).message))) throw errors.subnetConflict(undefined, { cause: err });
          throw err;
        });
    }
    for (const container of attach) {
      // Already connected is the normal case after the first wake.
      await quick(
        'network connect',
        (abortSignal) => network.connect(connectOptions(container, abortSignal)),
        signal,
      ).catch((err: unknown) => {
        if (!/already exists|already attached/i.test(String((err as Error).message))) throw err;
      });
    }
  }

  /**
   * Makes sure both volumes exist; with disks, as binds of folders on the tenant's own
   * filesystem, mounted first (again after a host reboot). A volume that exists is never wiped:
   * one made before the disk quota (a plain volume) has its data copied onto the tenant's
   * filesystem first and is then made again as a bind.
   */
  async function ensureVolumes(spec: TenantSpec, labels: Record<string, string>, signal?: AbortSignal): Promise<void> {
    const { names } = spec;
    const paths = disks ? await disks.ensure(names.disk, spec.limits.diskBytes) : undefined;
    for (const [name, kind] of [
      [names.filesVolume, 'files'],
      [names.historyVolume, 'history'],
    ] as const) {
      // A bind of a folder that exists only inside the mounted filesystem: should the mount be
      // missing when the engine mounts the volume, the start fails instead of writing to the host.
      const options = paths ? { type: 'none', o: 'bind', device: paths[kind] } : undefined;
      if (disks && options) {
        const volume = docker.getVolume(name);
        const existing = await quick('volume inspect', () => volume.inspect(), signal).catch(ifStatus(404, undefined));
        if (existing && existing.Options?.device !== options.device) {
          // The container holds the volume; it is made again below anyway (its spec changed with diskBytes).
          await engineCall('container remove', callLimit(startMs, signal), signal, (abortSignal) =>
            docker.getContainer(names.container).remove({ force: true, v: false, abortSignal }),
          ).catch(ifStatus(404, undefined));
          await disks.adopt(existing.Mountpoint, options.device);
          await quick('volume remove', (abortSignal) => volume.remove({ abortSignal }), signal);
        } else if (existing) {
          continue;
        }
      }
      // Creating a volume that exists returns it unchanged: never wipes data.
      await quick(
        'volume create',
        (abortSignal) =>
          docker.createVolume({
            Name: name,
            Labels: { ...labels, 'dev.tenancy.volume': kind },
            ...(options ? { Driver: 'local', DriverOpts: options } : {}),
            abortSignal,
          }),
        signal,
      );
    }
  }

  async function imageId(image: string, signal?: AbortSignal): Promise<string> {
    const info = await quick('image inspect', () => docker.getImage(image).inspect(), signal);
    return info.Id;
  }

  async function status(
    container: Docker.Container,
    network: string,
    signal?: AbortSignal,
  ): Promise<ContainerStatus | undefined> {
    const info = await quick('container inspect', (abortSignal) => container.inspect({ abortSignal }), signal).catch(
      ifStatus(404, undefined),
    );
    if (!info) return undefined;
    const ip = info.NetworkSettings.Networks?.[network]?.IPAddress;
    return {
      containerId: info.Id,
      tenantHash: info.Config.Labels?.[LABELS.tenant] ?? '',
      running: info.State.Running === true,
      paused: info.State.Paused === true,
      exitCode: info.State.Running ? undefined : info.State.ExitCode,
      oomKilled: info.State.OOMKilled === true,
      endpointUrl: info.State.Running && ip ? `http://${ip}:${options.port}` : undefined,
      node: LOCAL_NODE,
    };
  }

  return {
    capabilities: { pause: true, subnets: true },

    async ensure(spec, signal) {
      const labels = tenantLabels(options.instance, spec.tenantHash, extraLabels);
      const { egress } = spec.limits;
      const filter = options.networkFilter;
      // Fail closed: no filter, no egress tenant.
      if (egress && !filter) throw errors.egressUnavailable('this supervisor has no network filter');
      const filtered = filter && (egress || hostOnBridge);
      const unavailable = (err: unknown) => {
        const failure = egress ? errors.egressUnavailable : errors.networkFilterUnavailable;
        throw failure((err as Error).message, { cause: err });
      };
      if (filtered) await filter.ensure().catch(unavailable);
      await ensureNetwork(spec, labels, signal);
      if (filtered) await filter.covers(tenantBridgeName(spec.names.network, egress)).catch(unavailable);
      await ensureVolumes(spec, labels, signal);

      const container = docker.getContainer(spec.names.container);
      const existing = await quick(
        'container inspect',
        (abortSignal) => container.inspect({ abortSignal }),
        signal,
      ).catch(ifStatus(404, undefined));
      if (existing) {
        const sameSpec = existing.Config.Labels?.[LABELS.spec] === specHash(spec);
        const sameImage = existing.Image === (await imageId(spec.image, signal).catch(() => existing.Image));
        if (sameSpec && sameImage) return { containerId: existing.Id, created: false } satisfies EnsureResult;
        // Outdated: re-create. Volumes are separate objects and survive this.
        await engineCall('container remove', callLimit(startMs, signal), signal, (abortSignal) =>
          container.remove({ force: true, v: false, abortSignal }),
        );
      }
      const created = await quick(
        'container create',
        (abortSignal) => docker.createContainer({ ...containerOptions(spec, labels), abortSignal }),
        signal,
      );
      return { containerId: created.id, created: true };
    },

    async start(names, signal) {
      const container = docker.getContainer(names.container);
      await engineCall('container start', callLimit(startMs, signal), signal, (abortSignal) =>
        container.start({ abortSignal }),
      ).catch(ifStatus(304, undefined));
      const current = await status(container, names.network, signal);
      if (!current?.running || !current.endpointUrl) {
        throw errors.wakeFailed(`container exited right after start (exit code ${current?.exitCode ?? 'unknown'})`);
      }
      return { containerId: current.containerId, endpointUrl: current.endpointUrl } satisfies RunningTenant;
    },

    async stop(names, graceMs) {
      const container = docker.getContainer(names.container);
      // The engine refuses to signal a frozen container: thaw it so SIGTERM reaches the app.
      await quick('container unpause', (abortSignal) => container.unpause({ abortSignal })).catch(() => undefined);
      const seconds = Math.max(0, Math.ceil(graceMs / 1000));
      // The engine waits the grace time itself before it kills: that much on top of a quick call.
      await engineCall('container stop', seconds * 1000 + callMs, undefined, (abortSignal) =>
        container.stop({ t: seconds, abortSignal }),
      ).catch(ifStatus([304, 404], undefined));
    },

    async pause(names) {
      await quick('container pause', (abortSignal) => docker.getContainer(names.container).pause({ abortSignal }));
    },

    async unpause(names) {
      await quick('container unpause', (abortSignal) =>
        docker.getContainer(names.container).unpause({ abortSignal }),
      ).catch((err: unknown) => {
        // Not paused (409) is the state we want.
        if ((err as { statusCode?: number }).statusCode !== 409) throw err;
      });
    },

    async remove(names, { volumes }) {
      await engineCall('container remove', startMs, undefined, (abortSignal) =>
        docker.getContainer(names.container).remove({ force: true, v: false, abortSignal }),
      ).catch(ifStatus(404, undefined));
      await removeNetwork(names.network);
      if (volumes) {
        for (const volume of [names.filesVolume, names.historyVolume]) {
          await quick('volume remove', (abortSignal) =>
            docker.getVolume(volume).remove({ force: true, abortSignal }),
          ).catch(ifStatus(404, undefined));
        }
        // Last: the volumes were the only users of the filesystem besides the container.
        await disks?.remove(names.disk);
      }
    },

    async diskUsage(names) {
      return disks?.usage(names.disk);
    },

    archiveVolume(names, image, kind, hold) {
      return archiveVolume(archiveOptions, names, image, kind, hold);
    },

    removeExportHelpers() {
      return removeExportHelpers(archiveOptions);
    },

    inspect(names) {
      return status(docker.getContainer(names.container), names.network);
    },

    async logs(names, tail) {
      const output = await quick('container logs', (abortSignal) =>
        docker.getContainer(names.container).logs({ stdout: true, stderr: true, tail, follow: false, abortSignal }),
      ).catch(ifStatus(404, undefined));
      if (output === undefined) throw errors.tenantNotFound('the tenant has no container');
      return demuxLogs(output as unknown as Buffer);
    },

    async list() {
      // One call for every container: the summaries say enough. Inspecting each (the exit code,
      // the OOM flag) would cost a round trip per tenant, a thousand after a restart; callers
      // that need those ask `inspect` for the few tenants that need them.
      const summaries = await quick('container list', (abortSignal) =>
        docker.listContainers({ all: true, filters: { label: instanceFilter }, abortSignal }),
      );
      return summaries.map((summary): ContainerStatus => {
        const running = summary.State === 'running' || summary.State === 'paused';
        const ip = Object.values(summary.NetworkSettings?.Networks ?? {})[0]?.IPAddress;
        return {
          containerId: summary.Id,
          tenantHash: summary.Labels?.[LABELS.tenant] ?? '',
          running,
          paused: summary.State === 'paused',
          exitCode: undefined,
          oomKilled: false,
          endpointUrl: running && ip ? `http://${ip}:${options.port}` : undefined,
          node: LOCAL_NODE,
        };
      });
    },

    async memory(node) {
      // The host's own figures: the supervisor runs on the engine's host (/proc/meminfo).
      const host = hostMemory();
      return node === undefined || node === host.node ? [host] : [];
    },

    async usedSubnets() {
      const networks = await quick('network list', (abortSignal) => docker.listNetworks({ abortSignal }));
      return networks.flatMap((network) => (network.IPAM?.Config ?? []).map((config) => config.Subnet ?? ''));
    },

    watch(onEvent, onError) {
      const streams = [
        followEvents(
          docker,
          callMs,
          { type: ['container'], event: [...TENANT_EVENTS], label: instanceFilter },
          (raw) => {
            const event = parseEvent(raw);
            if (event) onEvent(event);
          },
          onError,
        ),
      ];
      if (attach.length > 0) {
        // Peers come and go with compose (make up re-creates them): a fresh one has lost its
        // tenant networks, so the controller re-attaches when one starts.
        const peer = (raw: RawEvent) =>
          onEvent({
            type: 'peer-start',
            tenantHash: '',
            containerId: raw.id ?? '',
            exitCode: undefined,
            at: eventTime(raw),
          });
        streams.push(
          followEvents(
            docker,
            callMs,
            { type: ['container'], event: ['start'], container: [...attach] },
            peer,
            onError,
          ),
        );
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
      for (const { Name } of networks) {
        for (const container of attach) {
          await quick('network connect', (abortSignal) =>
            docker.getNetwork(Name).connect(connectOptions(container, abortSignal)),
          ).catch((err: unknown) => {
            // Already connected is the normal case; a peer that does not exist cannot be helped here.
            if (!/already exists|already attached|No such container|not found/i.test(String((err as Error).message))) {
              throw err;
            }
          });
        }
      }
    },

    async ping() {
      try {
        await quick('ping', (abortSignal) => pingWith(docker, abortSignal));
      } catch (err) {
        if (isTenancyError(err)) throw err;
        throw errors.runtimeUnavailable(undefined, { cause: err });
      }
    },
  };
}

/** One line of the engine's event stream, as far as we read it. */
export interface RawEvent {
  Action?: string;
  status?: string;
  id?: string;
  time?: number;
  timeNano?: number;
  Actor?: { Attributes?: Record<string, string> };
}

export function eventTime(raw: RawEvent): number {
  return raw.timeNano ? Math.floor(raw.timeNano / 1e6) : (raw.time ?? 0) * 1000;
}

/** The engine events of tenant containers the lifecycle follows. */
const TENANT_EVENTS = ['start', 'die', 'oom', 'destroy'] as const;

function isTenantEvent(type: string | undefined): type is (typeof TENANT_EVENTS)[number] {
  return (TENANT_EVENTS as readonly (string | undefined)[]).includes(type);
}

export function parseEvent(raw: RawEvent): RuntimeEvent | undefined {
  const type = raw.Action ?? raw.status;
  if (!isTenantEvent(type)) return undefined;
  const attributes = raw.Actor?.Attributes ?? {};
  const exitCode = attributes.exitCode === undefined ? undefined : Number(attributes.exitCode);
  return {
    type,
    tenantHash: attributes[LABELS.tenant] ?? '',
    containerId: raw.id ?? '',
    exitCode,
    at: eventTime(raw),
  };
}

function parseLine(line: string): RawEvent | undefined {
  try {
    return JSON.parse(line) as RawEvent;
  } catch {
    return undefined;
  }
}

/**
 * Follows the engine's event stream with `filters`, handing each event to `onEvent`; `onError`
 * when the stream fails or ends. Returns a function that stops following.
 */
export function followEvents(
  docker: Docker,
  openMs: number,
  filters: Record<string, string[]>,
  onEvent: (raw: RawEvent) => void,
  onError: (err: Error) => void,
): () => void {
  let stream: Readable | undefined;
  let closed = false;
  const abort = new AbortController();
  // The engine answers the request at once and then streams: one that does not answer in time
  // is hung, and the caller reconnects (and reconciles) as for a stream that broke.
  const opening = setTimeout(() => {
    if (!stream && !closed) {
      abort.abort();
      onError(errors.runtimeUnavailable(`the container engine did not open its event stream within ${openMs} ms`));
    }
  }, openMs);
  docker
    .getEvents({ filters, abortSignal: abort.signal })
    .then((events) => {
      clearTimeout(opening);
      stream = events as unknown as Readable;
      if (closed) return stream.destroy();
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let newline = buffered.indexOf('\n');
        while (newline !== -1) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          const raw = line ? parseLine(line) : undefined;
          if (raw) onEvent(raw);
          newline = buffered.indexOf('\n');
        }
      });
      stream.on('error', (err: Error) => !closed && onError(err));
      stream.on('end', () => !closed && onError(new Error('docker event stream ended')));
    })
    .catch((err: Error) => !closed && !abort.signal.aborted && onError(err));
  return () => {
    closed = true;
    clearTimeout(opening);
    abort.abort();
    stream?.destroy();
  };
}

/**
 * Docker multiplexes stdout and stderr of a container without a TTY into frames: one byte of
 * stream type, three of padding, a four-byte big-endian length, then the payload.
 */
export function demuxLogs(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Network connect options with a signal: dockerode takes one, its type definitions do not say so. */
export function connectOptions(container: string, abortSignal: AbortSignal): Docker.NetworkConnectOptions {
  return { Container: container, abortSignal } as Docker.NetworkConnectOptions;
}

/** `docker.ping` with a signal: dockerode takes one, its type definitions do not say so. */
export function pingWith(docker: Docker, abortSignal: AbortSignal): Promise<unknown> {
  return (docker.ping as unknown as (this: Docker, options: { abortSignal: AbortSignal }) => Promise<unknown>).call(
    docker,
    { abortSignal },
  );
}

/** A catch handler that turns Docker errors with the given status code(s) into `value`. */
export function ifStatus<V>(codes: number | number[], value: V): (err: unknown) => V {
  const accepted = Array.isArray(codes) ? codes : [codes];
  return (err) => {
    if (accepted.includes((err as { statusCode?: number }).statusCode ?? 0)) return value;
    throw err;
  };
}
