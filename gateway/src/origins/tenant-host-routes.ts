import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { errors } from '../errors.js';
import type { Revocations } from '../revocation/revocations.js';
import type { SessionTokens } from '../session/tokens.js';
import type { SupervisorClient } from '../supervisor/client.js';
import { relayWakeEvents, sendWaitingScript } from '../warmup/warmup-routes.js';
import type { ExchangeCodes } from './exchange-codes.js';
import { RESERVED_PREFIX } from './tenant-origins.js';
import type { TenantSessions } from './tenant-session.js';

export interface TenantHostOptions {
  sessions: TenantSessions;
  /** Signs tenant-origin tokens. */
  tokens: SessionTokens;
  codes: ExchangeCodes;
  revocations: Revocations;
  supervisor: SupervisorClient;
}

/**
 * What the gateway itself answers on a tenant host, all under `/_tenancy/` (the one prefix a
 * tenant cannot use there): the code exchange that gives the host its cookie, and the waiting
 * page's script and progress feed. Everything else on the host is the tenant's (proxy-routes.ts).
 */
export const tenantHostRoutes: FastifyPluginAsyncTypebox<TenantHostOptions> = async (app, options) => {
  const { sessions, tokens, codes, revocations, supervisor } = options;

  app.get(
    `${RESERVED_PREFIX}exchange`,
    {
      schema: { querystring: Type.Object({ code: Type.String({ minLength: 1, maxLength: 128 }) }) },
      // The code is in the query: log the path only.
      logSerializers: { req: (request) => ({ method: request.method, url: `${RESERVED_PREFIX}exchange` }) },
    },
    async (request, reply) => {
      const label = sessions.labelOf(request.headers);
      // Taken from Redis whatever follows: a code is spent by its first use, right or wrong.
      const grant = await codes.redeem(request.query.code);
      if (!grant || grant.label !== label) throw errors.codeInvalid();
      // The platform session may have ended since the code was issued.
      const now = Date.now();
      await revocations.check({
        userId: grant.userId,
        sid: grant.sid,
        authTime: grant.authTime,
        jti: '',
        email: grant.email,
        plan: grant.plan,
        expiresAt: now,
        issuedAt: now,
      });
      const { token, session } = await tokens.sign({
        userId: grant.userId,
        email: grant.email,
        plan: grant.plan,
        sid: grant.sid,
        authTime: grant.authTime,
        label,
      });
      sessions.authenticator.setCookie(reply, token, session);
      request.log.info({ userId: grant.userId }, 'tenant origin signed in');
      return reply.header('cache-control', 'no-store').redirect(grant.next, 303);
    },
  );

  app.get(`${RESERVED_PREFIX}warmup/events`, async (request, reply) =>
    relayWakeEvents(supervisor, request, reply, await sessions.authenticate(request, reply)),
  );
  app.get(`${RESERVED_PREFIX}waiting.js`, sendWaitingScript);
  // The rest of the prefix is nobody's: never passed to the tenant, so its meaning can't shift.
  app.all(`${RESERVED_PREFIX}*`, async () => {
    throw errors.notFound();
  });
};
