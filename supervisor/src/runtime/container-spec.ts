import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { LABELS, MANAGED_BY, SCHEMA_VERSION } from './labels.js';
import { tenantBridgeName } from './network-filter.js';
import type { TenantSpec } from './types.js';

/** Where the tenant's two volumes are mounted inside its container. */
export const FILES_MOUNT = '/data/files';
export const HISTORY_MOUNT = '/data/history';

/** The uid:gid tenant apps run as. */
export const TENANT_USER = '1000:1000';

/**
 * The upstream resolver of tenants without egress: the unspecified address, which from inside the
 * container is the container itself, where nothing answers on port 53. Engines before 26.0 (and
 * 25.0.4) forward DNS queries from internal networks to their upstream resolvers
 * (CVE-2024-29018): with the engine's default upstream, a query for a name under a domain the
 * tenant controls carries data out (on 20.10 whenever that upstream is one of the host's own
 * addresses). A loopback address would not do: newer engines send queries for a loopback upstream
 * from the host's namespace, where a resolver may listen. The engine's resolver still answers for
 * names on the tenant's own network; every other lookup fails.
 */
export const NO_UPSTREAM_DNS = '0.0.0.0';

/** The upstream resolvers a tenant's container is given: the engine's default with egress, none without. */
export function tenantDns(spec: TenantSpec): string[] | undefined {
  return spec.limits.egress ? undefined : [NO_UPSTREAM_DNS];
}

/** Labels of one tenant's objects: ownership first, then the deployment's extra labels. */
export function tenantLabels(
  instance: string,
  tenantHash: string,
  extra: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    ...extra,
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.instance]: instance,
    [LABELS.tenant]: tenantHash,
    [LABELS.schema]: SCHEMA_VERSION,
    [LABELS.role]: 'tenant',
  };
}

/**
 * The hardened container definition. Every field here is a security decision, checked by
 * supervisor/test/integration/hardening.test.ts against a real container:
 * non-root, no capabilities, no privilege escalation, bounded PIDs/memory/CPU, read-only root
 * with a small noexec /tmp, only its own two named volumes, its own network, no published ports.
 */
export function containerOptions(spec: TenantSpec, labels: Record<string, string>): Docker.ContainerCreateOptions {
  const { limits } = spec;
  return {
    name: spec.names.container,
    Image: spec.image,
    User: TENANT_USER,
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    ExposedPorts: { [`${spec.port}/tcp`]: {} },
    Labels: { ...labels, [LABELS.spec]: specHash(spec) },
    StopSignal: 'SIGTERM',
    StopTimeout: Math.ceil(spec.stopGraceMs / 1000),
    HostConfig: {
      NetworkMode: spec.names.network,
      ...(tenantDns(spec) ? { Dns: tenantDns(spec) } : {}),
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      CapAdd: [],
      SecurityOpt: ['no-new-privileges:true'],
      Privileged: false,
      PidsLimit: limits.pids,
      Memory: limits.memoryBytes,
      // Equal to Memory: the container may not swap at all.
      MemorySwap: limits.memoryBytes,
      NanoCpus: limits.nanoCpus,
      IpcMode: 'private',
      Tmpfs: { '/tmp': `rw,noexec,nosuid,nodev,size=${limits.tmpBytes}` },
      Mounts: [
        { Type: 'volume', Source: spec.names.filesVolume, Target: FILES_MOUNT, ReadOnly: false },
        { Type: 'volume', Source: spec.names.historyVolume, Target: HISTORY_MOUNT, ReadOnly: false },
      ],
      PortBindings: {},
      PublishAllPorts: false,
      Devices: [],
      // The supervisor decides when a tenant runs; Docker must not restart it behind its back.
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  };
}

/** Docker's network option naming the Linux bridge of a bridge network. */
const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
/** Docker's network option that leaves the host without an address on the bridge. */
const NO_HOST_ADDRESS_OPTION = 'com.docker.network.bridge.inhibit_ipv4';

/**
 * The driver options of a tenant network, which fix how the host meets its tenants:
 * - with egress, a bridge named for the network filter (`tne…`), the host being the tenant's way out;
 * - without egress, in host mode (`hostOnBridge`: the gateway and supervisor run on the host and
 *   reach tenants through its address on the bridge), a bridge named for the filter's host rule (`tni…`);
 * - without egress, when peers attached to the network reach the tenants (compose), no host
 *   address on the bridge at all: there is nothing of the host's for a tenant to connect to.
 */
function networkDriverOptions(spec: TenantSpec, hostOnBridge: boolean): Record<string, string> {
  if (spec.limits.egress || hostOnBridge) {
    return { [BRIDGE_NAME_OPTION]: tenantBridgeName(spec.names.network, spec.limits.egress) };
  }
  return { [NO_HOST_ADDRESS_OPTION]: 'true' };
}

/**
 * The tenant network: its own bridge and subnet, internal (no route out) unless the plan allows
 * egress; see {@link networkDriverOptions} for how the host meets it.
 */
export function networkOptions(
  spec: TenantSpec,
  labels: Record<string, string>,
  hostOnBridge: boolean,
): Docker.NetworkCreateOptions {
  return {
    Name: spec.names.network,
    Driver: 'bridge',
    CheckDuplicate: true,
    Internal: !spec.limits.egress,
    IPAM: { Driver: 'default', Config: [{ Subnet: subnetOf(spec) }] },
    Options: networkDriverOptions(spec, hostOnBridge),
    Labels: labels,
  };
}

/**
 * The spec's subnet. The Docker and Swarm runtimes have `capabilities.subnets`, so the controller
 * always gives one; a spec without would let the engine pick a subnet outside TENANT_SUBNET_POOL.
 */
export function subnetOf(spec: TenantSpec): string {
  if (!spec.subnet) throw new Error('the tenant spec has no subnet, which this runtime needs');
  return spec.subnet;
}

/**
 * Does an existing network have the policy the spec asks for? Its Internal flag and driver
 * options are fixed when it is made: one made for another plan, or before the network filter
 * covered it (its bridge would escape the filter, or the host would have an address on it), must
 * be made again.
 */
export function networkFollowsPlan(
  network: { Internal?: boolean; Options?: Record<string, string> | null },
  spec: TenantSpec,
  hostOnBridge: boolean,
): boolean {
  if (network.Internal !== !spec.limits.egress) return false;
  const options = network.Options ?? {};
  return Object.entries(networkDriverOptions(spec, hostOnBridge)).every(([key, value]) => options[key] === value);
}

/**
 * A digest of everything that shapes the container. A container whose label differs was made
 * from an older spec and is re-created (its volumes stay).
 */
export function specHash(spec: TenantSpec): string {
  const shape = {
    image: spec.image,
    limits: spec.limits,
    env: spec.env,
    port: spec.port,
    network: spec.names.network,
    // Containers made before tenants without egress lost their upstream DNS are made again.
    dns: tenantDns(spec) ?? 'engine',
    grace: spec.stopGraceMs,
    schema: SCHEMA_VERSION,
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}
