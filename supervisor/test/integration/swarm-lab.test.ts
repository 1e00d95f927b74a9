import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { testImages } from '@tenancy/test-support';
import t from 'tap';
import { type SwarmLab, startSwarmLab } from './swarm-lab.js';

const run = promisify(execFile);

/** `docker -H <engine> …`: the CLI's output, trimmed. */
async function docker(host: string, args: string[]): Promise<string> {
  return (await run('docker', ['-H', host, ...args])).stdout.trim();
}

/** Resolves once the container's output contains `text`: the moment its server listens. */
async function waitForLog(host: string, container: string, text: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await run('docker', ['-H', host, 'logs', container])).stdout.includes(text)) {
    if (Date.now() > deadline) throw new Error(`${container} never printed ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const SERVER =
  'require("http").createServer((q, s) => s.end("from node b")).listen(8080, () => console.log("listening"))';
const CLIENT =
  'fetch(process.argv[1], { signal: AbortSignal.timeout(20000) }).then((r) => r.text()).then(console.log, (e) => console.log("ERR", e.cause?.code ?? e.name))';

t.test(
  'the two-node lab: an overlay network carries traffic from a container on node a to one on node b',
  async (t) => {
    let lab: SwarmLab | undefined;
    await t.test('on the lab', async (t) => {
      lab = await startSwarmLab(t);
      const { manager, worker } = lab;
      const nodes = (await manager.engine.docker.listNodes()) as Array<{
        ID: string;
        Status: { State: string };
        ManagerStatus?: { Leader?: boolean };
      }>;
      t.same(
        nodes.map((n) => [n.ID, n.Status.State, n.ManagerStatus?.Leader === true]).sort(),
        [
          [manager.id, 'ready', true],
          [worker.id, 'ready', false],
        ].sort(),
        'one manager and one worker, both ready',
      );

      await docker(manager.engine.dockerHost, [
        'network',
        'create',
        '--driver=overlay',
        '--attachable',
        '--subnet=10.230.250.0/28',
        'spans',
      ]);
      await docker(worker.engine.dockerHost, [
        'run',
        '-d',
        '--name=server',
        '--network=spans',
        '--entrypoint=node',
        testImages.tenant,
        '-e',
        SERVER,
      ]);
      await waitForLog(worker.engine.dockerHost, 'server', 'listening');
      const serverIp = await docker(worker.engine.dockerHost, [
        'inspect',
        'server',
        '--format',
        '{{(index .NetworkSettings.Networks "spans").IPAddress}}',
      ]);
      const answer = await docker(manager.engine.dockerHost, [
        'run',
        '--rm',
        '--network=spans',
        '--entrypoint=node',
        testImages.tenant,
        '-e',
        CLIENT,
        `http://${serverIp}:8080/`,
      ]);
      t.equal(answer, 'from node b', 'the container on node a reached the one on node b over VXLAN');
    });

    // After the lab's teardown: nothing of it is left on this machine.
    const { stdout: namespaces } = await run('ip', ['netns', 'list']);
    for (const node of lab?.nodes ?? []) {
      t.notMatch(namespaces, node.netns, `namespace ${node.netns} deleted`);
      const dir = dirname(new URL(node.engine.dockerHost.replace('unix://', 'file://')).pathname);
      t.notOk(existsSync(dir), `engine folder of node ${node.name} removed`);
      t.notMatch(
        await readFile('/proc/self/mounts', 'utf8'),
        dir,
        `nothing left mounted under node ${node.name}'s folder`,
      );
    }
    t.ok(lab, 'the lab started');
  },
);
