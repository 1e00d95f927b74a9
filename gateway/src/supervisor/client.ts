import {
  type ActivityBatch,
  type ApiKeyList,
  type ApiKeyRecord,
  type CreateApiKeyBody,
  type DeletionScheduled,
  INTERNAL_ROUTES,
  type TenantRoute,
  type UpsertUserBody,
  type UserRecord,
  type VerifiedApiKey,
} from '@tenancy/shared';
import { errors } from '../errors.js';

/** The one typed client of the supervisor's internal API. */
export interface SupervisorClient {
  upsertUser(userId: string, body: UpsertUserBody): Promise<UserRecord>;
  /** Wakes the tenant; with `wait` resolves when it is ready (bounded by `timeoutMs`). */
  wake(userId: string, options: { wait: boolean; timeoutMs: number }): Promise<TenantRoute>;
  route(userId: string): Promise<TenantRoute>;
  /** The user's own "stop now": stops the container, audited under the user. */
  stop(userId: string): Promise<TenantRoute>;
  /** The supervisor's SSE stream of the wake's progress (starts a wake if needed). */
  wakeEvents(userId: string, signal: AbortSignal): Promise<Response>;
  /** The supervisor's SSE feed of tenants that stopped being reachable (`event: unroute`). */
  routeEvents(signal: AbortSignal): Promise<Response>;
  reportActivity(batch: ActivityBatch): Promise<void>;
  /** The supervisor's streamed export of the user's data (a tar, gzipped with `gzip`); the caller reads the body. */
  exportUser(userId: string, options: { gzip: boolean }, signal: AbortSignal): Promise<Response>;
  /** Disables the account now and schedules its erasure; answers when. */
  requestDeletion(userId: string): Promise<DeletionScheduled>;
  /** Cancels a scheduled erasure (409 GW_ERR_ACCOUNT_DELETION_NOT_PENDING when none is). */
  cancelDeletion(userId: string): Promise<UserRecord>;
  health(): Promise<void>;
  /** The user's personal API keys, revoked ones included. */
  listApiKeys(userId: string): Promise<ApiKeyList>;
  /** Records a key the gateway minted (its hash only). */
  createApiKey(userId: string, body: CreateApiKeyBody): Promise<ApiKeyRecord>;
  /** Revokes one of the user's keys; 404 GW_ERR_API_KEY_NOT_FOUND when it is not theirs. */
  revokeApiKey(userId: string, keyId: string): Promise<ApiKeyRecord>;
  /** The key with this id and hash, if live; 401 GW_ERR_API_KEY_INVALID otherwise. */
  verifyApiKey(keyId: string, keyHash: string): Promise<VerifiedApiKey>;
}

export function createSupervisorClient(baseUrl: string, token: string): SupervisorClient {
  const base = baseUrl.replace(/\/$/, '');
  const path = (route: string, userId: string) => route.replace(':userId', encodeURIComponent(userId));
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  async function call<T>(method: string, url: string, body: unknown, timeoutMs: number): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${url}`, {
        method,
        // A content type without a body is an error to Fastify (a DELETE has none).
        headers: body === undefined ? { authorization: headers.authorization } : headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw errors.supervisorUnavailable(undefined, { cause: err });
    }
    if (res.status === 204) return undefined as T;
    const payload = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.ok) return payload as T;
    throw fromSupervisor(res.status, payload, res.headers.get('retry-after'));
  }

  return {
    upsertUser: (userId, body) => call('PUT', path(INTERNAL_ROUTES.upsertUser, userId), body, 5_000),
    // The supervisor answers a waiting wake within timeoutMs (503 SUP_ERR_WAKE_PENDING when the
    // tenant is not ready by then); the margin covers the answer's way back on a busy host.
    wake: (userId, { wait, timeoutMs }) =>
      call(
        'POST',
        path(INTERNAL_ROUTES.wake, userId),
        wait ? { wait, timeoutMs } : { wait },
        wait ? timeoutMs + 5_000 : 5_000,
      ),
    route: (userId) => call('GET', path(INTERNAL_ROUTES.route, userId), undefined, 5_000),
    // A stop waits for the container's graceful shutdown (the engine's stop timeout, 10 s by default).
    stop: (userId) => call('POST', path(INTERNAL_ROUTES.stop, userId), {}, 30_000),
    async wakeEvents(userId, signal) {
      const res = await fetch(`${base}${path(INTERNAL_ROUTES.wakeEvents, userId)}`, { headers, signal }).catch(
        (err) => {
          throw errors.supervisorUnavailable(undefined, { cause: err });
        },
      );
      if (!res.ok) {
        const payload = (await res.json().catch(() => ({}))) as Record<string, unknown>;
        throw fromSupervisor(res.status, payload, res.headers.get('retry-after'));
      }
      return res;
    },
    async routeEvents(signal) {
      const res = await fetch(`${base}${INTERNAL_ROUTES.events}`, { headers, signal });
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw errors.supervisorUnavailable(`supervisor answered ${res.status} to the route feed`);
      }
      return res;
    },
    reportActivity: (batch) => call('POST', INTERNAL_ROUTES.activity, batch, 5_000),
    listApiKeys: (userId) => call('GET', path(INTERNAL_ROUTES.apiKeys, userId), undefined, 5_000),
    createApiKey: (userId, body) => call('POST', path(INTERNAL_ROUTES.apiKeys, userId), body, 5_000),
    revokeApiKey: (userId, keyId) =>
      call(
        'DELETE',
        path(INTERNAL_ROUTES.apiKey, userId).replace(':keyId', encodeURIComponent(keyId)),
        undefined,
        5_000,
      ),
    verifyApiKey: (keyId, keyHash) =>
      call('POST', INTERNAL_ROUTES.verifyApiKey.replace(':keyId', encodeURIComponent(keyId)), { keyHash }, 5_000),
    async exportUser(userId, { gzip }, signal) {
      const url = `${base}${path(INTERNAL_ROUTES.exportUser, userId)}${gzip ? '?format=tar.gz' : ''}`;
      const res = await fetch(url, { headers: { authorization: headers.authorization }, signal }).catch((err) => {
        throw errors.supervisorUnavailable(undefined, { cause: err });
      });
      if (!res.ok || !res.body) {
        const payload = (await res.json().catch(() => ({}))) as Record<string, unknown>;
        throw fromSupervisor(res.status, payload, res.headers.get('retry-after'));
      }
      return res;
    },
    // Stopping the container is part of the answer: bounded by the stop's grace and then some.
    requestDeletion: (userId) => call('POST', path(INTERNAL_ROUTES.deletion, userId), {}, 60_000),
    cancelDeletion: (userId) => call('DELETE', path(INTERNAL_ROUTES.deletion, userId), {}, 5_000),
    async health() {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2_000) });
      if (!res.ok) throw errors.supervisorUnavailable();
    },
  };
}

/** Maps a supervisor error to the gateway's own codes; users never see SUP_ERR_* codes. */
function fromSupervisor(status: number, payload: Record<string, unknown>, retryAfter: string | null) {
  const code = String(payload.code ?? '');
  const message = typeof payload.message === 'string' ? payload.message : undefined;
  switch (code) {
    case 'SUP_ERR_CAPACITY_FULL':
      return errors.capacity(undefined, {
        details: { retryAfterSeconds: retryAfterOf(retryAfter, payload, 30) },
      });
    case 'SUP_ERR_API_KEY_INVALID':
      return errors.apiKeyInvalid();
    case 'SUP_ERR_API_KEY_NOT_FOUND':
      return errors.apiKeyNotFound();
    case 'SUP_ERR_API_KEY_LIMIT':
      return errors.apiKeyLimit();
    case 'SUP_ERR_USER_DISABLED':
      return errors.userDisabled();
    case 'SUP_ERR_ACCOUNT_DELETION_PENDING':
      return errors.deletionPending();
    case 'SUP_ERR_ACCOUNT_DELETION_NOT_PENDING':
      return errors.deletionNotPending();
    // A valid session for a user the supervisor no longer knows (for example after a restore
    // from an older backup): the session is what is wrong, so the user signs in again.
    case 'SUP_ERR_USER_NOT_FOUND':
      return errors.sessionInvalid('your account is not known here any more; sign in again');
    case 'SUP_ERR_WAKE_TIMEOUT':
      return errors.wakeTimeout(undefined, { details: { retryAfterSeconds: retryAfterOf(retryAfter, payload, 5) } });
    case 'SUP_ERR_WAKE_PENDING':
      return errors.wakePending(message, { details: { retryAfterSeconds: retryAfterOf(retryAfter, payload, 2) } });
    case 'SUP_ERR_WAKE_FAILED':
    case 'SUP_ERR_WAKE_CANCELLED':
      return errors.wakeFailed(message);
    case 'SUP_ERR_REQUEST_INVALID':
      return errors.badRequest(message);
    default:
      return errors.supervisorUnavailable(`supervisor answered ${status} ${code}`.trim());
  }
}

/** The supervisor's Retry-After (header, else body), or `fallback` seconds when it gave none usable. */
function retryAfterOf(header: string | null, payload: Record<string, unknown>, fallback: number): number {
  const seconds = Number(header ?? payload.retryAfterSeconds);
  return Number.isInteger(seconds) && seconds > 0 ? seconds : fallback;
}
