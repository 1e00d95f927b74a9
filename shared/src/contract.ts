import { type Static, Type } from '@sinclair/typebox';

/**
 * The typed contract between the gateway and the supervisor's internal API.
 *
 * Both sides import these schemas: the supervisor validates requests and serialises responses
 * with them, the gateway's client uses the static types. Changing a schema here is a change to
 * the wire protocol; keep additions optional so replicas of different versions can talk.
 */

/** Lifecycle states of a tenant, as reported everywhere. */
export const TenantState = Type.Union(
  [
    Type.Literal('asleep'),
    Type.Literal('waking'),
    Type.Literal('running'),
    Type.Literal('paused'),
    Type.Literal('stopping'),
    Type.Literal('failed'),
  ],
  { description: 'Lifecycle state of the tenant' },
);
export type TenantState = Static<typeof TenantState>;

/** Phases of a wake, in order. */
export const WakePhase = Type.Union(
  [
    Type.Literal('queued'),
    Type.Literal('creating'),
    Type.Literal('starting'),
    Type.Literal('waiting-health'),
    Type.Literal('ready'),
    Type.Literal('failed'),
  ],
  { description: 'Phase a wake has reached' },
);
export type WakePhase = Static<typeof WakePhase>;

/** Why a tenant was last stopped. */
export const StopReason = Type.Union(
  [
    Type.Literal('idle'),
    Type.Literal('admin'),
    Type.Literal('capacity'),
    Type.Literal('crashed'),
    Type.Literal('oom'),
    Type.Literal('failed-start'),
    Type.Literal('memory'),
    Type.Literal('user'),
  ],
  { description: 'Why the tenant was last stopped' },
);
export type StopReason = Static<typeof StopReason>;

/** A user id as the platform receives it: opaque, bounded, printable. */
export const UserId = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });

/** Plan names select a row of the supervisor's plan table. */
export const PlanName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_-]*$' });

/**
 * Routes of the supervisor's internal API (Bearer `SUPERVISOR_TOKEN`). `:userId` is the raw user
 * id, percent-encoded as one path segment (`encodeURIComponent`).
 *
 * - `PUT  upsertUser`  body {@link UpsertUserBody} → {@link UserRecord}
 * - `POST wake`        body {@link WakeBody} → {@link TenantRoute}; errors: 404 `SUP_ERR_USER_NOT_FOUND`,
 *   403 `SUP_ERR_USER_DISABLED`, 429 `SUP_ERR_CAPACITY_FULL` (with `Retry-After` and `retryAfterSeconds`),
 *   502 `SUP_ERR_WAKE_FAILED`, 503 `SUP_ERR_WAKE_TIMEOUT` and `SUP_ERR_WAKE_PENDING` (with `Retry-After`),
 *   409 `SUP_ERR_WAKE_CANCELLED`
 * - `GET  wakeEvents`  Server-Sent Events, `event: progress` with {@link WakeProgress} data, ending after
 *   phase `ready` or `failed`; starts a wake if none runs
 * - `GET  route`       → {@link TenantRoute} without waking; errors: 403 `SUP_ERR_USER_DISABLED`
 * - `POST activity`    body {@link ActivityBatch} → 204
 * - `GET  exportUser` `?format=tar|tar.gz` → the user's data as one archive, streamed (see
 *   supervisor/src/accounts/account-export.ts); errors: 404 `SUP_ERR_USER_NOT_FOUND`
 * - `POST deletion`    → 202 {@link DeletionScheduled}: the account is refused from now on and erased
 *   after DELETION_GRACE; `DELETE deletion` → the {@link UserRecord}, restored; errors: 409
 *   `SUP_ERR_ACCOUNT_DELETION_NOT_PENDING`
 * - `GET  events`      Server-Sent Events for every gateway replica: `event: hello` once connected,
 *   then `event: unroute` with `{"userId"}` whenever a tenant stops being reachable at the endpoint
 *   it had (stopping, crashed, removed) or the user's plan changed, so cached routes are dropped at
 *   once, and `event: revoke` with `{"userId"}` when the user is disabled: every session of theirs
 *   must end now, and `event: revoke-key` with `{"userId","keyId"}` when an API key was revoked:
 *   every replica records the revocation and forgets the key at once
 * - `GET  apiKeys`      → {@link ApiKeyList}: the user's personal API keys, revoked ones included
 * - `POST apiKeys`      body {@link CreateApiKeyBody} → 201 {@link ApiKeyRecord}; errors: 404
 *   `SUP_ERR_USER_NOT_FOUND`, 409 `SUP_ERR_API_KEY_LIMIT`
 * - `DELETE apiKey`     → {@link ApiKeyRecord}, revoked; errors: 404 `SUP_ERR_API_KEY_NOT_FOUND`
 *   (also for another user's key)
 * - `POST verifyApiKey` body {@link VerifyApiKeyBody} → {@link VerifiedApiKey}; errors: 401
 *   `SUP_ERR_API_KEY_INVALID` (unknown, wrong hash, revoked or expired: one answer for all),
 *   403 `SUP_ERR_USER_DISABLED` and `SUP_ERR_ACCOUNT_DELETION_PENDING`. Notes the use (at most once a minute) and audits the first.
 */
export const INTERNAL_ROUTES = {
  upsertUser: '/internal/v1/users/:userId',
  wake: '/internal/v1/tenants/:userId/wake',
  wakeEvents: '/internal/v1/tenants/:userId/wake/events',
  route: '/internal/v1/tenants/:userId/route',
  /** The user's own "stop now" (the workspace page), relayed by the gateway. */
  stop: '/internal/v1/tenants/:userId/stop',
  activity: '/internal/v1/activity',
  events: '/internal/v1/events',
  apiKeys: '/internal/v1/users/:userId/api-keys',
  apiKey: '/internal/v1/users/:userId/api-keys/:keyId',
  verifyApiKey: '/internal/v1/api-keys/:keyId/verify',
  exportUser: '/internal/v1/users/:userId/export',
  deletion: '/internal/v1/users/:userId/deletion',
} as const;

/** Query of an export (`GET exportUser`): plain tar (default) or gzipped. */
export const ExportQuery = Type.Object(
  { format: Type.Optional(Type.Union([Type.Literal('tar'), Type.Literal('tar.gz')])) },
  { additionalProperties: false },
);
export type ExportQuery = Static<typeof ExportQuery>;

/** Answer to `POST deletion`: when the account will be erased (epoch milliseconds). */
export const DeletionScheduled = Type.Object({ deletionDueAt: Type.Integer() });
export type DeletionScheduled = Static<typeof DeletionScheduled>;

/** `PUT /internal/v1/users/:userId`: record a login. */
export const UpsertUserBody = Type.Object(
  {
    email: Type.Optional(Type.String({ maxLength: 320 })),
    plan: Type.Optional(PlanName),
    onboardingCompleted: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type UpsertUserBody = Static<typeof UpsertUserBody>;

/** A user as the supervisor records it. */
export const UserRecord = Type.Object({
  userId: UserId,
  email: Type.Union([Type.String(), Type.Null()]),
  plan: PlanName,
  onboardingCompleted: Type.Boolean(),
  /** A disabled user may not log in or wake a container. */
  disabled: Type.Boolean(),
  /**
   * Epoch milliseconds at which the account is erased, present only while its owner's request
   * to delete it stands: until then it is refused like a disabled one, and may be restored.
   */
  deletionDueAt: Type.Optional(Type.Integer()),
});
export type UserRecord = Static<typeof UserRecord>;

/** Where the gateway sends a running tenant's traffic. */
export const TenantEndpoint = Type.Object({
  /** Base URL of the tenant app, for example `http://127.0.0.1:49160`. */
  url: Type.String(),
  /** Value of the per-tenant secret header the tenant app requires. */
  secret: Type.String(),
});
export type TenantEndpoint = Static<typeof TenantEndpoint>;

/** `POST /internal/v1/tenants/:userId/wake` body. */
export const WakeBody = Type.Object(
  {
    /** Wait until the tenant is ready (bounded by the warmup budget) instead of answering at once. */
    wait: Type.Optional(Type.Boolean({ default: false })),
    /**
     * How long the caller waits, in milliseconds (at most the supervisor's WARMUP_TIMEOUT). A wait
     * that ends before the tenant is ready answers 503 `SUP_ERR_WAKE_PENDING` with `Retry-After`;
     * the wake itself goes on.
     */
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000 })),
  },
  { additionalProperties: false },
);
export type WakeBody = Static<typeof WakeBody>;

/** The state of one tenant as the gateway needs it. */
export const TenantRoute = Type.Object({
  state: TenantState,
  phase: Type.Optional(WakePhase),
  endpoint: Type.Optional(TenantEndpoint),
  /** Epoch milliseconds after which the tenant will be put to sleep if nothing happens. */
  idleDeadline: Type.Optional(Type.Number()),
  /** While the wake waits for a start slot: its place in the start queue (1 = next). */
  position: Type.Optional(Type.Integer({ minimum: 1 })),
  /** While waking: when asking again is worth it, in seconds, from the queue's recent pace. */
  retryAfterSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
  /**
   * The user's plan as the supervisor has it now. The gateway tells the tenant this one, not the
   * plan the session was signed with, so a plan change counts from the next request.
   */
  plan: Type.Optional(PlanName),
});
export type TenantRoute = Static<typeof TenantRoute>;

/** One progress event of a wake, as sent on the SSE stream. */
export const WakeProgress = Type.Object({
  phase: WakePhase,
  /** 0–100. */
  percent: Type.Integer({ minimum: 0, maximum: 100 }),
  message: Type.String(),
  /** Milliseconds since the wake began. */
  elapsedMs: Type.Integer({ minimum: 0 }),
  /** Stable error code when `phase` is `failed`. */
  code: Type.Optional(Type.String()),
  /** While `queued`: the place in the start queue (1 = next). */
  position: Type.Optional(Type.Integer({ minimum: 1 })),
});
export type WakeProgress = Static<typeof WakeProgress>;

/** `POST /internal/v1/activity`: activity the gateway saw since its last report. */
export const ActivityBatch = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          userId: UserId,
          /** Epoch milliseconds of the latest activity. */
          lastActivity: Type.Number(),
          requests: Type.Integer({ minimum: 0 }),
          wsFrames: Type.Integer({ minimum: 0 }),
          /** Milliseconds during which at least one stream was open. */
          streamMs: Type.Integer({ minimum: 0 }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 10_000 },
    ),
  },
  { additionalProperties: false },
);
export type ActivityBatch = Static<typeof ActivityBatch>;

/** Headers the gateway sets on every request it forwards to a tenant; clients can never set them. */
export const TENANT_HEADERS = {
  userId: 'x-tenancy-user-id',
  email: 'x-tenancy-user-email',
  plan: 'x-tenancy-user-plan',
  secret: 'x-tenancy-tenant-secret',
  requestId: 'x-request-id',
} as const;

/** A personal API key's lookup id: the 12 base62 characters after `tny_`. */
export const ApiKeyId = Type.String({ pattern: '^[0-9A-Za-z]{12}$' });

/** What a personal API key may do. `tenant`: reach its user's own tenant (proxy and warmup), nothing else. */
export const ApiKeyScope = Type.Literal('tenant');

/** A personal API key as stored (nullable fields: null first, or Ajv's coercion makes a null 0), without its hash (never the key: it is shown once, when made). */
export const ApiKeyRecord = Type.Object({
  id: ApiKeyId,
  userId: UserId,
  name: Type.String(),
  scope: ApiKeyScope,
  /** Epoch milliseconds. */
  createdAt: Type.Number(),
  /** Epoch milliseconds after which the key is refused; null: never expires. */
  expiresAt: Type.Union([Type.Null(), Type.Number()]),
  /** Epoch milliseconds of its last use, to the minute; null: never used. */
  lastUsedAt: Type.Union([Type.Null(), Type.Number()]),
  revokedAt: Type.Union([Type.Null(), Type.Number()]),
  /** Audit actor that revoked it: `self` (the user), `bootstrap` or `admin:<name>`. */
  revokedBy: Type.Union([Type.Null(), Type.String()]),
});
export type ApiKeyRecord = Static<typeof ApiKeyRecord>;

export const ApiKeyList = Type.Object({ items: Type.Array(ApiKeyRecord) });
export type ApiKeyList = Static<typeof ApiKeyList>;

/** A key's name: what the user calls it, printable, at most 64 characters. */
export const ApiKeyName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });

/** `POST /internal/v1/users/:userId/api-keys`: the gateway minted a key; the supervisor keeps its hash. */
export const CreateApiKeyBody = Type.Object(
  {
    id: ApiKeyId,
    name: ApiKeyName,
    /** Hex SHA-256 of the whole key. */
    keyHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    scope: ApiKeyScope,
    expiresAt: Type.Union([Type.Null(), Type.Number()]),
  },
  { additionalProperties: false },
);
export type CreateApiKeyBody = Static<typeof CreateApiKeyBody>;

/** A verified key with what the gateway tells the tenant about its user (as a session carries it). */
export const VerifiedApiKey = Type.Composite([
  ApiKeyRecord,
  Type.Object({ email: Type.Union([Type.Null(), Type.String()]), plan: PlanName }),
]);
export type VerifiedApiKey = Static<typeof VerifiedApiKey>;

/** `POST /internal/v1/api-keys/:keyId/verify`: the hash of a presented key (the key never leaves the gateway). */
export const VerifyApiKeyBody = Type.Object(
  { keyHash: Type.String({ pattern: '^[0-9a-f]{64}$' }) },
  { additionalProperties: false },
);
export type VerifyApiKeyBody = Static<typeof VerifyApiKeyBody>;
