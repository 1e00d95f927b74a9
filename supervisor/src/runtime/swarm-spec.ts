import { FILES_MOUNT, HISTORY_MOUNT, specHash, subnetOf, TENANT_USER, tenantDns } from './container-spec.js';
import { LABELS } from './labels.js';
import type { TenantSpec } from './types.js';

/** Service label holding the id of the node a tenant is pinned to. */
export const NODE_LABEL = 'dev.tenancy.node';

/**
 * A tenant as a Swarm service: the same hardened container as container-spec.ts, as far as
 * Swarm's service API (1.41, Docker 20.10) can say it, checked by
 * supervisor/test/integration/swarm-runtime.test.ts against a real task:
 * - non-root, every capability dropped, read-only root, a small /tmp, only its two volumes;
 * - PID, memory and CPU limits (Resources.Limits); Swarm cannot set MemorySwap, so on a host
 *   with swap a tenant may swap as much again as its memory;
 * - `no-new-privileges` cannot be set on a service before API 1.46: with no capabilities and a
 *   non-root user it guards only setuid binaries, which the tenant image must not have;
 * - pinned to one node by id (its volumes live there), never restarted by Swarm (the supervisor
 *   decides when a tenant runs), no published ports and no virtual IP (dnsrr): the gateway
 *   reaches the task's own address on the tenant's network.
 * `replicas` is 0 (asleep) or 1 (awake).
 */
export function serviceSpec(
  spec: TenantSpec,
  labels: Record<string, string>,
  nodeId: string,
  replicas: 0 | 1,
): Record<string, unknown> {
  const { limits } = spec;
  const containerLabels = { ...labels, [LABELS.spec]: specHash(spec) };
  const dns = tenantDns(spec);
  const volumeLabels = (kind: string) => ({ ...labels, 'dev.tenancy.volume': kind });
  return {
    Name: spec.names.container,
    Labels: { ...containerLabels, [NODE_LABEL]: nodeId },
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        Labels: containerLabels,
        User: TENANT_USER,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        ReadOnly: true,
        CapabilityDrop: ['ALL'],
        CapabilityAdd: [],
        StopSignal: 'SIGTERM',
        StopGracePeriod: spec.stopGraceMs * 1_000_000,
        ...(dns ? { DNSConfig: { Nameservers: dns } } : {}),
        Mounts: [
          {
            Type: 'volume',
            Source: spec.names.filesVolume,
            Target: FILES_MOUNT,
            VolumeOptions: { Labels: volumeLabels('files') },
          },
          {
            Type: 'volume',
            Source: spec.names.historyVolume,
            Target: HISTORY_MOUNT,
            VolumeOptions: { Labels: volumeLabels('history') },
          },
          // Docker mounts a tmpfs noexec, nosuid and nodev.
          { Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: limits.tmpBytes, Mode: 0o1777 } },
        ],
      },
      Resources: {
        // Limits only, no reservation: a task whose reservation does not fit would wait pending
        // for memory on its one node. Which tenants run is the supervisor's call (its capacity
        // limits), as on one host.
        Limits: { MemoryBytes: limits.memoryBytes, NanoCPUs: limits.nanoCpus, Pids: limits.pids },
      },
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: [`node.id==${nodeId}`] },
      Networks: [{ Target: spec.names.network }],
      LogDriver: { Name: 'json-file', Options: { 'max-size': '10m', 'max-file': '3' } },
    },
    Mode: { Replicated: { Replicas: replicas } },
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

/**
 * The tenant network: an attachable overlay (peers are connected into it on their own node's
 * engine, see docs/architecture.md), its own subnet, internal unless the plan allows egress. An
 * overlay gives no node an address on it, so an internal one reaches no host at all.
 */
export function overlayOptions(spec: TenantSpec, labels: Record<string, string>): Record<string, unknown> {
  return {
    Name: spec.names.network,
    Driver: 'overlay',
    CheckDuplicate: true,
    Attachable: true,
    Internal: !spec.limits.egress,
    IPAM: { Driver: 'default', Config: [{ Subnet: subnetOf(spec) }] },
    Labels: labels,
  };
}

/** What placement needs to know of a node. */
export interface NodeCapacity {
  id: string;
  /** Ready and active: Swarm would run a task there. */
  available: boolean;
  memoryBytes: number;
}

/** What placement needs to know of a tenant already pinned. */
export interface PinnedTenant {
  nodeId: string;
  /** Memory its limit reserves while awake (0 asleep). */
  reservedBytes: number;
}

/**
 * Memory of the node not reserved by the limits of the tenants awake on it (running or paused),
 * bytes; below 0 when those limits overcommit it. The measure of free memory for placement (a
 * tenant stays on its node: room for its whole limit, not today's use), and for MEMORY_RESERVE
 * on a node whose real `MemAvailable` cannot be read (swarm-memory.ts).
 */
export function unreservedMemory(node: NodeCapacity, tenants: readonly PinnedTenant[]): number {
  return tenants.reduce(
    (free, tenant) => (tenant.nodeId === node.id ? free - tenant.reservedBytes : free),
    node.memoryBytes,
  );
}

/**
 * The node for a tenant's first wake: among the available ones, the one with most memory not
 * reserved by awake tenants; on a tie the one with fewer tenants pinned, then by id (stable).
 * Undefined when no node is available.
 */
export function chooseNode(nodes: readonly NodeCapacity[], tenants: readonly PinnedTenant[]): string | undefined {
  const scored = nodes
    .filter((node) => node.available)
    .map((node) => ({
      id: node.id,
      free: unreservedMemory(node, tenants),
      count: tenants.filter((tenant) => tenant.nodeId === node.id).length,
    }))
    .sort((a, b) => b.free - a.free || a.count - b.count || a.id.localeCompare(b.id));
  return scored[0]?.id;
}
