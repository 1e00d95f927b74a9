import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import type { Revocations } from '../revocation/revocations.js';
import type { SessionCookie } from './cookie.js';
import type { Session, SessionTokens } from './tokens.js';
import type { VerifiedTokenCache } from './verified-cache.js';

/**
 * Who is calling: the session from the cookie, verified once and then served from the cache,
 * checked against the revocation view, and refreshed in the second half of its window.
 */
export class Authenticator {
  constructor(
    private readonly tokens: SessionTokens,
    private readonly cache: VerifiedTokenCache,
    private readonly revocations: Revocations,
    readonly cookie: SessionCookie,
  ) {}

  /** The session token of a request: from the cookie only, never from the URL or a header. */
  tokenOf(cookies: Record<string, string | undefined>): string | undefined {
    return cookies[this.cookie.name];
  }

  /** Verifies a token (cache first) and checks revocation. Throws 401 or 503. */
  async verify(token: string | undefined): Promise<Session> {
    const session = await this.decode(token);
    await this.revocations.check(session);
    return session;
  }

  /**
   * Verifies a token's signature and lifetime (cache first) without asking about revocation, so
   * it needs no Redis: for logout, which must find the session to revoke while Redis is away.
   * Throws 401.
   */
  async decode(token: string | undefined): Promise<Session> {
    if (!token) throw errors.unauthenticated();
    let session = this.cache.get(token);
    if (!session) {
      session = await this.tokens.verify(token);
      this.cache.set(token, session);
    }
    return session;
  }

  /**
   * Authenticates a Fastify request and sets a fresh cookie when the session is due for one.
   * Returns the session as the client now holds it: refreshed, when it was, so `expiresAt` is
   * when the session ends unless it is used again.
   */
  async authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Session> {
    const session = await this.verify(this.tokenOf(request.cookies));
    if (!this.tokens.shouldRefresh(session)) return session;
    const refreshed = await this.tokens.sign({
      userId: session.userId,
      email: session.email,
      plan: session.plan,
      sid: session.sid,
      authTime: session.authTime,
      ...(session.label === undefined ? {} : { label: session.label }),
    });
    this.setCookie(reply, refreshed.token, refreshed.session);
    return refreshed.session;
  }

  setCookie(reply: FastifyReply, token: string, session: Session): void {
    reply.setCookie(this.cookie.name, token, {
      ...this.cookie.options,
      expires: new Date(session.expiresAt),
    });
  }

  clearCookie(reply: FastifyReply): void {
    reply.clearCookie(this.cookie.name, this.cookie.options);
  }
}
