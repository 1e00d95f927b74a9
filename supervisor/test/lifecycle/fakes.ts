import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UserRecord } from '@tenancy/shared';
import type { Teardown } from '@tenancy/test-support';
import type { AuditEntry, LifecycleStore, TenantRecord, TenantSummary } from '../../src/lifecycle/ports.js';
import type { ContainerStatus, RuntimeEvent, TenantRuntime, TenantSpec } from '../../src/runtime/types.js';

/**
 * In-memory stand-ins for the controller's unit tests. The real store and the Docker runtime
 * have their own tests; the controller is also tested against both in test/integration.
 */
export function memoryStore(): LifecycleStore & {
  audits: AuditEntry[];
  summaries: LifecycleStore['summaries'] & { latest: Map<string, TenantSummary> };
  addUser(userId: string, plan?: string): void;
} {
  const users = new Map<string, UserRecord>();
  const tenants = new Map<string, TenantRecord>();
  const audits: AuditEntry[] = [];
  const latest = new Map<string, TenantSummary>();
  const must = (userId: string) => {
    const tenant = tenants.get(userId);
    if (!tenant) throw new Error(`no tenant ${userId}`);
    return tenant;
  };
  return {
    audits,
    addUser(userId, plan = 'free') {
      users.set(userId, { userId, email: null, plan, onboardingCompleted: false, disabled: false });
    },
    users: { get: (userId) => users.get(userId) },
    tenants: {
      get: (userId) => (tenants.has(userId) ? { ...must(userId) } : undefined),
      getByHash: (hash) => [...tenants.values()].find((tenant) => tenant.tenantHash === hash),
      ensure(userId, tenantHash) {
        if (!tenants.has(userId)) {
          tenants.set(userId, {
            userId,
            tenantHash,
            state: 'asleep',
            phase: null,
            containerId: null,
            networkName: null,
            subnet: null,
            endpointUrl: null,
            lastActivity: null,
            idleDeadline: null,
            stopReason: null,
            stopDetail: null,
            wakeCount: 0,
            lastWakeStartedAt: null,
            lastWakeReadyAt: null,
            lastWakeMs: null,
            failureCount: 0,
            createdAt: Date.now(),
            updatedAt: Date.now(),
          });
        }
        return { ...must(userId) };
      },
      update(userId, patch) {
        const next = { ...must(userId), ...patch, updatedAt: Date.now() };
        tenants.set(userId, next);
        return { ...next };
      },
      list({ state, limit, after }) {
        return [...tenants.values()]
          .filter((tenant) => (!state || tenant.state === state) && (!after || tenant.userId > after))
          .sort((a, b) => (a.userId < b.userId ? -1 : 1))
          .slice(0, limit);
      },
      countByState() {
        const counts: Record<string, number> = {};
        for (const tenant of tenants.values()) counts[tenant.state] = (counts[tenant.state] ?? 0) + 1;
        return counts;
      },
      touchActivity(userId, at, idleTimeoutMs) {
        const tenant = tenants.get(userId);
        if (!tenant) return undefined;
        tenant.lastActivity = Math.max(tenant.lastActivity ?? 0, at);
        tenant.idleDeadline = Math.max(tenant.idleDeadline ?? 0, at + idleTimeoutMs);
        return { ...tenant };
      },
      allocatedSubnets: () => [...tenants.values()].flatMap((tenant) => (tenant.subnet ? [tenant.subnet] : [])),
    },
    audit: { append: (entry) => void audits.push(entry) },
    summaries: { latest, ingest: (userId, summary) => void latest.set(userId, summary) },
  };
}

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

/** A runtime that records calls; containers "run" by pointing at the fake tenant app. */
export function fakeRuntime(endpointUrl: string) {
  const calls = { ensure: 0, start: 0, stop: 0, remove: 0, reattach: 0 };
  /** Every spec ensure was given, in order. */
  const specs: TenantSpec[] = [];
  const running = new Map<string, boolean>();
  const control = {
    /** Makes `ensure` fail with this error. */
    failEnsure: undefined as Error | undefined,
    /** Delay of each ensure, to hold a wake in its first phase. */
    ensureDelayMs: 0,
    emit: undefined as ((event: RuntimeEvent) => void) | undefined,
  };
  const runtime: TenantRuntime = {
    async ensure(spec, signal) {
      calls.ensure++;
      specs.push(spec);
      if (control.ensureDelayMs) await new Promise((resolve) => setTimeout(resolve, control.ensureDelayMs));
      signal?.throwIfAborted();
      if (control.failEnsure) throw control.failEnsure;
      return { containerId: `c-${spec.tenantHash}`, created: true };
    },
    async start(names) {
      calls.start++;
      running.set(names.container, true);
      return { containerId: `c-${names.container}`, endpointUrl };
    },
    async stop(names) {
      calls.stop++;
      running.set(names.container, false);
    },
    async remove(names) {
      calls.remove++;
      running.delete(names.container);
    },
    async inspect(names) {
      return status(names.container);
    },
    async logs() {
      return '';
    },
    async list() {
      return [...running.keys()].map(status).filter((s): s is ContainerStatus => s !== undefined);
    },
    async usedSubnets() {
      return [];
    },
    watch(onEvent) {
      control.emit = onEvent;
      return () => undefined;
    },
    async ping() {},
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
      exitCode: isRunning ? undefined : 0,
      oomKilled: false,
      endpointUrl: isRunning ? endpointUrl : undefined,
    };
  }
  return { runtime, calls, specs, running, control };
}
