/**
 * Generates the route reference in docs/api.md from the apps themselves: each service's
 * `buildApp` is called with stand-ins for its dependencies (no Docker, Redis, network or
 * database: the builders only use them inside handlers), an `onRoute` hook (installed through
 * Fastify's `fastify.initialization` diagnostics channel) collects every route with its schema,
 * and the schemas become tables. What a schema cannot say (what a route does, who may call it,
 * answers without a response schema) is declared in {@link ROUTE_NOTES}; a route without notes
 * is an error, so a new route cannot go undocumented.
 *
 *   npx tsx --conditions=tenancy-source scripts/api-docs.ts --write   # rewrite docs/api.md
 *
 * scripts/test/api-docs.test.ts fails when docs/api.md is out of date, and checks every
 * declared auth requirement against the running app (a call without credentials gets 401).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { type ErrorFactory, TenantRoute, UserRecord, WakeProgress } from '@tenancy/shared';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { buildApp as buildGateway } from '../gateway/src/app.js';
import { loadGatewayConfig } from '../gateway/src/config.js';
import { errors as gatewayErrors } from '../gateway/src/errors.js';
import type { SupervisorClient } from '../gateway/src/supervisor/client.js';
import { buildApp as buildSupervisor, type SupervisorDeps } from '../supervisor/src/app.js';
import { loadSupervisorConfig } from '../supervisor/src/config.js';
import { errors as supervisorErrors } from '../supervisor/src/errors.js';
import { ErrorBody, TenantList, TenantView } from '../supervisor/src/http/schemas.js';
import { buildApp as buildTenant, type TenantDeps } from '../tenant-image/src/app.js';
import { loadTenantConfig } from '../tenant-image/src/config.js';
import { errors as tenantErrors } from '../tenant-image/src/errors.js';
import { table, writeRegions } from './doc-regions.js';
import { fieldsOf, type SchemaNode, typeText } from './schema-text.js';

/** Who may call a route. The test checks each one: without credentials the route answers 401. */
export type Auth =
  | 'none'
  | 'session'
  | 'session-or-key'
  | 'login'
  | 'supervisor-token'
  | 'admin-token'
  | 'admin-or-summary'
  | 'secret'
  | 'admin-session';

const AUTH_TEXT: Readonly<Record<Auth, string>> = {
  none: 'none',
  session: 'session cookie',
  'session-or-key': 'session cookie, or `Authorization: Bearer tny_…` (a personal API key, no cookie needed)',
  login:
    'by `AUTH_MODE`: `Authorization: Bearer <LOGIN_TOKEN>` (token), a Cloudflare Access assertion (access), nobody checked (dev), refused (oidc: through the provider)',
  'supervisor-token': '`Authorization: Bearer <SUPERVISOR_TOKEN>`',
  'admin-token': '`Authorization: Bearer <ADMIN_TOKEN>` or a named admin token (`tnya_…`)',
  'admin-or-summary': "`Authorization: Bearer <ADMIN_TOKEN>`, a named admin token, or the tenant's own summary token",
  secret: '`x-tenancy-tenant-secret` (the gateway adds it)',
  'admin-session': 'the admin console cookie (`POST /_tenancy/admin/login` with an admin token; docs/pages.md)',
};

/** The auth column of the overview tables. */
const AUTH_SHORT: Readonly<Record<Auth, string>> = {
  none: 'none',
  session: 'session',
  'session-or-key': 'session or API key',
  login: 'per `AUTH_MODE`',
  'supervisor-token': '`SUPERVISOR_TOKEN`',
  'admin-token': 'admin token',
  'admin-or-summary': 'admin token or summary token',
  secret: 'secret header',
  'admin-session': 'admin console cookie',
};

/** What the route schemas cannot say. Keyed by `METHOD url` as Fastify registers it. */
export interface RouteNote {
  does: string;
  auth: Auth;
  /** Answers not described by a response schema. */
  answers?: string;
}

export const ROUTE_NOTES: Readonly<Record<string, Readonly<Record<string, RouteNote>>>> = {
  gateway: {
    'GET /health': { does: 'The process is up.', auth: 'none', answers: '200 `{"status":"ok"}`' },
    'GET /ready': {
      does: 'Redis answers a PING within 1 s, the supervisor answers `/health` and the revocation view is current.',
      auth: 'none',
      answers:
        '200 `{"status":"ready","redis":true,"supervisor":true,"revocationView":true}`; 503 with the same fields (`"status":"not ready"`, `false` for each failing check) and the code of the first failing one: `GW_ERR_REVOCATION_UNAVAILABLE` (Redis), `GW_ERR_SUPERVISOR_UNAVAILABLE`, `GW_ERR_REVOCATION_VIEW_STALE`',
    },
    'GET /metrics': { does: 'Prometheus metrics (see docs/operations.md).', auth: 'none', answers: '200 text' },
    'GET /auth/login': {
      does: 'The sign-in page browsers are sent to (303 from any page load without a valid session, with `?next=` the page asked for). `dev` mode: a form for user id and email; `access` mode: signs in at once with the Access assertion; `oidc` mode: a link to the provider (`GET /auth/oidc/start`). Not registered in `token` mode.',
      auth: 'none',
      answers: '200 HTML',
    },
    'GET /auth/login.js': {
      does: 'The script of the sign-in page (dev, access and oidc modes).',
      auth: 'none',
      answers: '200 JavaScript',
    },
    'GET /auth/oidc/start': {
      does: 'AUTH_MODE=oidc only. Starts a sign-in at the OpenID Connect provider: keeps a new transaction (state, nonce, PKCE verifier, `next`) in an encrypted, HttpOnly cookie for 10 minutes and redirects (303) to the provider. Linked from the sign-in page.',
      auth: 'none',
      answers:
        '303 to the provider; 400 `GW_ERR_REQUEST_INVALID` when `next` is not a same-origin path; 503 `GW_ERR_OIDC_UNAVAILABLE` when the provider cannot be reached',
    },
    'GET /auth/oidc/callback': {
      does: "AUTH_MODE=oidc only. Where the provider sends the browser back: checks the answer against the browser's transaction (which it clears, one attempt each), redeems the code with PKCE, validates the ID token (issuer, audience, expiry, nonce, signature against the provider's JWKS), applies the allow-lists, records the login at the supervisor and sets the session cookie, as `POST /auth/login` does. The provider's tokens are dropped.",
      auth: 'none',
      answers:
        '303 to `next`; 400 `GW_ERR_OIDC_TRANSACTION_INVALID` (no, altered or expired transaction), `GW_ERR_OIDC_STATE_MISMATCH`; 401 `GW_ERR_OIDC_PROVIDER_REFUSED`, `GW_ERR_OIDC_CODE_REJECTED` (a replayed or expired code), `GW_ERR_OIDC_ID_TOKEN_INVALID`, `GW_ERR_OIDC_CLAIM_MISSING`; 403 `GW_ERR_OIDC_EMAIL_UNVERIFIED`, `GW_ERR_OIDC_DOMAIN_NOT_ALLOWED`, `GW_ERR_OIDC_GROUP_NOT_ALLOWED`, `GW_ERR_USER_DISABLED`; 503 `GW_ERR_OIDC_UNAVAILABLE`',
    },
    'POST /auth/login': {
      does: 'Signs the user in: records the login at the supervisor, sets the session cookie and starts waking the container without waiting. In `access` mode the identity comes from the verified `Cf-Access-Jwt-Assertion` and the body is ignored; `oidc` mode refuses it (401 `GW_ERR_OIDC_LOGIN_ELSEWHERE`): users sign in through the provider. With `?next=/path` it redirects there (303).',
      auth: 'login',
      answers:
        '200 `{user_id, email, plan, onboarding_completed, expires_at}`; 400 `GW_ERR_REQUEST_INVALID` without `user_id` (token and dev modes); 401 `GW_ERR_LOGIN_FORBIDDEN`; 429 `GW_ERR_LOGIN_RATE_LIMITED` with `Retry-After` after 10 failed sign-ins from the client within a minute; 403 `GW_ERR_USER_DISABLED`; 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests))',
    },
    'POST /auth/logout': {
      does: 'Revokes the current session (if any) on every replica and clears the cookie. With `?next=/path` it redirects there (303).',
      auth: 'none',
      answers:
        '200 `{"logged_out":true}` once Redis has recorded the revocation; 503 `GW_ERR_LOGOUT_NOT_RECORDED` when it could not (the cookie is cleared either way); 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests))',
    },
    'POST /auth/logout-all': {
      does: 'Revokes every session of the user, on every device, and clears the cookie.',
      auth: 'session',
      answers:
        '200 `{"logged_out":true,"all_sessions":true}` once Redis has recorded the revocation; 503 `GW_ERR_LOGOUT_NOT_RECORDED` when it could not (the cookie is cleared either way); 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests))',
    },
    'GET /auth/session': {
      does: "Who the session belongs to and the container's state (without waking it).",
      auth: 'session',
      answers: '200 `{user_id, email, plan, expires_at, tenant: {state, idle_deadline} | null}`',
    },
    'GET /auth/keys': {
      does: 'The page of the signed-in user’s API keys: make one (shown once), list, revoke; through the JSON routes below. Without a session it offers the sign-in page.',
      auth: 'none',
      answers: '200 HTML',
    },
    'GET /auth/keys.js': {
      does: 'The script of the API keys page (served separately so the page needs no inline script).',
      auth: 'none',
      answers: '200 JavaScript',
    },
    'POST /auth/api-keys': {
      does: 'Makes a personal API key for the signed-in user: `{name, expires_in_seconds?}` (at least 60 s; absent: until revoked). The answer holds the key (`tny_…`), this once: only its SHA-256 is kept. Scope `tenant`: the key reaches the user’s own container (proxy, warmup, WebSocket) with `Authorization: Bearer`, nothing else. Audited as `api-key.create`.',
      auth: 'session',
      answers:
        '201 `{id, name, scope, created_at, expires_at, last_used_at, revoked_at, key}`; 409 `GW_ERR_API_KEY_LIMIT` (50 live keys); 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests))',
    },
    'GET /auth/api-keys': {
      does: 'The signed-in user’s API keys, revoked ones included; never a key itself. `last_used_at` is to the minute; the first use is audited as `api-key.first-use`.',
      auth: 'session',
      answers: '200 `{items: [{id, name, scope, created_at, expires_at, last_used_at, revoked_at}]}`',
    },
    'DELETE /auth/api-keys/:id': {
      does: 'Revokes one of the signed-in user’s keys. Answered once Redis has the revocation: from then on every gateway replica refuses the key from its own view. Idempotent; audited once as `api-key.revoke`.',
      auth: 'session',
      answers:
        '200 the key, with `revoked_at`; 404 `GW_ERR_API_KEY_NOT_FOUND` (not theirs, or none); 503 `GW_ERR_API_KEY_REVOCATION_PENDING` when Redis could not record it (the key is revoked; replicas refuse it within a minute); 403 `GW_ERR_CROSS_SITE_REFUSED`',
    },
    'POST /warmup': {
      does: "Wakes the session's container and waits until it is ready (at most `WARMUP_TIMEOUT`); with `Prefer: respond-async` answers at once. `user_id`, when given, must be the session's own.",
      auth: 'session-or-key',
      answers:
        '200 `{user_id, state, phase, ready, waited_ms, idle_deadline}`; 403 `GW_ERR_USER_MISMATCH`; 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests)); 429 `GW_ERR_CAPACITY_FULL` with `Retry-After`; 502 `GW_ERR_TENANT_WAKE_FAILED`; 503 with `Retry-After` computed from the start queue: `GW_ERR_TENANT_WAKE_PENDING` (not ready within `WARMUP_TIMEOUT`; the wake goes on), `GW_ERR_TENANT_WARMING` (`Prefer: respond-async`, with `position` in the start queue), `GW_ERR_TENANT_WAKE_TIMEOUT`',
    },
    'GET /warmup/events': {
      does: 'Progress of the wake as Server-Sent Events (`event: progress`, data [WakeProgress](#wakeprogress)), starting a wake if the container sleeps; ends after phase `ready` or `failed`.',
      auth: 'session-or-key',
      answers: '200 `text/event-stream`',
    },
    'GET /warmup/waiting.js': {
      does: 'The script of the waiting page (served separately so the page needs no inline script).',
      auth: 'none',
      answers: '200 JavaScript',
    },
    'GET /auth/export': {
      does: 'A download of everything the platform holds about the signed-in user: both volumes of their container (files and history) and their record (user, tenant, usage, audit entries) as `account.json`, in one tar (`?format=tar.gz`: gzipped) under `tenancy-export/`. Works while the container sleeps without waking it; streamed end to end; audited. A plain GET on purpose (a link navigates to it): the answer is an attachment another site can neither read nor embed.',
      auth: 'session',
      answers:
        '200 `application/x-tar` or `application/gzip` with `Content-Disposition: attachment`; 401 `GW_ERR_SESSION_INVALID`; 404 never (the supervisor knows every signed-in user)',
    },
    'POST /auth/account/delete': {
      does: "Deletes the signed-in user's account after `DELETION_GRACE`: at once every session is revoked (the cookie cleared), the container stopped and the account refused (403 `GW_ERR_ACCOUNT_DELETION_PENDING`) except for signing in, `GET /auth/export` and `POST /auth/account/restore`. Then the container, network, volumes, disk and the user's record are erased, and the audit log keeps only a pseudonym.",
      auth: 'session',
      answers: '202 `{"deletion_due_at","restore"}`; 403 `GW_ERR_CROSS_SITE_REFUSED`',
    },
    'POST /auth/account/restore': {
      does: 'Cancels a deletion within the grace: the account works again, with its data.',
      auth: 'session',
      answers: '200 `{"restored":true}`; 409 `GW_ERR_ACCOUNT_DELETION_NOT_PENDING`; 403 `GW_ERR_CROSS_SITE_REFUSED`',
    },
    'GET /_tenancy/pages.css': {
      does: 'The stylesheet of the platform pages (docs/pages.md).',
      auth: 'none',
      answers: '200 CSS',
    },
    'GET /_tenancy/workspace': {
      does: 'The user\'s "My workspace" page (docs/pages.md): container state and wake progress, time left before it sleeps with keep awake and a warning shortly before, stop now, links to API keys, export and deletion.',
      auth: 'session',
      answers: '200 HTML; without a session a page load is redirected (303) to the sign-in page',
    },
    'GET /_tenancy/workspace.js': {
      does: 'The script of the workspace page.',
      auth: 'none',
      answers: '200 JavaScript',
    },
    'POST /auth/tenant/activity': {
      does: '"Keep awake": counts as activity of the session\'s running container now, so its idle deadline moves to now + `IDLE_TIMEOUT`. A container that is not running is left alone.',
      auth: 'session',
      answers:
        '200 `{state, idle_deadline}`; 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests))',
    },
    'POST /auth/tenant/stop': {
      does: '"Stop now": stops the session\'s container (stop reason `user`, audited as `tenant.stop` by `user:<id>`); its data stays and the next request wakes it.',
      auth: 'session',
      answers:
        '200 `{state, idle_deadline}`; 403 `GW_ERR_USER_DISABLED`; 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests))',
    },
    'GET /_tenancy/admin/login': {
      does: 'The admin console sign-in form (no script): posts an admin token to `POST /_tenancy/admin/login`.',
      auth: 'none',
      answers: '200 HTML',
    },
    'POST /_tenancy/admin/login': {
      does: 'Form body `token`: asks the supervisor whose admin token it is (`GET /v1/whoami` with it); when it is one, keeps it server-side (Redis, encrypted under a key only the cookie holds) and sets the HttpOnly, SameSite=Strict, host-only admin cookie.',
      auth: 'none',
      answers:
        '303 to `/_tenancy/admin`; 401 HTML (the form again) for a refused token; 429 HTML after 10 refused tokens from the client within a minute; 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests))',
    },
    'POST /_tenancy/admin/logout': {
      does: 'Ends the admin session and clears its cookie.',
      auth: 'none',
      answers:
        '303 to `/_tenancy/admin/login`; 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests))',
    },
    'GET /_tenancy/admin': {
      does: 'The admin console: capacity at a glance and the tenants table (search, paging, refreshed every 5 s).',
      auth: 'admin-session',
      answers: '200 HTML; without an admin session a page load is redirected (303) to `/_tenancy/admin/login`',
    },
    'GET /_tenancy/admin/audit': {
      does: 'The audit log with filters (target, action), newest first.',
      auth: 'admin-session',
      answers: '200 HTML; as `GET /_tenancy/admin` without a session',
    },
    'GET /_tenancy/admin/tenants/:userId': {
      does: 'One tenant: overview, actions (wake, sleep, stop, disable, enable, delete with typed confirmation), usage and disk, log tail, audit entries.',
      auth: 'admin-session',
      answers: '200 HTML; as `GET /_tenancy/admin` without a session',
    },
    'GET /_tenancy/admin.js': {
      does: 'The script of the admin console pages.',
      auth: 'none',
      answers: '200 JavaScript',
    },
    'GET /_tenancy/admin/api/*': {
      does: "Relayed to the supervisor's admin API (`/v1/*`) with the signed-in admin's own token: `summary`, `tenants`, `tenants/:userId`, `tenants/:userId/logs`, `audit` only.",
      auth: 'admin-session',
      answers:
        "the supervisor's answer; 401 `GW_ERR_ADMIN_SESSION_MISSING` without a session or when the supervisor no longer accepts the token (the session ends); 404 `GW_ERR_ROUTE_NOT_FOUND` for any other path; 503 `GW_ERR_ADMIN_SESSION_UNAVAILABLE` when Redis does not answer",
    },
    'POST /_tenancy/admin/api/*': {
      does: 'As the GET relay, for `tenants/:userId/start|stop|pause` and `users/:userId/disable|enable`: audited by the supervisor under the admin.',
      auth: 'admin-session',
      answers:
        'as the GET relay; 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests))',
    },
    'DELETE /_tenancy/admin/api/*': {
      does: 'As the GET relay, for `tenants/:userId?confirm=<userId>`.',
      auth: 'admin-session',
      answers:
        'as the GET relay; 403 `GW_ERR_CROSS_SITE_REFUSED` from a page of another site (see [Cross-site requests](#cross-site-requests))',
    },
    'ANY /_tenancy/*': {
      does: 'Every other path under the prefix: the gateway owns it on the platform origin, so it never reaches a tenant.',
      auth: 'none',
      answers: '404 `GW_ERR_ROUTE_NOT_FOUND`',
    },
    'ANY /': {
      does: "Proxied to the signed-in user's own container (see [Tenant app](#tenant-app-through-the-gateway)).",
      auth: 'session-or-key',
      answers:
        "the tenant's answer; without a valid session a browser page load is redirected (303) to `/auth/login?next=…` in dev and access modes; a stopped container: browser page loads get the waiting page (503 with `Retry-After` from the start queue), requests with `Prefer: respond-async` get 503 `GW_ERR_TENANT_WARMING` with `Retry-After`, others are held until ready (at most `WARMUP_TIMEOUT`, then 503 `GW_ERR_TENANT_WAKE_PENDING`); a paused container is thawed and every request held (tens of milliseconds); 502 `GW_ERR_UPSTREAM_UNAVAILABLE`; 504 `GW_ERR_UPSTREAM_TIMEOUT`",
    },
    'ANY /*': {
      does: 'Same as `ANY /`, for every other path. WebSocket upgrades on any path are authenticated the same way and tunnelled (a sleeping container answers 503 `GW_ERR_TENANT_WARMING`).',
      auth: 'session-or-key',
    },
  },
  supervisor: {
    'GET /health': { does: 'The process is up.', auth: 'none', answers: '200 `{"status":"ok"}`' },
    'GET /ready': {
      does: 'The central database and the container engine answer.',
      auth: 'none',
      answers: '200 `{"status":"ready"}`; 503 `SUP_ERR_RUNTIME_UNAVAILABLE`',
    },
    'GET /metrics': { does: 'Prometheus metrics (see docs/operations.md).', auth: 'none', answers: '200 text' },
    'PUT /internal/v1/users/:userId': {
      does: 'Records a login: creates or updates the user (fields left out keep their value).',
      auth: 'supervisor-token',
    },
    'POST /internal/v1/tenants/:userId/wake': {
      does: "Wakes the user's tenant. Concurrent calls share one wake; starts are admitted through the start queue (`WAKE_CONCURRENCY` at a time, first come first served), a paused tenant is thawed without queueing. Without `wait` it answers at once with where the wake stands (`phase`, `position` in the queue, `retryAfterSeconds`); with `wait: true` when the tenant is ready, or after `timeoutMs` (at most `WARMUP_TIMEOUT`) with 503 `SUP_ERR_WAKE_PENDING` while the wake goes on.",
      auth: 'supervisor-token',
      answers:
        '404 `SUP_ERR_USER_NOT_FOUND`; 403 `SUP_ERR_USER_DISABLED`; 429 `SUP_ERR_CAPACITY_FULL` (`Retry-After`, `retryAfterSeconds`); 502 `SUP_ERR_WAKE_FAILED`; 503 `SUP_ERR_WAKE_TIMEOUT` and `SUP_ERR_WAKE_PENDING` (`Retry-After`, `retryAfterSeconds`); 409 `SUP_ERR_WAKE_CANCELLED`',
    },
    'GET /internal/v1/tenants/:userId/wake/events': {
      does: 'Progress of the wake as Server-Sent Events (`event: progress`, data [WakeProgress](#wakeprogress), a `: keep-alive` comment every 15 s), starting a wake if none runs; ends after phase `ready` or `failed`.',
      auth: 'supervisor-token',
      answers: '200 `text/event-stream`; errors before the stream starts are JSON as for `wake`',
    },
    'GET /internal/v1/users/:userId/api-keys': {
      does: 'The user’s personal API keys, revoked ones included.',
      auth: 'supervisor-token',
    },
    'POST /internal/v1/users/:userId/api-keys': {
      does: 'Records a key the gateway minted: its id, name, scope, expiry and SHA-256 (the key itself never reaches the supervisor). Audited as `api-key.create`.',
      auth: 'supervisor-token',
      answers: '404 `SUP_ERR_USER_NOT_FOUND`; 409 `SUP_ERR_API_KEY_LIMIT` (50 live keys)',
    },
    'DELETE /internal/v1/users/:userId/api-keys/:keyId': {
      does: 'Revokes one of the user’s keys (audited once as `api-key.revoke` by `self`) and announces it on the feed (`event: revoke-key`).',
      auth: 'supervisor-token',
      answers: '404 `SUP_ERR_API_KEY_NOT_FOUND` (also for another user’s key)',
    },
    'POST /internal/v1/api-keys/:keyId/verify': {
      does: 'Checks a presented key by its hash: live, unexpired, its user not disabled. Notes the use (at most once a minute) and audits the first as `api-key.first-use`.',
      auth: 'supervisor-token',
      answers:
        '401 `SUP_ERR_API_KEY_INVALID` (unknown, wrong hash, revoked or expired: one answer for all); 403 `SUP_ERR_USER_DISABLED`, `SUP_ERR_ACCOUNT_DELETION_PENDING`',
    },
    'GET /internal/v1/tenants/:userId/route': {
      does: "State and endpoint of the tenant, without waking it, with the user's current `plan`. `endpoint` is present only while running.",
      auth: 'supervisor-token',
      answers: '403 `SUP_ERR_USER_DISABLED`',
    },
    'GET /internal/v1/events': {
      does: 'The gateway replicas’ feed: `event: hello` once connected, then `event: unroute` with `{"userId"}` whenever a tenant stops being reachable where it was (a stop begins, it crashed or was removed) or a login changed the user’s plan, so cached routes are dropped at once, and `event: revoke` with `{"userId"}` when the user is disabled: every replica revokes all their sessions, and `event: revoke-key` with `{"userId","keyId"}` when an API key is revoked: every replica records it and refuses the key.',
      auth: 'supervisor-token',
      answers: '200 `text/event-stream`, open until the client leaves',
    },
    'GET /internal/v1/users/:userId/export': {
      does: "The user's data as one archive, streamed (see `GET /v1/users/:userId/export`); audited with actor `self`.",
      auth: 'supervisor-token',
      answers:
        '200 `application/x-tar` or `application/gzip`; 404 `SUP_ERR_USER_NOT_FOUND`; 502 `SUP_ERR_EXPORT_FAILED`',
    },
    'POST /internal/v1/users/:userId/deletion': {
      does: 'The user asks to delete their account: refused from now on (`SUP_ERR_ACCOUNT_DELETION_PENDING` on route and wake), sessions revoked through the feed, container stopped; erased after `DELETION_GRACE`. Asking again keeps the first due time.',
      auth: 'supervisor-token',
      answers: '202 `{"deletionDueAt"}`; 404 `SUP_ERR_USER_NOT_FOUND`',
    },
    'DELETE /internal/v1/users/:userId/deletion': {
      does: 'Cancels a scheduled deletion; answers the user record.',
      auth: 'supervisor-token',
      answers: '200; 409 `SUP_ERR_ACCOUNT_DELETION_NOT_PENDING`',
    },
    'GET /v1/users/:userId/export': {
      does: 'Everything held about a user as one tar (`?format=tar.gz`: gzipped): `tenancy-export/account.json` (user, tenant, usage, every audit entry about them) and both volumes under `tenancy-export/volumes/`. Read through a helper container that mounts the volumes read-only and is never started, so it works in any state without waking the tenant; streamed end to end; no secrets. Audited (`user.export`).',
      auth: 'admin-token',
      answers:
        '200 `application/x-tar` or `application/gzip` with `Content-Disposition: attachment`; 404 `SUP_ERR_USER_NOT_FOUND`; 502 `SUP_ERR_EXPORT_FAILED`',
    },
    'POST /v1/users/:userId/deletion': {
      does: "Schedules the user's erasure after `DELETION_GRACE`, as if they asked; disabled at once.",
      auth: 'admin-token',
      answers: '202 `{"deletionDueAt"}`; 404 `SUP_ERR_USER_NOT_FOUND`',
    },
    'DELETE /v1/users/:userId/deletion': {
      does: 'Cancels a scheduled deletion.',
      auth: 'admin-token',
      answers: '200 the user record; 409 `SUP_ERR_ACCOUNT_DELETION_NOT_PENDING`',
    },
    'DELETE /v1/users/:userId': {
      does: "Erases the account at once (`confirm` repeats the user id): the tenant's container, network, volumes and disk, the user and tenant records; audit entries about the user keep only `erased:` and an HMAC of the id.",
      auth: 'admin-token',
      answers: '200 `{"erased"}` (the pseudonym); 400 `SUP_ERR_CONFIRM_MISMATCH`; 404 `SUP_ERR_USER_NOT_FOUND`',
    },
    'POST /internal/v1/tenants/:userId/stop': {
      does: 'The user\'s own "stop now" (the gateway\'s `POST /auth/tenant/stop`): stops the tenant (stop reason `user`), audited as `tenant.stop` by `user:<id>`; answers the route as `route` does. A no-op without a tenant.',
      auth: 'supervisor-token',
      answers: '403 `SUP_ERR_USER_DISABLED`',
    },
    'POST /internal/v1/activity': {
      does: 'Activity the gateway saw since its last report; moves each idle deadline forward (never back). Activity stamped in the future counts as now.',
      auth: 'supervisor-token',
      answers: '204',
    },
    'GET /v1/tenants': {
      does: 'Tenants, ordered by user id; `next` is the `after` of the next page; `q` keeps the user ids that contain it.',
      auth: 'admin-token',
    },
    'GET /v1/tenants/:userId': {
      does: 'One tenant: state, phase, endpoint, activity, idle deadline, stop reason, wake timings, limits, disk use and its latest usage summary.',
      auth: 'admin-token',
    },
    'GET /v1/tenants/:userId/logs': {
      does: "The last `tail` lines of the tenant container's output (stdout and stderr).",
      auth: 'admin-token',
      answers: '200 `text/plain`; 404 `SUP_ERR_TENANT_NOT_FOUND`',
    },
    'POST /v1/tenants/:userId/start': {
      does: 'Wakes the tenant and waits until it is ready.',
      auth: 'admin-token',
      answers: '404 `SUP_ERR_USER_NOT_FOUND`; the wake errors as for the internal `wake`',
    },
    'POST /v1/tenants/:userId/pause': {
      does: 'Freezes a running tenant (first stage of sleep: memory kept, no CPU; the next request thaws it in tens of milliseconds). A no-op in any other state, and while an export reads its history. On a runtime that cannot pause it stops the tenant instead (stop reason `admin`). Audited as `tenant.pause`.',
      auth: 'admin-token',
    },
    'POST /v1/tenants/:userId/stop': {
      does: 'Stops the tenant’s container (stop reason `admin`), running or paused; idempotent. A wake in progress is cancelled.',
      auth: 'admin-token',
    },
    'DELETE /v1/tenants/:userId': {
      does: "Removes the tenant's container, network and both volumes (its files and history, for good) and its row; the user row stays. `confirm` must repeat the user id. Idempotent.",
      auth: 'admin-token',
      answers: '400 `SUP_ERR_CONFIRM_MISMATCH`; 404 `SUP_ERR_USER_NOT_FOUND`',
    },
    'POST /v1/tenants/:userId/summary': {
      does: 'Stores what a tenant reports about its use (the shape of the tenant app’s `GET /summary`); the latest report replaces the previous one.',
      auth: 'admin-or-summary',
      answers: '204; 404 `SUP_ERR_TENANT_NOT_FOUND`',
    },
    'GET /v1/summary': {
      does: 'Tenants by state, usage totals over every tenant that reported, and capacity: `MAX_RUNNING_TENANTS` (resolved), `WAKE_CONCURRENCY` and the start queue now.',
      auth: 'admin-token',
      answers:
        '200 `{tenants: {<state>: n}, usage: {tenants, messages, replies, tokensUsed, bytesStored}, capacity: {maxRunning, wakeConcurrency, startQueue}}`',
    },
    'GET /v1/whoami': {
      does: 'Who the bearer token is: what the audit log names for it. The admin console checks a sign-in with it.',
      auth: 'admin-token',
      answers: '200 `{actor}` (`bootstrap` or `admin:<name>`)',
    },
    'POST /v1/users/:userId/disable': {
      does: 'Refuses the user’s logins and wakes from now on and stops their container (reason `admin`), so it takes effect at once. Audited as `user.disable`.',
      auth: 'admin-token',
    },
    'POST /v1/users/:userId/enable': {
      does: 'Allows a disabled user again. Audited as `user.enable`.',
      auth: 'admin-token',
    },
    'POST /v1/backup': {
      does: 'Writes an online copy of the central database (SQLite backup API) to `BACKUP_DIR/tenancy-<time>.db` and audits it.',
      auth: 'admin-token',
      answers: '200 `{path, bytes, ms}`',
    },
    'GET /v1/admins': {
      does: 'Named admin identities, oldest first, revoked ones included (never a token or its hash).',
      auth: 'admin-token',
    },
    'POST /v1/admins': {
      does: 'Creates a named admin identity (bootstrap `ADMIN_TOKEN` only) and answers its token, once: only a SHA-256 hash is kept. Names are unique forever, so `admin:<name>` in the audit log means one identity. Audited as `admin.create`.',
      auth: 'admin-token',
    },
    'DELETE /v1/admins/:id': {
      does: 'Revokes a named admin identity (bootstrap `ADMIN_TOKEN` only): its token is refused from the next request. Idempotent; audited once as `admin.revoke`.',
      auth: 'admin-token',
    },
    'GET /v1/api-keys': {
      does: 'Every user’s personal API keys, or one user’s (`?userId=`), revoked ones included; never a key or its hash.',
      auth: 'admin-token',
    },
    'DELETE /v1/api-keys/:keyId': {
      does: 'Revokes a user’s API key: announced on the gateways’ feed (`event: revoke-key`), so every replica records it in Redis and refuses the key. Idempotent; audited once as `api-key.revoke` under the admin who did it.',
      auth: 'admin-token',
      answers: '404 `SUP_ERR_API_KEY_NOT_FOUND`',
    },
    'GET /v1/audit': {
      does: 'The append-only audit log, newest first; `before` (an entry id) pages back.',
      auth: 'admin-token',
      answers:
        '200 `{items: [{id, at, actor, action, target, result, detail}]}`; `actor` of an admin action is `bootstrap` (`ADMIN_TOKEN`) or `admin:<name>` (a named identity)',
    },
  },
  tenant: {
    'GET /health': {
      does: 'Ready: the history database is open and migrated. The supervisor probes this during a wake.',
      auth: 'none',
      answers: '200 `{"status":"ok"}`',
    },
    'POST /chat': {
      does: 'Body `{"message": "..."}` (1–8000 characters). Stores the message and the reply before answering. With `Accept: text/event-stream` the reply streams as `token` events, then a `done` event with the JSON answer.',
      auth: 'secret',
      answers: '200 `{reply, message_id, reply_id, user_id}`; 400 `TENANT_ERR_REQUEST_INVALID`',
    },
    'GET /history': {
      does: 'Messages and replies, newest first; `?limit=` (1–200, default 50), `?before=<id>` pages back.',
      auth: 'secret',
      answers: '200 `{items, next}` (`next` is the `before` of the next page, or null)',
    },
    'DELETE /history': { does: 'Forgets the whole history.', auth: 'secret', answers: '200 `{deleted}`' },
    'GET /summary': {
      does: 'Usage of this tenant.',
      auth: 'secret',
      answers: '200 `{messages, replies, tokensUsed, bytesStored, lastActivity}`',
    },
    'GET /files/*': {
      does: 'A path ending in `/` (or empty) lists that folder; otherwise the file’s bytes.',
      auth: 'secret',
      answers: '200 `{items: [{name, type, bytes, modifiedAt}]}` or the file; 400 `TENANT_ERR_PATH_INVALID`; 404',
    },
    'PUT /files/*': {
      does: 'Writes the raw request body to the file, atomically.',
      auth: 'secret',
      answers: '200; 413 `TENANT_ERR_FILE_TOO_LARGE`; 507 `TENANT_ERR_QUOTA_EXCEEDED`',
    },
    'DELETE /files/*': { does: 'Deletes the file.', auth: 'secret', answers: '204' },
    'GET /': {
      does: 'The chat page (strict Content-Security-Policy, no inline script).',
      auth: 'secret',
      answers: '200 HTML',
    },
    'GET /app.js': { does: 'The chat page’s script.', auth: 'secret', answers: '200 JavaScript' },
  },
};

/** One route as Fastify registered it. */
export interface CollectedRoute {
  method: string;
  url: string;
  schema: {
    params?: SchemaNode;
    querystring?: SchemaNode;
    body?: SchemaNode;
    response?: Record<string, SchemaNode>;
  };
}

/** A built app and the routes it registered. */
export interface BuiltApp {
  service: 'gateway' | 'supervisor' | 'tenant';
  app: FastifyInstance;
  routes: CollectedRoute[];
}

/**
 * Runs `build`, recording every route of the Fastify instance it creates. The hook is installed
 * through the diagnostics channel Fastify publishes each new instance on, so it sees every
 * route, whatever plugin registers it.
 */
async function collectRoutes<A extends FastifyInstance>(
  build: () => Promise<A>,
): Promise<{ app: A; routes: CollectedRoute[] }> {
  const routes: CollectedRoute[] = [];
  const onInstance = (message: unknown) => {
    const { fastify } = message as { fastify: FastifyInstance };
    fastify.addHook('onRoute', (options: RouteOptions) => {
      const methods = [options.method].flat().map(String);
      const method = methods.length > 2 ? 'ANY' : methods.join(', ');
      routes.push({ method, url: options.url, schema: (options.schema ?? {}) as CollectedRoute['schema'] });
    });
  };
  subscribe('fastify.initialization', onInstance);
  try {
    const app = await build();
    await app.ready();
    // HEAD routes Fastify adds for every GET document nothing new.
    const gets = new Set(routes.filter((route) => route.method === 'GET').map((route) => route.url));
    return { app, routes: routes.filter((route) => !(route.method === 'HEAD' && gets.has(route.url))) };
  } finally {
    unsubscribe('fastify.initialization', onInstance);
  }
}

/** A dependency the builder must not use: any use while building or documenting throws. */
function unused<T>(name: string): T {
  return new Proxy(
    {},
    {
      get(_target, property) {
        // Promise resolution and inspection look for these; they are not uses.
        if (property === 'then' || typeof property === 'symbol') return undefined;
        throw new Error(`${name}.${property} was used while documenting the API`);
      },
    },
  ) as T;
}

/** Just enough of ioredis for the revocation view to start: no revocations, nothing published. */
class SilentRedis extends EventEmitter {
  async subscribe(): Promise<number> {
    return 1;
  }
  async scan(): Promise<[string, string[]]> {
    return ['0', []];
  }
  async mget(): Promise<null[]> {
    return [];
  }
  async ping(): Promise<string> {
    return 'PONG';
  }
  disconnect(): void {}
}

const FILLER = 'documentation-only-secret-0123456789';

/** Builds the three apps with stand-ins for their dependencies. Close them when done. */
export async function buildApps(): Promise<BuiltApp[]> {
  const logger = pino({ level: 'silent' });
  const gateway = await collectRoutes(() =>
    buildGateway(
      // OIDC mode: it has every route (token mode has no sign-in page, access mode no provider
      // routes); its login refuses every caller, and the provider is looked up only at the first
      // sign-in (the discard port on loopback: refused at once, nothing leaves the machine).
      loadGatewayConfig({
        AUTH_MODE: 'oidc',
        OIDC_ISSUER: 'http://127.0.0.1:9',
        OIDC_CLIENT_ID: 'documentation',
        COOKIE_JWT_SECRET: FILLER,
        SUPERVISOR_TOKEN: FILLER,
        LOG_LEVEL: 'silent',
      }),
      {
        redis: new SilentRedis() as unknown as Redis,
        subscriber: new SilentRedis() as unknown as Redis,
        logger,
        supervisor: unused<SupervisorClient>('supervisor'),
      },
    ),
  );
  const supervisor = await collectRoutes(() =>
    buildSupervisor(
      loadSupervisorConfig({
        ADMIN_TOKEN: FILLER,
        SUPERVISOR_TOKEN: `${FILLER}-internal`,
        TENANT_NAMESPACE_KEY: FILLER,
        LOG_LEVEL: 'silent',
        BACKUP_DIR: '/nonexistent',
      }),
      {
        store: unused<SupervisorDeps['store']>('store'),
        runtime: unused<SupervisorDeps['runtime']>('runtime'),
        controller: unused<SupervisorDeps['controller']>('controller'),
        plans: unused<SupervisorDeps['plans']>('plans'),
        metrics: unused<SupervisorDeps['metrics']>('metrics'),
        logger,
      },
    ),
  );
  const tenant = await collectRoutes(() =>
    buildTenant(loadTenantConfig({ TENANT_SECRET: FILLER, FILES_DIR: '/nonexistent', HISTORY_DIR: '/nonexistent' }), {
      history: unused<TenantDeps['history']>('history'),
      responder: unused<TenantDeps['responder']>('responder'),
      logger,
    }),
  );
  return [
    { service: 'gateway', ...gateway },
    { service: 'supervisor', ...supervisor },
    { service: 'tenant', ...tenant },
  ];
}

/** Named shapes: a response with one of these schemas links to its table instead of repeating it. */
const NAMED: readonly [string, TSchema][] = [
  ['TenantView', TenantView],
  ['TenantList', TenantList],
  ['TenantRoute', TenantRoute],
  ['UserRecord', UserRecord],
  ['WakeProgress', WakeProgress],
  ['ErrorBody', ErrorBody],
];

function nameOf(schema: SchemaNode): string | undefined {
  const text = JSON.stringify(schema);
  return NAMED.find(([, named]) => named === schema || JSON.stringify(named) === text)?.[0];
}

function anchor(name: string): string {
  return `[${name}](#${name.toLowerCase()})`;
}

function fieldTable(schema: SchemaNode, self?: string): string {
  const link = (node: SchemaNode) => {
    const name = nameOf(node);
    return name && name !== self ? anchor(name) : undefined;
  };
  const rows = fieldsOf(schema, link).map((field) => [
    `\`${field.name}\``,
    field.type,
    field.required ? 'yes' : '',
    field.notes,
  ]);
  return table(['field', 'type', 'required', 'notes'], rows);
}

function responseText(status: string, schema: SchemaNode): string {
  const named = nameOf(schema);
  if (named) return `${status} ${anchor(named)}`;
  if (schema.type === 'null') return `${status} (empty)`;
  return `${status} ${typeText(schema)}`;
}

function renderRoute(service: string, route: CollectedRoute): string {
  const key = `${route.method} ${route.url}`;
  const note = ROUTE_NOTES[service]?.[key];
  if (!note) throw new Error(`${service}: route ${key} has no entry in ROUTE_NOTES (scripts/api-docs.ts)`);
  const lines = [`#### \`${key}\``, '', note.does, '', `- auth: ${AUTH_TEXT[note.auth]}`];
  const answers = [
    ...Object.entries(route.schema.response ?? {})
      .filter(([status]) => status !== '400' && status !== '404')
      .map(([status, schema]) => responseText(status, schema)),
    ...(note.answers ? [note.answers] : []),
  ];
  if (answers.length > 0) lines.push(`- answers: ${answers.join('; ')}`);
  lines.push('');
  for (const [title, schema] of [
    ['Path parameters', route.schema.params],
    ['Query', route.schema.querystring],
    ['Body (JSON)', route.schema.body],
  ] as const) {
    if (!schema?.properties || Object.keys(schema.properties).length === 0) continue;
    const named = nameOf(schema);
    lines.push(named ? `${title}: ${anchor(named)}` : `${title}:\n\n${fieldTable(schema).trimEnd()}`, '');
  }
  return lines.join('\n');
}

function renderService(built: BuiltApp): string {
  const notes = ROUTE_NOTES[built.service] ?? {};
  const keys = new Set(built.routes.map((route) => `${route.method} ${route.url}`));
  const stale = Object.keys(notes).filter((key) => !keys.has(key));
  if (stale.length > 0)
    throw new Error(`${built.service}: ROUTE_NOTES names routes that do not exist: ${stale.join(', ')}`);
  const overview = table(
    ['route', 'auth', 'does'],
    built.routes.map((route) => {
      const key = `${route.method} ${route.url}`;
      const note = notes[key];
      const first = note?.does.split(/(?<=\.) /)[0] ?? '';
      return [`\`${key}\``, note ? AUTH_SHORT[note.auth] : '', first];
    }),
  );
  return [overview, ...built.routes.map((route) => renderRoute(built.service, route))].join('\n');
}

function renderTypes(): string {
  return NAMED.map(([name, schema]) => `#### ${name}\n\n${fieldTable(schema as SchemaNode, name)}`).join('\n');
}

function errorRows(registry: Readonly<Record<string, ErrorFactory>>): string[][] {
  return Object.values(registry).map((factory) => [
    `\`${factory.code}\``,
    String(factory.statusCode),
    factory.defaultMessage,
  ]);
}

function renderErrors(): string {
  // The tenant app's registry holds functions, some taking an argument; code and status are fixed.
  const tenantRows = Object.values(tenantErrors).map((make) => {
    const build = make as (argument?: unknown) => { code: string; statusCode: number; message: string };
    const plain = build();
    const message =
      plain.message === ''
        ? '(says what is wrong)'
        : plain.message.includes('undefined')
          ? build('N').message
          : plain.message;
    return [`\`${plain.code}\``, String(plain.statusCode), message];
  });
  return [
    '#### Gateway (`gateway/src/errors.ts`)\n',
    table(['code', 'status', 'default message'], errorRows(gatewayErrors)),
    '#### Supervisor (`supervisor/src/errors.ts`)\n',
    table(['code', 'status', 'default message'], errorRows(supervisorErrors)),
    '#### Tenant app (`tenant-image/src/errors.ts`)\n',
    table(['code', 'status', 'default message'], tenantRows),
  ].join('\n');
}

/** The generated regions of docs/api.md. */
export async function renderApiRegions(): Promise<Record<string, string>> {
  const apps = await buildApps();
  try {
    const by = (service: BuiltApp['service']) => {
      const built = apps.find((app) => app.service === service);
      if (!built) throw new Error(`no ${service} app`);
      return built;
    };
    return {
      'gateway-routes': renderService(by('gateway')),
      'supervisor-routes': renderService(by('supervisor')),
      'tenant-routes': renderService(by('tenant')),
      types: renderTypes(),
      errors: renderErrors(),
    };
  } finally {
    await Promise.all(apps.map(({ app }) => app.close()));
  }
}

export const API_DOC = join(import.meta.dirname, '..', 'docs', 'api.md');

if (import.meta.url === `file://${process.argv[1]}`) {
  const regions = await renderApiRegions();
  if (process.argv.includes('--write')) {
    const changed = await writeRegions(API_DOC, regions);
    process.stdout.write(changed ? `updated ${API_DOC}\n` : `${API_DOC} is up to date\n`);
  } else {
    for (const [name, text] of Object.entries(regions)) process.stdout.write(`<!-- ${name} -->\n${text}\n`);
  }
}
