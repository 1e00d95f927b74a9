import { type Static, Type } from '@sinclair/typebox';
import { PlanName, StopReason, TenantState, UserId, WakePhase } from '@tenancy/shared';

/** Route params holding a user id (percent-decoded by Fastify). */
export const UserParams = Type.Object({ userId: UserId });

/** The public error body, for route documentation. */
export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
  retryAfterSeconds: Type.Optional(Type.Integer()),
});

/**
 * A value or null. Null comes first: Fastify's Ajv coerces types, and it tries the branches of
 * a union in order, so with the value first a null in a request body became 0 (or "").
 */
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([Type.Null(), schema]);

/** A tenant as the admin API shows it. Times are epoch milliseconds. */
export const TenantView = Type.Object({
  userId: UserId,
  tenantId: Type.String({ description: 'Keyed hash of the user id that names the Docker objects' }),
  state: TenantState,
  phase: Nullable(WakePhase),
  endpoint: Nullable(Type.String()),
  plan: PlanName,
  lastActivity: Nullable(Type.Number()),
  idleDeadline: Nullable(Type.Number()),
  pausedAt: Nullable(Type.Number({ description: 'When the tenant was paused, while it is' })),
  stopReason: Nullable(StopReason),
  stopDetail: Nullable(Type.String()),
  wakeCount: Type.Integer(),
  failureCount: Type.Integer(),
  lastWakeStartedAt: Nullable(Type.Number()),
  lastWakeReadyAt: Nullable(Type.Number()),
  lastWakeMs: Nullable(Type.Number()),
  lastSeenAt: Nullable(
    Type.Number({
      description: "The user's last sign-in or API key use, whichever is later: what INACTIVE_TENANT_DAYS counts",
    }),
  ),
  deletionDueAt: Nullable(
    Type.Number({ description: 'When the account will be erased, while its deletion is scheduled (DELETION_GRACE)' }),
  ),
  inactiveWarning: Nullable(
    Type.Object(
      {
        warnedAt: Type.Number(),
        deletionAt: Type.Number({ description: 'When the deletion will be asked unless the user signs in first' }),
      },
      { description: 'Set while the inactivity policy (INACTIVE_TENANT_DAYS) has warned the user; null otherwise' },
    ),
  ),
  limits: Type.Object({
    memoryBytes: Type.Number(),
    cpus: Type.Number(),
    pids: Type.Integer(),
    egress: Type.Boolean(),
    diskBytes: Type.Number({ description: "Disk quota: the size of the tenant's filesystem (the plan's diskMb)" }),
  }),
});
export type TenantView = Static<typeof TenantView>;

/** A tenant with what costs a look at the host: its disk. */
export const TenantDetail = Type.Composite([
  TenantView,
  Type.Object({
    disk: Nullable(
      Type.Object(
        {
          sizeBytes: Type.Number({ description: 'Space for data on the filesystem (the quota less what ext4 keeps)' }),
          usedBytes: Type.Number(),
        },
        {
          description:
            "The tenant's filesystem as it reports itself; null when disks are unbounded (UNSAFE_TENANT_DISK_UNBOUNDED) or it is not mounted (after a host reboot, until the next wake)",
        },
      ),
    ),
    usage: Nullable(
      Type.Object(
        {
          messages: Type.Integer(),
          replies: Type.Integer(),
          tokensUsed: Type.Integer(),
          bytesStored: Type.Integer(),
          lastActivity: Nullable(Type.Number()),
          receivedAt: Type.Number({ description: 'When the tenant last reported it' }),
        },
        {
          description: 'The latest summary the tenant pushed (POST /v1/tenants/:userId/summary); null before its first',
        },
      ),
    ),
  }),
]);
export type TenantDetail = Static<typeof TenantDetail>;

export const TenantList = Type.Object({
  items: Type.Array(TenantView),
  /** Pass as `after` to get the next page; absent on the last page. */
  next: Type.Optional(Type.String()),
});

export const ListQuery = Type.Object(
  {
    state: Type.Optional(TenantState),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    after: Type.Optional(UserId),
    q: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Only user ids containing this (case-insensitive)' }),
    ),
  },
  { additionalProperties: false },
);

export const LogsQuery = Type.Object(
  { tail: Type.Integer({ minimum: 1, maximum: 10_000, default: 200 }) },
  { additionalProperties: false },
);

export const DeleteQuery = Type.Object({ confirm: Type.String() }, { additionalProperties: false });

/** What a tenant reports about itself (see tenant-image `GET /summary`). */
export const SummaryBody = Type.Object(
  {
    messages: Type.Integer({ minimum: 0 }),
    replies: Type.Integer({ minimum: 0 }),
    tokensUsed: Type.Integer({ minimum: 0 }),
    bytesStored: Type.Integer({ minimum: 0 }),
    lastActivity: Nullable(Type.Number()),
  },
  { additionalProperties: true },
);

export const AuditQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    before: Type.Optional(Type.Integer({ minimum: 1 })),
    target: Type.Optional(UserId),
    action: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
