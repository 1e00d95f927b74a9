import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import t from 'tap';
import { engineCall } from '../../src/runtime/engine-calls.js';
import { memAvailable } from '../../src/runtime/host-memory.js';
import type { QuickCall } from '../../src/runtime/swarm-attach.js';
import { anchorMemAvailable, RecentReadings, swarmMemory } from '../../src/runtime/swarm-memory.js';

const GiB = 1024 ** 3;
const MEMINFO =
  'MemTotal:       16384000 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\nBuffers:           10000 kB\n';

t.test('MemAvailable is read from a /proc/meminfo text, in bytes', async (t) => {
  const cases: Array<[string, string, number | undefined]> = [
    ['a whole file', MEMINFO, 8_000_000 * 1024],
    ['the last line, no newline', 'MemTotal: 2 kB\nMemAvailable: 1 kB', 1024],
    ['CRLF line ends', 'MemTotal: 2 kB\r\nMemAvailable: 1 kB\r\n', 1024],
    ['no such line (a kernel before 3.14)', 'MemTotal: 2 kB\nMemFree: 1 kB\n', undefined],
    ['not a number', 'MemAvailable: many kB\n', undefined],
    ['empty output', '', undefined],
  ];
  for (const [name, text, expected] of cases) t.equal(memAvailable(text), expected, name);
});

t.test('each available node gets its real figure, or what tenant limits leave where it is unread', async (t) => {
  const debug: object[] = [];
  const memory = await swarmMemory({
    nodes: [
      { id: 'a', available: true, memoryBytes: 16 * GiB },
      { id: 'b', available: true, memoryBytes: 16 * GiB },
      { id: 'c', available: false, memoryBytes: 16 * GiB },
      { id: 'd', available: true, memoryBytes: 4 * GiB },
    ],
    tenants: [
      { nodeId: 'a', reservedBytes: 4 * GiB },
      { nodeId: 'b', reservedBytes: 4 * GiB },
      { nodeId: 'b', reservedBytes: 0 },
      { nodeId: 'd', reservedBytes: 8 * GiB },
    ],
    readAvailable: async (nodeId) => {
      if (nodeId === 'a') return 15 * GiB;
      throw new Error(`no anchor on ${nodeId}`);
    },
    log: { debug: (obj) => debug.push(obj) },
  });
  t.strictSame(memory, [
    { node: 'a', totalBytes: 16 * GiB, availableBytes: 15 * GiB },
    { node: 'b', totalBytes: 16 * GiB, availableBytes: 12 * GiB },
    { node: 'd', totalBytes: 4 * GiB, availableBytes: 0 },
  ]);
  t.strictSame(
    debug.map((entry) => (entry as { node: string }).node),
    ['b', 'd'],
    'each fallback is logged with its node',
  );
});

t.test('the nodes are read at once, not one after another', async (t) => {
  const asked: string[] = [];
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const pending = swarmMemory({
    nodes: ['a', 'b', 'c'].map((id) => ({ id, available: true, memoryBytes: GiB })),
    tenants: [],
    readAvailable: async (nodeId) => {
      asked.push(nodeId);
      if (asked.length === 3) release();
      await gate;
      return GiB / 2;
    },
  });
  t.strictSame(
    (await pending).map((entry) => entry.availableBytes),
    [GiB / 2, GiB / 2, GiB / 2],
  );
  t.strictSame(asked, ['a', 'b', 'c'], 'every node asked before any answered');
});

/** Docker's multiplexed stream frame: stream type 1 (stdout), size, payload. */
function stdoutFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(1, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** An engine whose anchor exec answers with `output` (or never ends when it is undefined). */
function fakeEngine(output: string | undefined, seen: { container?: string; cmd?: string[]; stream?: PassThrough }) {
  return {
    getContainer(name: string) {
      seen.container = name;
      return {
        async exec(options: { Cmd: string[] }) {
          seen.cmd = options.Cmd;
          return {
            async start() {
              const stream = new PassThrough();
              seen.stream = stream;
              if (output !== undefined) stream.end(stdoutFrame(output));
              return stream;
            },
          };
        },
      };
    },
  } as unknown as Docker;
}

const quickWithin =
  (ms: number): QuickCall =>
  (operation, call, signal) =>
    engineCall(operation, ms, signal, call);

t.test("a node's MemAvailable is read by an exec of node in its anchor", async (t) => {
  const seen: { container?: string; cmd?: string[] } = {};
  t.equal(await anchorMemAvailable(fakeEngine(MEMINFO, seen), 'inst', quickWithin(10_000)), 8_000_000 * 1024);
  t.equal(seen.container, 'inst-anchor', 'in the anchor of the instance');
  t.equal(seen.cmd?.[0], 'node', 'with node: the image need not have cat');
  t.ok(seen.cmd?.includes('--v8-pool-size=1'), "with one V8 worker: the anchor's PID limit counts threads");
});

t.test('an anchor whose output holds no figure, or which is missing, fails the read', async (t) => {
  await t.rejects(anchorMemAvailable(fakeEngine('', {}), 'inst', quickWithin(10_000)), /no MemAvailable/);
  const missing = {
    getContainer: () => ({
      exec: async () => {
        throw Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404 });
      },
    }),
  } as unknown as Docker;
  await t.rejects(anchorMemAvailable(missing, 'inst', quickWithin(10_000)), /no such container/);
});

t.test('an exec that never ends fails at the call limit and its stream is torn down', async (t) => {
  const seen: { stream?: PassThrough } = {};
  await t.rejects(anchorMemAvailable(fakeEngine(undefined, seen), 'inst', quickWithin(50)), {
    code: 'SUP_ERR_RUNTIME_UNAVAILABLE',
  });
  t.ok(seen.stream?.destroyed, 'the stream is destroyed');
});

t.test('a node reading is kept for its age limit, shared by reads at once, forgotten on demand', async (t) => {
  let clock = 1_000;
  const reads: string[] = [];
  let fail = false;
  const readings = new RecentReadings(
    async (nodeId) => {
      reads.push(nodeId);
      if (fail) throw new Error('exec refused');
      return reads.length;
    },
    20_000,
    () => clock,
  );
  t.strictSame(await Promise.all([readings.get('a'), readings.get('a'), readings.get('b')]), [1, 1, 2]);
  t.strictSame(reads, ['a', 'b'], 'one read per node for reads at once');
  clock += 19_999;
  t.equal(await readings.get('a'), 1, 'kept while younger than the limit');
  clock += 1;
  t.equal(await readings.get('a'), 3, 'read again once as old as the limit');
  readings.forget();
  t.equal(await readings.get('a'), 4, 'read again after forget (a tenant changed)');
  fail = true;
  readings.forget();
  await t.rejects(readings.get('b'), /exec refused/);
  fail = false;
  t.equal(await readings.get('b'), 6, 'a failed read is not kept');
  t.equal(reads.length, 6);
});
