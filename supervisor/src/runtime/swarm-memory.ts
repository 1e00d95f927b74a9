import { addAbortSignal, type Duplex } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type Docker from 'dockerode';
import { demuxLogs } from './docker-runtime.js';
import { memAvailable } from './host-memory.js';
import { anchorName, type QuickCall } from './swarm-attach.js';
import { type NodeCapacity, type PinnedTenant, unreservedMemory } from './swarm-spec.js';
import type { NodeMemory } from './types.js';

/**
 * Prints /proc/meminfo with the image's `node`: the tenant image need not have `cat`. One V8
 * worker thread, not four: the anchor's PID limit (16) counts threads, the idle anchor holds 7
 * and this exec 4 (7 with the default pool; measured on Node 20), so two reads at once still fit.
 */
const READ_MEMINFO = [
  'node',
  '--v8-pool-size=1',
  '-e',
  "process.stdout.write(require('fs').readFileSync('/proc/meminfo', 'utf8'))",
];

/** Where a node's memory could not be read, and why (a debug line: the fallback is expected before any tenant). */
export interface DebugLog {
  debug(obj: object, msg: string): void;
}

export interface SwarmMemoryOptions {
  /** Every node of the swarm; entries are made for the ready and active ones only. */
  nodes: readonly NodeCapacity[];
  /** The tenants pinned to nodes and the memory their limits reserve while awake. */
  tenants: readonly PinnedTenant[];
  /** The node's real available memory, bytes (see {@link anchorMemAvailable}); rejects when unknown. */
  readAvailable: (nodeId: string) => Promise<number>;
  log?: DebugLog;
}

/**
 * One entry per ready and active node: its memory as Swarm reports it, and what it really has
 * available (`MemAvailable`), read on every node at once. A node whose figure cannot be read
 * (no anchor yet, its engine slow or unknown) gets what the memory limits of the tenants awake
 * on it leave instead, the figure placement uses (`unreservedMemory`): an upper bound of use,
 * so that node keeps fewer paused tenants until its figure is read again; one node never fails
 * the others.
 */
export function swarmMemory(options: SwarmMemoryOptions): Promise<NodeMemory[]> {
  return Promise.all(
    options.nodes
      .filter((node) => node.available)
      .map(async (node) => {
        const availableBytes = await options.readAvailable(node.id).catch((err: unknown) => {
          options.log?.debug({ node: node.id, err }, 'node memory unread; counting tenant limits instead');
          return Math.max(0, unreservedMemory(node, options.tenants));
        });
        return { node: node.id, totalBytes: node.memoryBytes, availableBytes };
      }),
  );
}

/**
 * The `MemAvailable` of an engine's node, bytes, read in the node's anchor container
 * (swarm-attach.ts): the engine API reports no node's free memory, and a container's
 * /proc/meminfo shows its host's (no lxcfs on nodes; a container's own limit does not show).
 * One exec in one `quick` call, bounded by its limit: create, start, read to the end. Rejects
 * when the node has no anchor (no tenant network yet) or the output holds no figure.
 */
export async function anchorMemAvailable(engine: Docker, instance: string, quick: QuickCall): Promise<number> {
  const output = await quick('container exec', async (abortSignal) => {
    const execution = await engine
      .getContainer(anchorName(instance))
      .exec({ Cmd: READ_MEMINFO, AttachStdout: true, AttachStderr: false, abortSignal } as never);
    const stream = (await execution.start({ hijack: true, stdin: false, abortSignal } as never)) as Duplex;
    // The hijacked connection outlives the request: torn down with the call when time is up.
    return buffer(addAbortSignal(abortSignal, stream));
  });
  const available = memAvailable(demuxLogs(output));
  if (available === undefined) throw new Error("no MemAvailable in the anchor's /proc/meminfo");
  return available;
}

/**
 * How long a node's `MemAvailable` reading is reused when no tenant changed: four passes of the
 * default REAPER_INTERVAL (5 s) share one exec per node instead of making one each.
 */
export const MEMORY_READING_MAX_AGE_MS = 20_000;

/**
 * Each node's last `MemAvailable` reading, reused while younger than `maxAgeMs`: on a swarm a
 * reading is an exec on the node (a `node` process, 0.1–0.2 s of CPU), and the memory reserve
 * asks every REAPER_INTERVAL while tenants are paused. Readings are forgotten whenever a tenant
 * starts, stops, pauses, thaws or goes (`forget`), so the reserve sees what each stop gave back;
 * otherwise a node's figure may be up to `maxAgeMs` old. Reads of one node at once share one exec.
 */
export class RecentReadings {
  private readonly readings = new Map<string, { value: Promise<number>; at: number }>();

  constructor(
    private readonly read: (nodeId: string) => Promise<number>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(nodeId: string): Promise<number> {
    const recent = this.readings.get(nodeId);
    if (recent && this.now() - recent.at < this.maxAgeMs) return recent.value;
    const value = this.read(nodeId);
    const reading = { value, at: this.now() };
    this.readings.set(nodeId, reading);
    // A failed read is not kept: the next asks again.
    value.catch(() => {
      if (this.readings.get(nodeId) === reading) this.readings.delete(nodeId);
    });
    return value;
  }

  forget(): void {
    this.readings.clear();
  }
}
