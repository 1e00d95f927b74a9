import { randomBytes } from 'node:crypto';
import { readJson, seg, startSupervisor, testRedisUrl } from '@tenancy/test-support';
import t, { type Test } from 'tap';
import { createSupervisorClient, type SupervisorClient } from '../../src/supervisor/client.js';
import { echoTenant, openWebSocket, startGateway, type TestGateway, until } from '../harness.js';

/**
 * The real supervisor (its own process, real tenant containers, its event feed) and real Redis.
 * Only the address the gateway forwards to is swapped for a stand-in tenant that speaks
 * WebSocket and echoes the headers it got: the container's own app does neither. The container
 * still runs, and stops, as the supervisor decides.
 */
function towardsStandIn(real: SupervisorClient, standInUrl: string): SupervisorClient {
  const swap = <R extends { endpoint?: { url: string; secret: string } }>(route: R): R =>
    route.endpoint ? { ...route, endpoint: { ...route.endpoint, url: standInUrl } } : route;
  return {
    ...real,
    wake: async (userId, options) => swap(await real.wake(userId, options)),
    route: async (userId) => swap(await real.route(userId)),
  };
}

async function setUp(t: Test, env: Record<string, string> = {}) {
  const supervisor = await startSupervisor(t);
  const tenant = await echoTenant(t);
  const client = towardsStandIn(createSupervisorClient(supervisor.url, supervisor.internalToken), tenant.url);
  const gateway = (extra: Record<string, string> = {}) =>
    startGateway(t, { redisUrl: testRedisUrl(), supervisor: client, env: { ...env, ...extra } });
  return { supervisor, tenant, gateway };
}

const get = (gw: TestGateway, path: string, cookie: string) => fetch(`${gw.url}${path}`, { headers: { cookie } });
const userId = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

t.test(
  'disabling a user ends every session at once: HTTP refused, open WebSockets closed, also after enable',
  async (t) => {
    const { supervisor, gateway } = await setUp(t);
    const gw = await gateway();
    const user = userId('disabled');
    const first = await gw.login(user);
    const second = await gw.login(user);
    // A plain request waits for the wake: the tenant runs, and its route is cached.
    const reached = await get(gw, '/hello', first);
    t.equal(reached.status, 200, 'the session reaches the tenant');
    await reached.arrayBuffer();
    const { status, socket } = await openWebSocket(gw, first);
    t.equal(status, 101, 'a WebSocket is open');
    const closed = new Promise<void>((resolve) => {
      socket?.on('error', () => undefined);
      socket?.once('close', () => resolve());
    });

    const disabled = await supervisor.api('POST', `/v1/users/${seg(user)}/disable`);
    t.equal(disabled.status, 200);
    await disabled.arrayBuffer();
    // The stand-in never hangs up by itself: only the revocation closes this.
    await closed;
    t.pass('the open WebSocket was closed');

    for (const [name, cookie] of [
      ['the session with the WebSocket', first],
      ['another session of the user', second],
    ] as const) {
      const res = await get(gw, '/auth/session', cookie);
      t.strictSame(
        [res.status, await readJson(res)],
        [
          401,
          {
            statusCode: 401,
            code: 'GW_ERR_SESSION_INVALID',
            error: 'Unauthorized',
            message: 'the session is invalid or has ended',
            reason: 'REVOKED',
          },
        ],
        name,
      );
    }
    t.equal((await openWebSocket(gw, second)).status, 401, 'no new WebSocket either');

    // Recorded in Redis: a replica started afterwards refuses the sessions too.
    const later = await gateway();
    t.equal((await get(later, '/auth/session', second)).status, 401, 'a new replica refuses the session');

    // Enabling the user lets them sign in again; the sessions they held stay ended.
    t.equal((await supervisor.api('POST', `/v1/users/${seg(user)}/enable`)).status, 200);
    t.equal((await get(gw, '/auth/session', first)).status, 401, 'an old session stays revoked after enable');
    const fresh = await gw.login(user);
    t.equal((await get(gw, '/auth/session', fresh)).status, 200, 'a new sign-in works');
  },
);

t.test('a plan change reaches the next request of every session, on every replica, without a new login', async (t) => {
  // Cached routes would otherwise hide a change for ten minutes: only the feed can drop them.
  const { tenant, gateway } = await setUp(t, { ROUTE_CACHE_TTL: '10m' });
  const gw = await gateway();
  const other = await gateway();
  const user = userId('plan');
  const cookie = await gw.login(user, { plan: 'free' });
  const planSeen = async () => {
    const res = await get(gw, '/whoami', cookie);
    t.equal(res.status, 200);
    const body = (await readJson(res)) as { headers: Record<string, string> };
    return body.headers['x-tenancy-user-plan'];
  };
  t.equal(await planSeen(), 'free', 'the tenant is told the plan of the login');
  t.equal((await readJson(await get(gw, '/auth/session', cookie))).plan, 'free');

  // The user signs in elsewhere, through another replica, with another plan.
  await other.login(user, { plan: 'pro' });
  t.equal((await readJson(await get(gw, '/auth/session', cookie))).plan, 'pro', '/auth/session shows it at once');
  // The feed tells this replica to forget the cached route: a moment, not ten minutes.
  await until('the tenant is told the new plan', async () => (await planSeen()) === 'pro');
  t.equal(tenant.received.at(-1)?.headers['x-tenancy-user-plan'], 'pro');

  // On the replica where the login happens, the very next request, though the route was cached.
  await gw.login(user, { plan: 'team' });
  t.equal(await planSeen(), 'team', 'the next request on the same replica');
});
