import type { UserRecord } from '@tenancy/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import type { RouteCache } from '../proxy/route-cache.js';
import type { Authenticator } from '../session/authenticator.js';
import type { Session, SessionTokens } from '../session/tokens.js';
import type { SupervisorClient } from '../supervisor/client.js';
import type { LoginIdentity } from './login-identity.js';

/** What a completed sign-in gives the route: the user as the supervisor has it, and the session. */
export interface SignedIn {
  user: UserRecord;
  session: Session;
}

/** Signs an identified user in; every login mode ends here, so each one makes the same session. */
export type SignIn = (request: FastifyRequest, reply: FastifyReply, identity: LoginIdentity) => Promise<SignedIn>;

/**
 * Records the login at the supervisor, refuses a disabled user (403 GW_ERR_USER_DISABLED), sets
 * the session cookie, and starts waking the container without waiting for it.
 */
export function createSignIn(deps: {
  supervisor: SupervisorClient;
  routes: RouteCache;
  tokens: SessionTokens;
  authenticator: Authenticator;
}): SignIn {
  const { supervisor, routes, tokens, authenticator } = deps;
  return async (request, reply, identity) => {
    const user = await supervisor.upsertUser(identity.userId, {
      ...(identity.email ? { email: identity.email } : {}),
      ...(identity.plan ? { plan: identity.plan } : {}),
      ...(identity.onboardingCompleted === undefined ? {} : { onboardingCompleted: identity.onboardingCompleted }),
    });
    // The login may have changed the plan: this replica asks again at once, the others hear it
    // on the supervisor's feed.
    routes.drop(user.userId);
    if (user.disabled) throw errors.userDisabled();
    const { token, session } = await tokens.sign({ userId: user.userId, email: user.email, plan: user.plan });
    authenticator.setCookie(reply, token, session);
    // Start the container now, so it is warm by the time the user asks for it.
    supervisor.wake(user.userId, { wait: false, timeoutMs: 0 }).catch((err: unknown) => {
      request.log.warn({ err, userId: user.userId }, 'wake at login failed');
    });
    request.log.info({ userId: user.userId }, 'user logged in');
    return { user, session };
  };
}
