import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import type { Authenticator } from '../session/authenticator.js';
import type { Session } from '../session/tokens.js';
import type { TenantOrigins } from './tenant-origins.js';

/**
 * The session of a request to a tenant host: the host's own cookie (never the platform's),
 * verified, checked against the revocation view like any session (so it costs no Redis round
 * trip), and valid on the host it was issued for only. A token for another label is refused
 * with 403 before anything is woken.
 */
export class TenantSessions {
  constructor(
    private readonly origins: TenantOrigins,
    /** Over the tenant-origin tokens and cookie (see tokens.ts, cookie.ts). */
    readonly authenticator: Authenticator,
  ) {}

  /** The label of the tenant host a request came to; throws 404 for any other host. */
  labelOf(headers: IncomingHttpHeaders): string {
    const host = this.origins.classify(headers.host);
    if (host.kind !== 'tenant') throw errors.notFound();
    return host.label;
  }

  /** For HTTP requests: verifies, refreshes the cookie when due, and checks the host. */
  async authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Session> {
    const label = this.labelOf(request.headers);
    const session = await this.authenticator.authenticate(request, reply);
    return this.onHost(session, label);
  }

  /** For WebSocket upgrades (no cookie refresh: an upgrade's answer is the tenant's). */
  async verify(headers: IncomingHttpHeaders, cookies: Record<string, string | undefined>): Promise<Session> {
    const label = this.labelOf(headers);
    return this.onHost(await this.authenticator.verify(this.authenticator.tokenOf(cookies)), label);
  }

  private onHost(session: Session, label: string): Session {
    if (session.label !== label) throw errors.tenantForbidden();
    return session;
  }
}
