import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { type Teardown, testRunId } from '@tenancy/test-support';
import { type OwnEngine, startOwnEngine } from './own-engine.js';

const run = promisify(execFile);

/**
 * The link between the two nodes. Each end lives in its node's own network namespace, so these
 * addresses exist nowhere else (the host, other tests and other labs never see them); a
 * documentation block (TEST-NET-1) all the same, so nothing could ever route them out.
 */
const NODE_ADDRESSES = ['192.0.2.1', '192.0.2.2'] as const;
/**
 * Where Swarm cuts the networks it makes itself (ingress, and overlays created without a
 * subnet). Inside the nodes' namespaces only; apart from the tests' tenant subnets
 * (10.213.0.0/16) and TENANT_SUBNET_POOL's default (10.201.0.0/16) all the same.
 */
export const LAB_DEFAULT_ADDR_POOL = '10.230.0.0/16';

export interface SwarmNode {
  /** The Swarm node id (what a placement constraint `node.id==…` names). */
  id: string;
  /** 'a' (the manager) or 'b' (the worker). */
  name: 'a' | 'b';
  /** The node's own engine, in its own network namespace. */
  engine: OwnEngine;
  /** Its address on the link between the nodes. */
  address: string;
  /** The network namespace dockerd runs in. */
  netns: string;
}

export interface SwarmLab {
  /** Node a: the swarm's only manager (the supervisor talks to it). */
  manager: SwarmNode;
  /** Node b: a worker. */
  worker: SwarmNode;
  nodes: [SwarmNode, SwarmNode];
}

/**
 * A real two-node Docker Swarm on this machine: two dockerds of the test's own (see
 * own-engine.ts), each in a network namespace of its own, linked by a veth pair; node a inits the
 * swarm, node b joins it as a worker. Overlay traffic between them is real VXLAN over the veth.
 * Both have the tenant image (copied from the run's engine, no registry). At teardown, even when
 * the test failed half-way: the services are removed, both engines stopped and their folders
 * removed (own-engine.ts), then the namespaces deleted, which deletes the veth pair with them.
 * Needs root. Takes about half a minute (mostly copying the image twice).
 */
export async function startSwarmLab(t: Teardown): Promise<SwarmLab> {
  const id = randomBytes(3).toString('hex');
  // The run id in the name lets scripts/test.sh delete the namespaces of a test that timed out.
  const netns = [`tenancy-swarm-${testRunId}-${id}-a`, `tenancy-swarm-${testRunId}-${id}-b`] as const;
  // Interface names are limited to 15 characters.
  const veth = [`tsw${id}a`, `tsw${id}b`] as const;
  // Teardowns of the engines, run by ours in order: services first (else Swarm would restart the
  // tasks the engine teardown removes), engines next, the namespaces they ran in last.
  const engineTeardowns: Array<() => unknown> = [];
  const engineScope: Teardown = { teardown: (fn) => engineTeardowns.push(fn) };
  let manager: OwnEngine | undefined;
  t.teardown(async () => {
    if (manager) {
      for (const s of await manager.docker.listServices().catch(() => [])) {
        await manager.docker
          .getService(s.ID)
          .remove()
          .catch(() => undefined);
      }
    }
    for (const fn of engineTeardowns.reverse()) await fn();
    for (const name of netns) await run('ip', ['netns', 'delete', name]).catch(() => undefined);
  });

  for (const name of netns) await run('ip', ['netns', 'add', name]);
  await run('ip', ['link', 'add', veth[0], 'type', 'veth', 'peer', 'name', veth[1]]);
  for (const i of [0, 1] as const) {
    await run('ip', ['link', 'set', veth[i], 'netns', netns[i]]);
    await run('ip', ['-n', netns[i], 'address', 'add', `${NODE_ADDRESSES[i]}/24`, 'dev', veth[i]]);
    await run('ip', ['-n', netns[i], 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', netns[i], 'link', 'set', veth[i], 'up']);
  }

  const [a, b] = await Promise.all(netns.map((name) => startOwnEngine(engineScope, [], { netns: name })));
  if (!a || !b) throw new Error('both engines should have started');
  manager = a;
  await a.docker.swarmInit({
    ListenAddr: `${NODE_ADDRESSES[0]}:2377`,
    AdvertiseAddr: NODE_ADDRESSES[0],
    DefaultAddrPool: [LAB_DEFAULT_ADDR_POOL],
    SubnetSize: 24,
  });
  const swarm = (await a.docker.swarmInspect()) as { JoinTokens: { Worker: string } };
  await b.docker.swarmJoin({
    ListenAddr: `${NODE_ADDRESSES[1]}:2377`,
    AdvertiseAddr: NODE_ADDRESSES[1],
    RemoteAddrs: [`${NODE_ADDRESSES[0]}:2377`],
    JoinToken: swarm.JoinTokens.Worker,
  });
  const nodeId = async (engine: OwnEngine) =>
    ((await engine.docker.info()) as { Swarm: { NodeID: string } }).Swarm.NodeID;
  const nodes: [SwarmNode, SwarmNode] = [
    { id: await nodeId(a), name: 'a', engine: a, address: NODE_ADDRESSES[0], netns: netns[0] },
    { id: await nodeId(b), name: 'b', engine: b, address: NODE_ADDRESSES[1], netns: netns[1] },
  ];
  await waitForNodesReady(
    a,
    nodes.map((n) => n.id),
  );
  return { manager: nodes[0], worker: nodes[1], nodes };
}

/** Resolves once the manager reports every given node Ready (a join is seen a moment later). */
async function waitForNodesReady(manager: OwnEngine, ids: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const nodes = (await manager.docker.listNodes()) as Array<{ ID: string; Status: { State: string } }>;
    if (ids.every((id) => nodes.some((n) => n.ID === id && n.Status.State === 'ready'))) return;
    if (Date.now() > deadline) throw new Error(`swarm nodes not ready: ${JSON.stringify(nodes.map((n) => n.Status))}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
