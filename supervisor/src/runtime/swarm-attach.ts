import type Docker from 'dockerode';
import { TENANT_USER } from './container-spec.js';
import { connectOptions } from './docker-runtime.js';
import { LABELS, MANAGED_BY } from './labels.js';

/** The role label of anchor containers, so one left behind by a crash is found and removed. */
export const ANCHOR_ROLE = 'anchor';

/** One engine call bounded like the runtime's others. */
export type QuickCall = <T>(
  operation: string,
  call: (abortSignal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
) => Promise<T>;

export interface AttachOnNode {
  /** The engine of the node the peers run on. */
  engine: Docker;
  /** Peer services (the gateway, the supervisor): their task containers on this node are connected. */
  services: readonly string[];
  /**
   * Ids of the tenant networks (attachable overlays) every peer should be on. Ids, not names: a
   * network made again under its old name (a reclaimed subnet) must not be taken for the old one,
   * which a node may still know by that name for a moment.
   */
  networks: readonly string[];
  /** An image on every node with `node` in it (the tenant image): the anchor runs it. */
  anchorImage: string;
  instance: string;
  quick: QuickCall;
  signal?: AbortSignal;
}

/** The anchor container's name on every node. */
export function anchorName(instance: string): string {
  return `${instance}-anchor`;
}

/**
 * Connects the peers running on one node to the tenant networks they lack, without restarting
 * them (Swarm's own `service update --network-add` replaces every task of the service).
 *
 * Measured on Docker 20.10 (the two-node lab, supervisor/test/integration/swarm-lab.ts):
 * `network connect` of an attachable overlay into a task container works only while the network
 * exists on that node; before, the engine answers 404 "network not found" (a Swarm-managed
 * container may only join networks its node already has, while a plain container may join any
 * attachable one, which brings the network to the node). So each node keeps one idle plain
 * "anchor" container (`<instance>-anchor`) on every tenant network: it brings each new network
 * to the node, then the peers join. A throw-away anchor per new network would do too (the peers'
 * endpoints keep the network on the node once it leaves), but costs a container start and
 * removal on every node at each tenant's first wake; the kept one costs one `network connect`.
 * It runs the tenant image's `node` idling, as the tenant user, without capabilities, and
 * listens on nothing: a tenant meeting it on its network reaches nothing. The runtime also reads
 * the node's memory in it (swarm-memory.ts: an exec of `node`). It leaves a network
 * only when the network is removed. Peers must be on an overlay of their own (the gateway's,
 * with nginx): a task without any network gets no interface from a later connect (ENETUNREACH).
 */
export async function attachPeersOnNode(options: AttachOnNode): Promise<void> {
  const { engine, quick, signal } = options;
  const peers: Array<{ id: string; networks: Set<string> }> = [];
  for (const service of options.services) {
    const containers = await quick(
      'container list',
      (abortSignal) =>
        engine.listContainers({ filters: { label: [`com.docker.swarm.service.name=${service}`] }, abortSignal }),
      signal,
    );
    for (const container of containers) {
      peers.push({ id: container.Id, networks: networkIds(container.NetworkSettings?.Networks) });
    }
  }
  const missing = options.networks.filter((network) => peers.some((peer) => !peer.networks.has(network)));
  if (missing.length === 0) return;
  await anchorOn(options, missing);
  for (const network of missing) {
    for (const peer of peers.filter((p) => !p.networks.has(network))) {
      await quick(
        'network connect',
        (abortSignal) => engine.getNetwork(network).connect(connectOptions(peer.id, abortSignal)),
        signal,
      ).catch((err: unknown) => {
        // Gone meanwhile (a replica being replaced): its successor is attached on its start.
        if (!/already exists|already attached|No such container/i.test(String((err as Error).message))) throw err;
      });
    }
  }
}

/** Makes sure the node's anchor runs and is on each of `networks`. */
async function anchorOn(options: AttachOnNode, networks: readonly string[]): Promise<void> {
  const { engine, quick, signal } = options;
  const name = anchorName(options.instance);
  const container = engine.getContainer(name);
  let info = await quick('container inspect', (abortSignal) => container.inspect({ abortSignal }), signal).catch(
    (err: { statusCode?: number }) => {
      if (err.statusCode === 404) return undefined;
      throw err;
    },
  );
  if (!info) {
    await quick(
      'container create',
      (abortSignal) =>
        engine.createContainer({
          name,
          Image: options.anchorImage,
          Entrypoint: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
          User: TENANT_USER,
          Labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.instance]: options.instance, [LABELS.role]: ANCHOR_ROLE },
          HostConfig: {
            NetworkMode: networks[0],
            ReadonlyRootfs: true,
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges:true'],
            Memory: 64 * 1024 ** 2,
            PidsLimit: 16,
            // Back after an engine restart, and with it the networks on the node.
            RestartPolicy: { Name: 'unless-stopped' },
          },
          abortSignal,
        }),
      signal,
    ).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 409) throw err; // made meanwhile by a concurrent wake
    });
    info = await quick('container inspect', (abortSignal) => container.inspect({ abortSignal }), signal);
  }
  if (!info.State.Running) {
    await quick('container start', (abortSignal) => container.start({ abortSignal }), signal).catch(
      (err: { statusCode?: number }) => {
        if (err.statusCode !== 304) throw err;
      },
    );
  }
  const on = networkIds(info.NetworkSettings.Networks);
  for (const network of networks.filter((n) => !on.has(n))) {
    await quick(
      'network connect',
      (abortSignal) => engine.getNetwork(network).connect(connectOptions(container.id, abortSignal)),
      signal,
    ).catch((err: unknown) => {
      if (!/already exists|already attached/i.test(String((err as Error).message))) throw err;
    });
  }
}

/** The ids of the networks a container is on (its settings are keyed by name). */
function networkIds(networks: Record<string, { NetworkID?: string }> | undefined | null): Set<string> {
  return new Set(Object.values(networks ?? {}).map((network) => network.NetworkID ?? ''));
}
