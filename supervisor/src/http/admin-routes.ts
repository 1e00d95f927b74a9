import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { UserRecord } from '@tenancy/shared';
import { type InactivityPolicy, inactiveDeletionAt } from '../accounts/inactive-accounts.js';
import { errors } from '../errors.js';
import type { TenantController } from '../lifecycle/controller.js';
import type { TenantRecord } from '../lifecycle/ports.js';
import type { PlanTable } from '../plans.js';
import type { DiskUsage } from '../runtime/tenant-disks.js';
import type { Store } from '../store/index.js';
import { adminOf } from './admin-auth.js';
import {
  AuditQuery,
  DeleteQuery,
  ErrorBody,
  ListQuery,
  LogsQuery,
  SummaryBody,
  TenantDetail,
  TenantList,
  TenantView,
  UserParams,
} from './schemas.js';
import type { UserChanges } from './user-changes.js';

export interface AdminRoutesOptions {
  store: Store;
  controller: TenantController;
  plans: PlanTable;
  /** Logs of a tenant's container; separated so tests can see it is the runtime answering. */
  logs: (userId: string, tail: number) => Promise<string>;
  /** Folder for online backups of the central database. */
  backupDir: string;
  /** Size and use of a tenant's disk (undefined: unbounded or not mounted). */
  diskUsage: (userId: string) => Promise<DiskUsage | undefined>;
  /** Where disabling a user is announced to the gateway replicas, which revoke their sessions. */
  users: UserChanges;
  /** The inactivity policy, to show its warnings; undefined when it is off. */
  inactivity?: InactivityPolicy | undefined;
}

/**
 * The admin API under /v1 (Bearer ADMIN_TOKEN or a named admin token, checked by the caller's
 * hook). Every action is audited under the identity that made it.
 */
export const adminRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (app, options) => {
  const { store, controller, plans } = options;

  const view = (tenant: TenantRecord): TenantView => {
    const user = store.users.get(tenant.userId);
    const plan = user?.plan ?? 'free';
    const limits = plans.limitsFor(plan);
    const activity = store.inactivity.of(tenant.userId);
    // A warning left from when the policy was on means nothing while it is off.
    const warnedAt = options.inactivity ? (activity?.warnedAt ?? null) : null;
    return {
      userId: tenant.userId,
      tenantId: tenant.tenantHash,
      state: tenant.state,
      phase: tenant.state === 'waking' ? (controller.phaseOf(tenant.userId) ?? tenant.phase) : null,
      endpoint: tenant.endpointUrl,
      plan,
      lastActivity: tenant.lastActivity,
      idleDeadline: tenant.idleDeadline,
      pausedAt: tenant.pausedAt,
      stopReason: tenant.stopReason,
      stopDetail: tenant.stopDetail,
      wakeCount: tenant.wakeCount,
      failureCount: tenant.failureCount,
      lastWakeStartedAt: tenant.lastWakeStartedAt,
      lastWakeReadyAt: tenant.lastWakeReadyAt,
      lastWakeMs: tenant.lastWakeMs,
      lastSeenAt: activity?.lastSeenAt ?? null,
      deletionDueAt: user?.deletionDueAt ?? null,
      inactiveWarning:
        warnedAt !== null && activity && options.inactivity
          ? {
              warnedAt,
              deletionAt: inactiveDeletionAt({ lastSeenAt: activity.lastSeenAt, warnedAt }, options.inactivity),
            }
          : null,
      limits: {
        memoryBytes: limits.memoryBytes,
        cpus: limits.nanoCpus / 1e9,
        pids: limits.pids,
        egress: limits.egress,
        diskBytes: limits.diskBytes,
      },
    };
  };
  const tenantOr404 = (userId: string): TenantRecord => {
    const tenant = store.tenants.get(userId);
    if (!tenant) throw errors.tenantNotFound(`no tenant for user ${JSON.stringify(userId)}`);
    return tenant;
  };
  const notFound = { 404: ErrorBody };

  app.get('/v1/tenants', { schema: { querystring: ListQuery, response: { 200: TenantList } } }, async (request) => {
    const { state, limit, after, q } = request.query;
    const page = store.tenants.list({
      limit: limit + 1,
      ...(state ? { state } : {}),
      ...(after ? { after } : {}),
      ...(q ? { q } : {}),
    });
    const items = page.slice(0, limit).map(view);
    const last = items[items.length - 1];
    return page.length > limit && last ? { items, next: last.userId } : { items };
  });

  app.get(
    '/v1/tenants/:userId',
    { schema: { params: UserParams, response: { 200: TenantDetail, ...notFound } } },
    async (request): Promise<TenantDetail> => {
      const tenant = tenantOr404(request.params.userId);
      const disk = await options.diskUsage(tenant.userId);
      return {
        ...view(tenant),
        disk: disk ? { sizeBytes: disk.sizeBytes, usedBytes: disk.usedBytes } : null,
        usage: store.summaries.get(tenant.userId) ?? null,
      };
    },
  );

  app.get(
    '/v1/tenants/:userId/logs',
    { schema: { params: UserParams, querystring: LogsQuery } },
    async (request, reply) => {
      tenantOr404(request.params.userId);
      const text = await options.logs(request.params.userId, request.query.tail);
      return reply.type('text/plain; charset=utf-8').send(text);
    },
  );

  app.post(
    '/v1/tenants/:userId/start',
    { schema: { params: UserParams, response: { 200: TenantView } } },
    async (request) => {
      const { userId } = request.params;
      if (!store.users.get(userId)) throw errors.userNotFound(`no user ${JSON.stringify(userId)}`);
      await controller.wake(userId, { wait: true, actor: adminOf(request).actor });
      return view(tenantOr404(userId));
    },
  );

  app.post(
    '/v1/tenants/:userId/stop',
    { schema: { params: UserParams, response: { 200: TenantView, ...notFound } } },
    async (request) => {
      const { userId } = request.params;
      tenantOr404(userId);
      await controller.stop(userId, 'admin', adminOf(request).actor);
      return view(tenantOr404(userId));
    },
  );

  app.post(
    '/v1/tenants/:userId/pause',
    { schema: { params: UserParams, response: { 200: TenantView, ...notFound } } },
    async (request) => {
      const { userId } = request.params;
      tenantOr404(userId);
      await controller.pause(userId, 'admin', adminOf(request).actor);
      return view(tenantOr404(userId));
    },
  );

  app.delete(
    '/v1/tenants/:userId',
    {
      schema: {
        params: UserParams,
        querystring: DeleteQuery,
        response: { 204: Type.Null(), 400: ErrorBody, ...notFound },
      },
    },
    async (request, reply) => {
      const { userId } = request.params;
      if (request.query.confirm !== userId) throw errors.confirmMismatch();
      if (!store.users.get(userId)) throw errors.userNotFound(`no user ${JSON.stringify(userId)}`);
      // Idempotent: deleting a tenant that is already gone succeeds.
      await controller.remove(userId, adminOf(request).actor);
      store.tenants.remove(userId);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/tenants/:userId/summary',
    { schema: { params: UserParams, body: SummaryBody } },
    async (request, reply) => {
      const { userId } = request.params;
      tenantOr404(userId);
      const { messages, replies, tokensUsed, bytesStored, lastActivity } = request.body;
      store.summaries.ingest(userId, { messages, replies, tokensUsed, bytesStored, lastActivity });
      return reply.code(204).send();
    },
  );

  // Disabling a user takes effect at once: every gateway replica hears it on its feed and revokes
  // all of the user's sessions (open WebSockets and streams close with them), and their
  // container is stopped. A replica that missed it is refused by the route lookup and the wake.
  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(
      `/v1/users/:userId/${action}`,
      { schema: { params: UserParams, response: { 200: UserRecord, ...notFound } } },
      async (request) => {
        const { userId } = request.params;
        if (!store.users.setDisabled(userId, disabled)) throw errors.userNotFound(`no user ${JSON.stringify(userId)}`);
        // Before the stop, so sessions end as revoked rather than as a container gone away.
        if (disabled) options.users.emit({ kind: 'revoke', userId });
        const { actor } = adminOf(request);
        if (disabled && store.tenants.get(userId)) await controller.stop(userId, 'admin', actor);
        store.audit.append({ actor, action: `user.${action}`, target: userId, result: 'ok' });
        return store.users.get(userId);
      },
    );
  }

  app.get('/v1/summary', async () => ({
    tenants: store.tenants.countByState(),
    usage: store.summaries.totals(),
    capacity: controller.limits,
  }));

  app.get('/v1/whoami', async (request) => ({ actor: adminOf(request).actor }));

  app.post('/v1/backup', async (request) => {
    await mkdir(options.backupDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const result = await store.backup(join(options.backupDir, `tenancy-${stamp}.db`));
    store.audit.append({
      actor: adminOf(request).actor,
      action: 'store.backup',
      target: null,
      result: 'ok',
      detail: result,
    });
    return result;
  });

  app.get('/v1/audit', { schema: { querystring: AuditQuery } }, async (request) => {
    const { limit, before, target, action } = request.query;
    return {
      items: store.audit.list({
        limit,
        ...(before ? { beforeId: before } : {}),
        ...(target ? { target } : {}),
        ...(action ? { action } : {}),
      }),
    };
  });
};
