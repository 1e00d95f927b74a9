import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Teardown } from '@tenancy/test-support';
import { errors } from '../../src/errors.js';
import type { ControllerSettings } from '../../src/lifecycle/controller.js';
import type { DiskUsage } from '../../src/runtime/tenant-disks.js';
import type {
  ContainerStatus,
  NodeMemory,
  RuntimeCapabilities,
  RuntimeEvent,
  TenantRuntime,
  TenantSpec,
} from '../../src/runtime/types.js';
import { createStore, openDatabase } from '../../src/store/index.js';

/**
 * The real central store on an in-memory SQLite database, so the constraints the SQL enforces
 * (unique subnets, allowed states) are the ones the controller's unit tests meet. `audits()`
 * lists the audit log oldest first.
 */
export function memoryStore(t: Teardown, now?: () => number) {
  const store = createStore(openDatabase(':memory:'), now);
  t.teardown(() => store.close());
  return Object.assign(store, {
    addUser(userId: string, plan?: string): void {
      store.users.upsert(userId, plan ? { plan } : {});
    },
    audits: () => store.audit.list({ limit: 10_000 }).reverse(),
  });
}

/**
 * Controller settings for unit tests: short budgets and probe intervals, stop-only sleep, a
 * reaper that never fires on its own (tests call `reap`), and a pool clear of the default one.
 */
export const TEST_SETTINGS: Readonly<ControllerSettings> = {
  namespaceKey: 'unit-test-namespace-key-0123456789',
  instance: 'unit',
  image: 'tenancy/tenant:local',
  port: 8080,
  healthPath: '/health',
  subnetPool: '10.214.0.0/24',
  subnetPrefix: 28,
  idleTimeoutMs: 60_000,
  warmupTimeoutMs: 2_000,
  stopGraceMs: 1_000,
  probeIntervalMs: 10,
  probeMaxIntervalMs: 40,
  // Stop-only sleep unless a test turns pausing on.
  pauseTimeoutMs: 0,
  memoryReserveBytes: 0,
  wakeConcurrency: 4,
  extraEnv: {},
  reaperIntervalMs: 60_000,
  maxRunning: 10,
  capacityPolicy: 'reject',
  evictMinIdleMs: 60_000,
};

/**
 * A local HTTP server standing in for tenant apps: `/health` answers as `healthy` says; `/summary`
 * answers `summary.body` (raw text, so tests can send garbage) to requests with `summary.secret`.
 */
export async function fakeTenantApp(t: Teardown): Promise<{
  url: string;
  healthy: { value: boolean };
  summary: { body: string; secret: string; requests: number };
  server: Server;
}> {
  const healthy = { value: true };
  const summary = { body: '', secret: '', requests: 0 };
  const server = createServer((req, res) => {
    if (req.url === '/health' && healthy.value) {
      res.writeHead(200).end('{"status":"ok"}');
      return;
    }
    if (req.url === '/summary' && summary.body !== '') {
      summary.requests++;
      const allowed = req.headers['x-tenancy-tenant-secret'] === summary.secret;
      res.writeHead(allowed ? 200 : 401, { 'content-type': 'application/json' }).end(allowed ? summary.body : '{}');
      return;
    }
    res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, healthy, summary, server };
}

/**
 * A runtime that records calls; containers "run" by pointing at the fake tenant app. It can
 * pause and gives subnets unless `capabilities` says otherwise. Its one node, `local`, has
 * memory to spare unless `control.memory` says otherwise.
 */
export function fakeRuntime(endpointUrl: string, capabilities: Partial<RuntimeCapabilities> = {}) {
  const calls = { ensure: 0, start: 0, stop: 0, remove: 0, reattach: 0, pause: 0, unpause: 0, usedSubnets: 0 };
  /** Every spec ensure was given, in order. */
  const specs: TenantSpec[] = [];
  const running = new Map<string, boolean>();
  const paused = new Set<string>();
  const control = {
    /** Makes `ensure` fail with this error. */
    failEnsure: undefined as Error | undefined,
    /** Delay of each ensure, to hold a wake in its first phase. */
    ensureDelayMs: 0,
    /** Ensure waits for this before returning, when set (to hold wakes in their start slot). */
    ensureGate: undefined as Promise<void> | undefined,
    /** Stop waits for this before it returns, when set (an engine slow to stop). */
    stopGate: undefined as Promise<void> | undefined,
    /** Subnets ensure refuses as taken on the engine (SUP_ERR_SUBNET_CONFLICT). */
    conflictingSubnets: new Set<string>(),
    /** What usedSubnets reports. */
    engineSubnets: [] as string[],
    emit: undefined as ((event: RuntimeEvent) => void) | undefined,
    /** What `logs` answers. */
    logs: '',
    /** Makes `ping` fail with this error (the engine is unreachable). */
    failPing: undefined as Error | undefined,
    /** What `diskUsage` answers, for every tenant. */
    diskUsage: undefined as DiskUsage | undefined,
    /** What `memory` answers, asked at each call (a promise: a slow read). */
    memory: (): NodeMemory[] | Promise<NodeMemory[]> => [
      { node: 'local', totalBytes: 64 * 1024 ** 3, availableBytes: Number.POSITIVE_INFINITY },
    ],
    /** The node each tenant's container is on, by container name; unset: none said (`node` left out). */
    nodes: new Map<string, string>(),
  };
  /** Every `logs` call: which container, how many lines. */
  const logRequests: { container: string; tail: number }[] = [];
  const runtime: TenantRuntime = {
    capabilities: { pause: true, subnets: true, ...capabilities },
    async archiveVolume() {
      return undefined;
    },
    async removeExportHelpers() {
      return 0;
    },
    async ensure(spec, signal) {
      calls.ensure++;
      specs.push(spec);
      if (control.ensureDelayMs) await new Promise((resolve) => setTimeout(resolve, control.ensureDelayMs));
      if (control.ensureGate) await control.ensureGate;
      signal?.throwIfAborted();
      if (control.failEnsure) throw control.failEnsure;
      if (spec.subnet && control.conflictingSubnets.has(spec.subnet)) throw errors.subnetConflict();
      return { containerId: `c-${spec.tenantHash}`, created: true };
    },
    async start(names) {
      calls.start++;
      running.set(names.container, true);
      return { containerId: `c-${names.container}`, endpointUrl };
    },
    async stop(names) {
      calls.stop++;
      if (control.stopGate) await control.stopGate;
      paused.delete(names.container);
      running.set(names.container, false);
    },
    async pause(names) {
      calls.pause++;
      // The engine's answer: 409 for a container that is not running.
      if (running.get(names.container) !== true)
        throw Object.assign(new Error('container is not running'), { statusCode: 409 });
      paused.add(names.container);
    },
    async unpause(names) {
      calls.unpause++;
      paused.delete(names.container);
    },
    async remove(names) {
      calls.remove++;
      running.delete(names.container);
    },
    async diskUsage() {
      return control.diskUsage;
    },
    async inspect(names) {
      return status(names.container);
    },
    async logs(names, tail) {
      logRequests.push({ container: names.container, tail });
      return control.logs;
    },
    async list() {
      return [...running.keys()].map(status).filter((s): s is ContainerStatus => s !== undefined);
    },
    async usedSubnets() {
      calls.usedSubnets++;
      return control.engineSubnets;
    },
    async memory(node) {
      const nodes = await control.memory();
      return node === undefined ? nodes : nodes.filter((entry) => entry.node === node);
    },
    watch(onEvent) {
      control.emit = onEvent;
      return () => undefined;
    },
    async ping() {
      if (control.failPing) throw control.failPing;
    },
    async reattach() {
      calls.reattach++;
    },
  };
  function status(container: string): ContainerStatus | undefined {
    if (!running.has(container)) return undefined;
    const isRunning = running.get(container) === true;
    return {
      containerId: `c-${container}`,
      tenantHash: container.split('-').pop() ?? '',
      running: isRunning,
      paused: paused.has(container),
      exitCode: isRunning ? undefined : 0,
      oomKilled: false,
      endpointUrl: isRunning ? endpointUrl : undefined,
      ...(control.nodes.has(container) ? { node: control.nodes.get(container) } : {}),
    };
  }
  return { runtime, calls, specs, running, paused, control, logRequests };
}

/** Resolves once `condition` holds, checking after every turn of the event loop (at most 10 s). */
export async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
