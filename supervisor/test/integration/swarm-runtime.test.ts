import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { testImages } from '@tenancy/test-support';
import { tarEntryNames } from '@tenancy/test-support/archive';
import type Docker from 'dockerode';
import t from 'tap';
import { DEFAULT_PLAN } from '../../src/plans.js';
import { availableMemory } from '../../src/runtime/host-memory.js';
import { createSwarmRuntime } from '../../src/runtime/swarm-runtime.js';
import type { TenantRuntime, TenantSpec } from '../../src/runtime/types.js';
import { CONNECT, exec, testSpec } from './helpers.js';
import { type SwarmLab, type SwarmNode, startSwarmLab } from './swarm-lab.js';

/** Stands in for the gateway: one replica on each node, attached to tenant networks by the runtime. */
const PEER_SERVICE = 'peer';
const IDLE = 'setInterval(() => {}, 1 << 30)';
const FETCH =
  'fetch(process.argv[1], { signal: AbortSignal.timeout(5000) }).then((r) => console.log(r.status), (e) => console.log(e.cause?.code ?? e.name))';

interface Task {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; ContainerStatus?: { ContainerID?: string } };
}

async function tasksOf(docker: Docker, service: string): Promise<Task[]> {
  return (await docker.listTasks({ filters: { service: [service] } })) as Task[];
}

const mib = (bytes: number) => Math.round(bytes / 1024 ** 2);

/** Resolves once `check` holds (Swarm changes state in the background); fails after a minute. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The running task container of a service and the engine of its node. */
async function runningOn(lab: SwarmLab, service: string): Promise<{ node: SwarmNode; containerId: string }> {
  const task = (await tasksOf(lab.manager.engine.docker, service)).find((t) => t.Status.State === 'running');
  const node = lab.nodes.find((n) => n.id === task?.NodeID);
  const containerId = task?.Status.ContainerStatus?.ContainerID;
  if (!node || !containerId) throw new Error(`${service} runs nowhere`);
  return { node, containerId };
}

t.test('swarm runtime on a real two-node swarm', async (t) => {
  const lab = await startSwarmLab(t);
  const manager = lab.manager.engine.docker;
  const instance = `s${randomBytes(3).toString('hex')}`;
  const runtime: TenantRuntime = createSwarmRuntime({
    docker: manager,
    instance,
    attach: [PEER_SERVICE],
    nodeEngines: new Map(lab.nodes.map((node) => [node.id, node.engine.docker])),
    port: 8080,
    anchorImage: testImages.tenant,
  });
  await runtime.ping();

  // The gateway's stand-in: global, one task per node, started before any tenant exists, on a
  // network of its own as the gateway is (nginx reaches it there).
  await manager.createNetwork({
    Name: 'front',
    Driver: 'overlay',
    IPAM: { Config: [{ Subnet: '10.230.200.0/24' }] },
  } as never);
  await manager.createService({
    Name: PEER_SERVICE,
    TaskTemplate: {
      ContainerSpec: { Image: testImages.tenant, Command: ['node', '-e', IDLE] },
      Networks: [{ Target: 'front' }],
    },
    Mode: { Global: {} },
  } as never);
  await eventually('a peer runs on each node', async () => {
    const running = (await tasksOf(manager, PEER_SERVICE)).filter((task) => task.Status.State === 'running');
    return new Set(running.map((task) => task.NodeID)).size === 2;
  });
  const peerTasksBefore = (await tasksOf(manager, PEER_SERVICE)).map((task) => task.ID).sort();
  const peers = await Promise.all(
    lab.nodes.map(async (node) => {
      const [container] = await node.engine.docker.listContainers({
        filters: { label: [`com.docker.swarm.service.name=${PEER_SERVICE}`] },
      });
      return { node, containerId: container?.Id ?? '' };
    }),
  );

  const limits = { ...DEFAULT_PLAN, memoryBytes: 256 * 1024 ** 2, nanoCpus: 500_000_000, pids: 128 };
  const specs: TenantSpec[] = ['swarm-user-1', 'swarm-user-2'].map((user, i) => ({
    ...testSpec(instance, user),
    limits,
    subnet: `10.213.250.${i * 16}/28`,
  }));
  const endpoints: string[] = [];
  for (const spec of specs) {
    const ensured = await runtime.ensure(spec);
    t.ok(ensured.created, `${spec.names.container}: service made`);
    t.notOk((await runtime.inspect(spec.names))?.running, 'asleep until started');
    const running = await runtime.start(spec.names);
    endpoints.push(running.endpointUrl);
  }
  const placed = await Promise.all(specs.map((spec) => runningOn(lab, spec.names.container)));
  t.same(placed.map((p) => p.node.name).sort(), ['a', 'b'], 'the two tenants landed on the two nodes');

  await t.test('the tenant task is hardened as on one host', async (t) => {
    const { node, containerId } = placed[0] ?? { node: lab.manager, containerId: '' };
    const info = await node.engine.docker.getContainer(containerId).inspect();
    t.equal(info.Config.User, '1000:1000', 'non-root');
    t.same(info.HostConfig.CapDrop, ['ALL'], 'every capability dropped');
    t.equal(info.HostConfig.ReadonlyRootfs, true, 'read-only root');
    t.equal(info.HostConfig.PidsLimit, 128, 'PID limit');
    t.equal(info.HostConfig.Memory, 256 * 1024 ** 2, 'memory limit');
    t.equal(info.HostConfig.NanoCpus, 500_000_000, 'CPU limit');
    t.equal(info.HostConfig.Privileged, false, 'not privileged');
    t.same(info.HostConfig.PortBindings ?? {}, {}, 'no published ports');
    t.equal(info.Config.Labels?.['dev.tenancy.instance'], instance, 'labelled with the instance');
    const mounts = (
      await exec(node.engine.docker, containerId, [
        'node',
        '-e',
        'process.stdout.write(require("fs").readFileSync("/proc/mounts", "utf8"))',
      ])
    ).output;
    t.match(mounts, /tmpfs \/tmp tmpfs [^\n]*nosuid,nodev,noexec/, '/tmp is a noexec tmpfs');
    t.equal(
      (
        await exec(node.engine.docker, containerId, [
          'node',
          '-e',
          'require("fs").writeFileSync("/data/files/probe", "kept")',
        ])
      ).exitCode,
      0,
      'the tenant writes its files volume',
    );
  });

  await t.test('memory is per node, its real MemAvailable read in the anchor; statuses name the node', async (t) => {
    // The lab's nodes are namespaces of this machine: their /proc/meminfo is this one's.
    const before = availableMemory();
    const started = performance.now();
    const memory = await runtime.memory();
    const ms = performance.now() - started;
    const after = availableMemory();
    t.strictSame(
      memory.map((entry) => entry.node).sort(),
      lab.nodes.map((node) => node.id).sort(),
      'one entry per node',
    );
    // Memory moves meanwhile (other tests run on this machine): within what it was around the call.
    const slack = 256 * 1024 ** 2;
    for (const entry of memory) {
      t.ok(entry.totalBytes > limits.memoryBytes, `node ${entry.node} reports its memory`);
      t.not(entry.availableBytes, entry.totalBytes - limits.memoryBytes, 'not what the awake tenant’s limit leaves');
      t.ok(
        entry.availableBytes >= Math.min(before, after) - slack &&
          entry.availableBytes <= Math.max(before, after) + slack,
        `node ${entry.node}: ${mib(entry.availableBytes)} MiB available, this machine ${mib(before)}–${mib(after)} MiB`,
      );
    }
    const times = [ms];
    for (let i = 0; i < 4; i++) {
      const again = performance.now();
      await runtime.memory();
      times.push(performance.now() - again);
    }
    t.comment(`memory() on two nodes: ${times.map((time) => Math.round(time)).join(', ')} ms (readings kept 20 s)`);
    t.strictSame(
      (await runtime.memory(lab.manager.id)).map((entry) => entry.node),
      [lab.manager.id],
      'asked for one node: its entry only',
    );

    // Node a's anchor frozen (its exec refused) and no engine known for node b: each node falls
    // back to what the limits of its awake tenants leave, and the call still answers.
    const debug: Array<{ node: string }> = [];
    const blind = createSwarmRuntime({
      docker: manager,
      instance,
      nodeEngines: new Map([[lab.manager.id, lab.manager.engine.docker]]),
      port: 8080,
      anchorImage: testImages.tenant,
      log: { debug: (obj) => debug.push(obj as { node: string }) },
    });
    const anchor = lab.manager.engine.docker.getContainer(`${instance}-anchor`);
    await anchor.pause();
    t.teardown(() => anchor.unpause().catch(() => undefined));
    for (const entry of await blind.memory()) {
      t.equal(entry.availableBytes, entry.totalBytes - limits.memoryBytes, `node ${entry.node}: total less the limit`);
    }
    t.strictSame(
      debug.map((entry) => entry.node).sort(),
      lab.nodes.map((node) => node.id).sort(),
      'each fallback logged with its node',
    );
    await anchor.unpause();
    const listed = new Map((await runtime.list()).map((status) => [status.tenantHash, status.node]));
    for (const [i, spec] of specs.entries()) {
      const node = placed[i]?.node.id;
      t.equal(listed.get(spec.tenantHash), node, `list: ${spec.names.container} on its node`);
      t.equal((await runtime.inspect(spec.names))?.node, node, `inspect: ${spec.names.container} on its node`);
    }
  });

  await t.test('the peer on each node reaches the tenants on both, and was never restarted', async (t) => {
    for (const peer of peers) {
      for (const endpoint of endpoints) {
        const { output } = await exec(peer.node.engine.docker, peer.containerId, [
          'node',
          '-e',
          FETCH,
          `${endpoint}/health`,
        ]);
        t.equal(output.trim(), '200', `peer on node ${peer.node.name} → ${endpoint}`);
      }
    }
    t.same(
      (await tasksOf(manager, PEER_SERVICE)).map((task) => task.ID).sort(),
      peerTasksBefore,
      'the same peer tasks as before the tenants',
    );
  });

  await t.test('a tenant reaches neither the other tenant (on the other node) nor the nodes', async (t) => {
    const [first, second] = placed;
    if (!first || !second) throw new Error('two tenants');
    const self = new URL(endpoints[0] ?? '');
    const other = new URL(endpoints[1] ?? '');
    const probe = async (host: string, port: string) =>
      (await exec(first.node.engine.docker, first.containerId, ['node', '-e', CONNECT, host, port])).output.trim();
    t.equal(await probe(self.hostname, self.port), 'open', 'control: it reaches itself');
    t.not(await probe(other.hostname, other.port), 'open', 'the other tenant, on the other node');
    for (const node of lab.nodes) {
      // dockerd's swarm port listens on each node's address: nothing of a node is in reach.
      t.not(await probe(node.address, '2377'), 'open', `node ${node.name}'s address`);
    }
  });

  await t.test(
    'pause freezes the task on its node; list and inspect say so (what a restarted supervisor adopts)',
    async (t) => {
      const spec = specs[1] as TenantSpec;
      await runtime.pause(spec.names);
      const listed = (await runtime.list()).find((status) => status.tenantHash === spec.tenantHash);
      t.match(listed, { running: true, paused: true }, 'list: running and paused');
      t.match(await runtime.inspect(spec.names), { running: true, paused: true }, 'inspect: running and paused');
      await runtime.unpause(spec.names);
      t.match(await runtime.inspect(spec.names), { running: true, paused: false }, 'thawed');
      t.equal((await runtime.list()).filter((status) => status.running).length, 2, 'list: both tenants running');
    },
  );

  await t.test(
    'a re-created peer is reported (peer-start) and reattach connects it to every tenant network',
    async (t) => {
      const started: string[] = [];
      const stop = runtime.watch(
        (event) => {
          if (event.type === 'peer-start') started.push(event.containerId);
        },
        (err) => t.fail(String(err)),
      );
      t.teardown(stop);
      const service = (await manager.getService(PEER_SERVICE).inspect()) as {
        Version: { Index: number };
        Spec: { TaskTemplate: { ForceUpdate?: number } };
      };
      // As `make up` or a rolling update of the gateway does: new tasks, without the tenant networks.
      await manager.getService(PEER_SERVICE).update({
        _query: { version: service.Version.Index },
        _body: {
          ...service.Spec,
          TaskTemplate: { ...service.Spec.TaskTemplate, ForceUpdate: (service.Spec.TaskTemplate.ForceUpdate ?? 0) + 1 },
        },
      } as never);
      const fresh = async () => {
        const all = await Promise.all(
          lab.nodes.map((node) =>
            node.engine.docker.listContainers({
              filters: { label: [`com.docker.swarm.service.name=${PEER_SERVICE}`] },
            }),
          ),
        );
        return all.flat().filter((c) => !peers.some((p) => p.containerId === c.Id));
      };
      await eventually('new peer tasks run on both nodes', async () => (await fresh()).length === 2);
      const now = await fresh();
      await eventually('both starts were reported', async () => now.every((c) => started.includes(c.Id)));
      await runtime.reattach();
      for (const node of lab.nodes) {
        const [container] = await node.engine.docker.listContainers({
          filters: { label: [`com.docker.swarm.service.name=${PEER_SERVICE}`] },
        });
        for (const endpoint of endpoints) {
          const { output } = await exec(node.engine.docker, container?.Id ?? '', [
            'node',
            '-e',
            FETCH,
            `${endpoint}/health`,
          ]);
          t.equal(output.trim(), '200', `new peer on node ${node.name} → ${endpoint}`);
        }
      }
    },
  );

  await t.test('sleep scales to 0, wake to 1 on the same node, with the data kept', async (t) => {
    const spec = specs[0] as TenantSpec;
    const before = placed[0]?.node.name;
    await runtime.stop(spec.names, 5_000);
    t.notOk((await runtime.inspect(spec.names))?.running, 'asleep');
    t.equal(
      (await tasksOf(manager, spec.names.container)).filter((task) => task.Status.State === 'running').length,
      0,
      'no task runs',
    );
    const started = performance.now();
    const woken = await runtime.start(spec.names);
    const wakeMs = Math.round(performance.now() - started);
    t.comment(`wake from scale 0 until the task runs: ${wakeMs} ms`);
    const now = await runningOn(lab, spec.names.container);
    t.equal(now.node.name, before, 'back on its node');
    const kept = await exec(now.node.engine.docker, woken.containerId, [
      'node',
      '-e',
      'process.stdout.write(require("fs").readFileSync("/data/files/probe", "utf8"))',
    ]);
    t.equal(kept.output, 'kept', 'its files survived the sleep');
    // ensure again (a later wake) changes nothing.
    t.notOk((await runtime.ensure(spec)).created, 'ensure of an unchanged tenant keeps its service');
  });

  await t.test(
    'export reads the volumes on their node; a reclaimed network and service come back on the same node with the data',
    async (t) => {
      const spec = specs[0] as TenantSpec;
      const node = (await runningOn(lab, spec.names.container)).node;
      const archive = await runtime.archiveVolume(spec.names, testImages.tenant, 'files');
      const chunks: Buffer[] = [];
      for await (const chunk of archive ?? []) chunks.push(chunk as Buffer);
      t.ok((await tarEntryNames(Buffer.concat(chunks))).includes('files/probe'), 'the archive holds the file');

      // What the controller does when the subnet pool is full: service and network go, volumes stay.
      await runtime.stop(spec.names, 5_000);
      await runtime.remove(spec.names, { volumes: false });
      t.notOk(await runtime.inspect(spec.names), 'no service left');
      const moved = { ...spec, subnet: '10.213.250.32/28' };
      t.ok((await runtime.ensure(moved)).created, 'made again on a new subnet');
      const woken = await runtime.start(moved.names);
      t.match(woken.endpointUrl, /^http:\/\/10\.213\.250\.3[3-9]:/, 'on the new subnet');
      const now = await runningOn(lab, spec.names.container);
      t.equal(now.node.name, node.name, 'on the node that holds its volumes');
      const kept = await exec(now.node.engine.docker, now.containerId, [
        'node',
        '-e',
        'process.stdout.write(require("fs").readFileSync("/data/files/probe", "utf8"))',
      ]);
      t.equal(kept.output, 'kept', 'with its data');
      specs[0] = moved;
      endpoints[0] = woken.endpointUrl;
      placed[0] = now;
    },
  );

  await t.test(
    'a down node: its tenant fails to wake with SUP_ERR_NODE_UNAVAILABLE, the other node is unaffected',
    async (t) => {
      const onWorker = specs[placed.findIndex((p) => p.node.name === 'b')] as TenantSpec;
      const onManager = specs[placed.findIndex((p) => p.node.name === 'a')] as TenantSpec;
      await runtime.stop(onWorker.names, 5_000);
      await lab.worker.engine.stop();
      await eventually('the manager sees node b down', async () => {
        const node = (await manager.getNode(lab.worker.id).inspect()) as { Status: { State: string } };
        return node.Status.State === 'down';
      });
      await t.rejects(
        runtime.start(onWorker.names),
        { code: 'SUP_ERR_NODE_UNAVAILABLE' },
        'the wake fails with a clear code',
      );
      const tasks = await tasksOf(manager, onWorker.names.container);
      t.notOk(
        tasks.some((task) => task.NodeID !== lab.worker.id && task.DesiredState === 'running'),
        'no task of it was placed on another node',
      );
      await runtime.stop(onManager.names, 5_000);
      const woken = await runtime.start(onManager.names);
      t.match(woken.endpointUrl, /^http:\/\/10\.213\.250\./, "node a's tenant still wakes");

      // Account deletion: everything of the tenant goes, its volumes on its node included.
      await runtime.remove(onManager.names, { volumes: true });
      t.notOk(await runtime.inspect(onManager.names), 'service removed');
      const volumes = (await lab.manager.engine.docker.listVolumes()).Volumes ?? [];
      t.notOk(
        volumes.some((volume) => volume.Name.startsWith(onManager.names.container)),
        'its volumes removed on node a',
      );
      const pin = await manager
        .getConfig(`${onManager.names.container}-node`)
        .inspect()
        .then(
          () => 200,
          (err: { statusCode?: number }) => err.statusCode,
        );
      t.equal(pin, 404, 'the pin removed');
    },
  );
});
