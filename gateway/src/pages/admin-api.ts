import { errors } from '../errors.js';

/** A supervisor answer, passed on to the console as it is. */
export interface AdminAnswer {
  status: number;
  contentType: string;
  body: string;
}

/**
 * The supervisor's admin API (/v1), called with the signed-in admin's own token: the supervisor
 * checks it on every request and audits every action under that admin's identity. The gateway's
 * SUPERVISOR_TOKEN is never used here (it is not an admin credential).
 */
export interface AdminApi {
  /** Who the supervisor says `token` belongs to; undefined when it refuses it. */
  whoami(token: string): Promise<string | undefined>;
  call(token: string, method: string, pathAndQuery: string): Promise<AdminAnswer>;
}

export function createAdminApi(supervisorUrl: string): AdminApi {
  const base = supervisorUrl.replace(/\/$/, '');
  const call = async (token: string, method: string, pathAndQuery: string): Promise<AdminAnswer> => {
    let res: Response;
    try {
      res = await fetch(`${base}${pathAndQuery}`, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        // A wake waits for the container (WARMUP_TIMEOUT, 45 s by default); a stop for its shutdown.
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      throw errors.supervisorUnavailable(undefined, { cause: err });
    }
    return {
      status: res.status,
      contentType: res.headers.get('content-type') ?? 'application/json; charset=utf-8',
      body: await res.text(),
    };
  };
  return {
    async whoami(token) {
      const answer = await call(token, 'GET', '/v1/whoami');
      if (answer.status === 401) return undefined;
      if (answer.status !== 200) throw errors.supervisorUnavailable(`supervisor answered ${answer.status}`);
      return (JSON.parse(answer.body) as { actor: string }).actor;
    },
    call,
  };
}

/**
 * The admin API calls the console may make, as [method, path under /v1]. Anything else is
 * refused before it reaches the supervisor: the console is a view of these, not a general
 * pass-through (creating or revoking admin identities and backups stay with the CLI).
 */
const SEGMENT = '(?!\\.\\.?(?:/|$))[^/]+';
export const CONSOLE_CALLS: readonly (readonly [string, RegExp])[] = [
  ['GET', /^\/summary$/],
  ['GET', /^\/tenants$/],
  ['GET', new RegExp(`^/tenants/${SEGMENT}$`)],
  ['GET', new RegExp(`^/tenants/${SEGMENT}/logs$`)],
  ['GET', /^\/audit$/],
  ['POST', new RegExp(`^/tenants/${SEGMENT}/(start|stop|pause)$`)],
  ['POST', new RegExp(`^/users/${SEGMENT}/(disable|enable)$`)],
  ['DELETE', new RegExp(`^/tenants/${SEGMENT}$`)],
];

/** True when the console may make this call. `path` is still percent-encoded. */
export function isConsoleCall(method: string, path: string): boolean {
  // A percent-encoded dot segment would be decoded to one by the supervisor's URL parser.
  if (/(^|\/)(\.|%2e){1,2}(\/|$)/i.test(path)) return false;
  return CONSOLE_CALLS.some(([allowed, pattern]) => allowed === method && pattern.test(path));
}
