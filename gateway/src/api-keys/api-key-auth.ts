import type { IncomingHttpHeaders } from 'node:http';
import { isTenancyError } from '@tenancy/shared';
import type { FastifyBaseLogger } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { FailedLogins } from '../auth/failed-logins.js';
import { errors } from '../errors.js';
import { type RevocationMessage, userHash } from '../revocation/keys.js';
import type { Revocations } from '../revocation/revocations.js';
import type { Session } from '../session/tokens.js';
import type { SupervisorClient } from '../supervisor/client.js';
import { API_KEY_PREFIX, apiKeyId, hashApiKey } from './key-format.js';

/**
 * How long a verified key is served from memory before the supervisor is asked again: what
 * bounds `last_used_at` (one verification, so at most one write, a minute per key and replica)
 * and how late a replica that missed a revocation (Redis lost) still accepts the key.
 */
export const VERIFIED_KEY_TTL_MS = 60_000;

/** `Authorization: Bearer tny_…`; any other bearer credential is the tenant's own business. */
const BEARER_KEY = new RegExp(`^bearer\\s+(${API_KEY_PREFIX}\\S*)\\s*$`, 'i');

export interface ApiKeyAuthOptions {
  supervisor: SupervisorClient;
  revocations: Revocations;
  /** Failed key attempts per client (a FailedLogins of its own: key failures do not lock sign-in). */
  failures: FailedLogins;
  /** Verified keys kept at most (TOKEN_CACHE_SIZE, as for session tokens). */
  capacity: number;
  log: FastifyBaseLogger;
  now?: () => number;
}

/**
 * Requests authenticated with a personal API key, for the tenant routes (proxy, warmup). A key
 * is checked in three steps: its shape and checksum here (a malformed key costs no lookup), its
 * hash by the supervisor, which holds the keys (once a minute at most, then from memory), and
 * the revocation view on every request, like a session: in steady state a request with a key
 * costs no Redis command and no supervisor call.
 *
 * A revocation (the user's, through this gateway, or an admin's, through the supervisor's feed)
 * is published on the revocation channel: every replica drops the key from memory and refuses it
 * from its view at once, and open streams made with it are cut (session-streams.ts). A user
 * revocation (disabled, or signed out everywhere) drops that user's keys from memory, so the
 * next request asks the supervisor, which refuses a disabled user.
 *
 * Logs `api key revoked` once per replica when it first hears of a revocation.
 */
export class ApiKeyAuth {
  private readonly verified: LRUCache<string, Session>;
  private readonly now: () => number;
  /** Revocations already heard (one is often heard more than once: its write, the feed's). */
  private readonly heard = new LRUCache<string, true>({ max: 10_000 });
  private readonly onRevoked = (message: RevocationMessage) => {
    if (message.kind === 'key') {
      for (const [key, session] of this.verified.entries())
        if (session.keyId === message.keyId) this.verified.delete(key);
      if (this.heard.has(message.keyId)) return;
      this.heard.set(message.keyId, true);
      this.options.log.info({ keyId: message.keyId }, 'api key revoked');
    } else if (message.kind === 'user') {
      for (const [key, session] of this.verified.entries())
        if (userHash(session.userId) === message.user && session.authTime <= message.before) this.verified.delete(key);
    }
  };

  constructor(private readonly options: ApiKeyAuthOptions) {
    this.now = options.now ?? Date.now;
    this.verified = new LRUCache({ max: options.capacity, ttl: VERIFIED_KEY_TTL_MS });
    options.revocations.on('revoked', this.onRevoked);
  }

  /** The API key a request presents, or undefined when it presents none (a cookie, another bearer). */
  keyOf(headers: IncomingHttpHeaders): string | undefined {
    const header = headers.authorization;
    return typeof header === 'string' ? BEARER_KEY.exec(header)?.[1] : undefined;
  }

  /**
   * The caller a key stands for. Throws 401 GW_ERR_API_KEY_INVALID (malformed, unknown, revoked,
   * expired), 429 GW_ERR_API_KEY_RATE_LIMITED after too many failures from `client`, 403
   * GW_ERR_USER_DISABLED, or 503 when the supervisor or Redis cannot tell.
   */
  async verify(key: string, client: string): Promise<Session> {
    const cached = this.verified.get(key);
    if (cached && cached.expiresAt > this.now()) {
      await this.options.revocations.checkKey(cached.keyId as string);
      return cached;
    }
    const retryAfterSeconds = this.options.failures.retryAfterSeconds(client);
    if (retryAfterSeconds > 0) throw errors.apiKeyRateLimited(undefined, { details: { retryAfterSeconds } });
    const keyId = apiKeyId(key);
    if (keyId === undefined) throw this.failed(client, 'malformed');
    let record: Awaited<ReturnType<SupervisorClient['verifyApiKey']>>;
    try {
      record = await this.options.supervisor.verifyApiKey(keyId, hashApiKey(key));
    } catch (err) {
      if (isTenancyError(err, errors.apiKeyInvalid)) throw this.failed(client, 'refused', keyId);
      throw err;
    }
    // After the supervisor's answer: a revocation published while it was asked is in the view.
    await this.options.revocations.checkKey(keyId);
    const now = this.now();
    const session: Session = {
      userId: record.userId,
      sid: `key:${keyId}`,
      jti: keyId,
      email: record.email,
      plan: record.plan,
      // When this replica last had the key verified: a later user revocation ends what it let in.
      authTime: now,
      expiresAt: record.expiresAt ?? Number.MAX_SAFE_INTEGER,
      issuedAt: record.createdAt,
      keyId,
    };
    this.verified.set(key, session, { ttl: Math.max(1, Math.min(VERIFIED_KEY_TTL_MS, session.expiresAt - now)) });
    return session;
  }

  /** Stops following revocations. */
  close(): void {
    this.options.revocations.off('revoked', this.onRevoked);
    this.verified.clear();
  }

  private failed(client: string, reason: string, keyId?: string) {
    this.options.failures.failed(client);
    this.options.log.info({ keyId, reason }, 'api key refused');
    return errors.apiKeyInvalid();
  }
}
