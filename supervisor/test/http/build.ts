import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Teardown } from '@tenancy/test-support';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { loadSupervisorConfig } from '../../src/config.js';
import { createMetrics, diskSampler } from '../../src/http/metrics.js';
import { type ControllerSettings, TenantController } from '../../src/lifecycle/controller.js';
import { createPlanTable } from '../../src/plans.js';
import { fakeRuntime, fakeTenantApp, memoryStore, TEST_SETTINGS } from '../lifecycle/fakes.js';

/** The bearer tokens of an app made by {@link build}. */
export const TOKENS = {
  admin: 'http-test-admin-token-0123456789abcdef',
  internal: 'http-test-internal-token-0123456789abcd',
} as const;

/** A plan besides the built-in `free`, so views can show limits that differ from the default. */
const PLANS = JSON.stringify({ pro: { memoryMb: 8192, cpus: 4, pids: 1024, egress: true } });

export interface BuildOptions {
  /** Overrides of the controller's settings (the unit-test defaults: stop-only sleep, short budgets). */
  settings?: Partial<ControllerSettings>;
  /** Clock of the controller and the store, epoch milliseconds. */
  now?: () => number;
  /** More environment for the supervisor's configuration (INACTIVE_TENANT_DAYS, ...). */
  env?: Record<string, string>;
}

/**
 * The supervisor's HTTP app as server.ts builds it, in process: the real store on SQLite
 * `:memory:` (so the constraints the SQL enforces are the ones met), the real controller and
 * metrics, and a fake runtime whose containers "run" as a local stand-in tenant app. Everything
 * is closed at teardown. `request` sends one request through `inject`, with the admin token
 * unless told otherwise (`token: null` sends none).
 */
export async function build(t: Teardown, options: BuildOptions = {}) {
  const tenantApp = await fakeTenantApp(t);
  const fake = fakeRuntime(tenantApp.url);
  const store = memoryStore(t, options.now);
  const backupDir = await mkdtemp(join(tmpdir(), 'tenancy-http-test-'));
  t.teardown(() => rm(backupDir, { recursive: true, force: true }));

  const config = loadSupervisorConfig({
    ADMIN_TOKEN: TOKENS.admin,
    SUPERVISOR_TOKEN: TOKENS.internal,
    TENANT_NAMESPACE_KEY: TEST_SETTINGS.namespaceKey,
    LOG_LEVEL: 'silent',
    BACKUP_DIR: backupDir,
    ...options.env,
  });
  const plans = createPlanTable(PLANS);
  const log = pino({ level: 'silent' });
  // The controller exists by the time metrics are collected (as in server.ts).
  const metrics = createMetrics(
    () => store.tenants.countByState(),
    () => controller.queueLength,
    diskSampler(store.tenants, (userId) => fake.runtime.diskUsage(controller.namesFor(userId))),
  );
  const controller = new TenantController({
    runtime: fake.runtime,
    store,
    plans,
    settings: { ...TEST_SETTINGS, ...options.settings },
    log,
    observer: metrics.observer,
    ...(options.now ? { now: options.now } : {}),
  });
  const app = await buildApp(config, { store, runtime: fake.runtime, controller, plans, metrics, logger: log });
  // Teardowns run last registered first: the app and the controller close before the store.
  t.teardown(async () => {
    await app.close();
    await controller.close();
  });

  const request = (
    method: InjectOptions['method'],
    url: string,
    extra: { body?: unknown; token?: string | null } = {},
  ): Promise<LightMyRequestResponse> => {
    const token = extra.token === undefined ? TOKENS.admin : extra.token;
    return app.inject({
      method,
      url,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      ...(extra.body === undefined ? {} : { payload: extra.body as InjectOptions['payload'] }),
    });
  };

  return { app, store, controller, metrics, tenantApp, backupDir, request, log, ...fake };
}

/** A user id as one path segment. */
export const seg = (userId: string) => encodeURIComponent(userId);
