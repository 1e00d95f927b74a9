import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { isTenancyError, PlanName, UserId } from '@tenancy/shared';
import type { FastifyRequest } from 'fastify';
import type { FailedLogins } from '../auth/failed-logins.js';
import type { IdentifyLogin } from '../auth/login-identity.js';
import type { SignIn } from '../auth/sign-in.js';
import type { GatewayConfig } from '../config.js';
import { errors } from '../errors.js';
import type { Revocations } from '../revocation/revocations.js';
import type { Authenticator } from '../session/authenticator.js';
import type { SupervisorClient } from '../supervisor/client.js';
import { clientAddress } from './client-address.js';
import { LOGIN_SCRIPT, loginPage, SAME_ORIGIN_PATH } from './login-page.js';
import { PAGE_POLICY } from './page-policy.js';

export interface AuthRoutesOptions {
  identify: IdentifyLogin;
  /** Makes the session once the login mode has said who it is (see sign-in.ts). */
  signIn: SignIn;
  authenticator: Authenticator;
  revocations: Revocations;
  supervisor: SupervisorClient;
  /** Decides whether browsers get a sign-in page (see login-page.ts). */
  mode: GatewayConfig['AUTH_MODE'];
  /** Named on the sign-in page in oidc mode. */
  providerName?: string;
  /** onRequest hook of every POST here: refuses cross-site requests (see cross-site.ts). */
  refuseCrossSite: (request: FastifyRequest) => Promise<void>;
  /** Failed sign-ins per client (see failed-logins.ts). */
  failedLogins: FailedLogins;
}

/** The client a login comes from (see client-address.ts). */
function clientOf(request: FastifyRequest): string {
  return clientAddress(request.headers, request.ip);
}

const LoginBody = Type.Object(
  {
    user_id: Type.Optional(UserId),
    email: Type.Optional(Type.String({ maxLength: 320 })),
    plan: Type.Optional(PlanName),
    onboarding_completed: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** Where to go after login or logout: a same-origin path only, never another site. */
const Next = Type.Optional(Type.String({ pattern: SAME_ORIGIN_PATH.source, maxLength: 2048 }));

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  const { identify, signIn, authenticator, revocations, supervisor, mode, refuseCrossSite, failedLogins } = options;

  const page = loginPage(mode, options.providerName);
  if (page) {
    app.get('/auth/login', async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('content-security-policy', PAGE_POLICY)
        .send(page),
    );
    app.get('/auth/login.js', async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(LOGIN_SCRIPT),
    );
  }

  app.post(
    '/auth/login',
    {
      onRequest: refuseCrossSite,
      schema: { body: Type.Optional(LoginBody), querystring: Type.Object({ next: Next }) },
    },
    async (request, reply) => {
      const client = clientOf(request);
      const retryAfterSeconds = failedLogins.retryAfterSeconds(client);
      if (retryAfterSeconds > 0) throw errors.loginRateLimited(undefined, { details: { retryAfterSeconds } });
      let identity: Awaited<ReturnType<typeof identify>>;
      try {
        identity = await identify(request);
      } catch (err) {
        if (isTenancyError(err) && err.code === errors.loginForbidden.code) failedLogins.failed(client);
        throw err;
      }
      const { user, session } = await signIn(request, reply, identity);
      if (request.query.next) return reply.redirect(request.query.next, 303);
      return {
        user_id: user.userId,
        email: user.email,
        plan: user.plan,
        onboarding_completed: user.onboardingCompleted,
        expires_at: new Date(session.expiresAt).toISOString(),
      };
    },
  );

  // A logout is reported done only once Redis has acknowledged the revocation. When it cannot
  // be recorded the answer is 503 GW_ERR_LOGOUT_NOT_RECORDED, and the cookie is cleared all the
  // same (the browser stops holding it at once). Not an outbox replayed when Redis returns: it
  // would live in this replica only, and the others would trust a Redis without the revocation
  // the moment it came back, before the outbox was applied. The way to finish the job later is
  // to sign in again and log out of all sessions, which revokes every earlier one.
  app.post(
    '/auth/logout',
    { onRequest: refuseCrossSite, schema: { querystring: Type.Object({ next: Next }) } },
    async (request, reply) => {
      const token = authenticator.tokenOf(request.cookies);
      authenticator.clearCookie(reply);
      // No Redis needed to find the session: an invalid or expired token has nothing to revoke.
      const session = token ? await authenticator.decode(token).catch(() => undefined) : undefined;
      if (session) await recorded(revocations.revokeSession(session.sid));
      if (request.query.next) return reply.redirect(request.query.next, 303);
      return { logged_out: true };
    },
  );

  app.post('/auth/logout-all', { onRequest: refuseCrossSite }, async (request, reply) => {
    authenticator.clearCookie(reply);
    // Not authenticate(): a refreshed cookie has no place in a logout's answer.
    const session = await recorded(authenticator.verify(authenticator.tokenOf(request.cookies)));
    await recorded(revocations.revokeUser(session.userId));
    request.log.info({ userId: session.userId }, 'all sessions revoked');
    return { logged_out: true, all_sessions: true };
  });

  app.get('/auth/session', async (request, reply) => {
    const session = await authenticator.authenticate(request, reply);
    // A disabled user is told so; a supervisor that does not answer only costs the tenant's state.
    const route = await supervisor.route(session.userId).catch((err: unknown) => {
      if (isTenancyError(err, errors.userDisabled)) throw err;
      return undefined;
    });
    return {
      user_id: session.userId,
      email: session.email,
      // The supervisor's plan when it answered: a plan change shows without a new login.
      plan: route?.plan ?? session.plan,
      expires_at: new Date(session.expiresAt).toISOString(),
      tenant: route
        ? { state: route.state, idle_deadline: route.idleDeadline ? new Date(route.idleDeadline).toISOString() : null }
        : null,
    };
  });
};

/** Work that revokes sessions, with Redis being unreachable reported as a logout not recorded. */
async function recorded<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isTenancyError(err, errors.revocationUnavailable)) throw errors.logoutNotRecorded(undefined, { cause: err });
    throw err;
  }
}
