import { json, seg, startSupervisor, testDocker } from '@tenancy/test-support';
import Database from 'better-sqlite3';
import t from 'tap';
import { erasedUserId } from '../../src/accounts/account-deletion.js';
import { deriveIdentity, objectNames } from '../../src/runtime/names.js';
import { exec } from './helpers.js';

const DAY = 24 * 3600_000;

t.test('inactivity policy: warned, a sign-in clears it, warned again, then deleted for good', async (t) => {
  // The sweep runs in the reaper's passes (every 200 ms here). Days are not waited for: the test
  // moves the user's last sign-in (and later the warning) back in the database the supervisor
  // reads, as the passing days would, and waits for the audit entries the sweep writes.
  const supervisor = await startSupervisor(t, {
    INACTIVE_TENANT_DAYS: '30',
    INACTIVE_WARNING_DAYS: '7',
    DELETION_GRACE: '1s',
    REAPER_INTERVAL: '200ms',
  });
  const db = new Database(supervisor.databasePath);
  db.pragma('busy_timeout = 5000');
  t.teardown(() => db.close());
  /** Moves the last sign-in (and, when given, the warning) back by that many days, in one write. */
  const backdate = (userId: string, signedInDaysAgo: number, warnedDaysAgo?: number) =>
    db
      .prepare(
        'UPDATE users SET last_login_at = ?, inactive_warned_at = coalesce(?, inactive_warned_at) WHERE user_id = ?',
      )
      .run(
        Date.now() - signedInDaysAgo * DAY,
        warnedDaysAgo === undefined ? null : Date.now() - warnedDaysAgo * DAY,
        userId,
      );

  const docker = testDocker();
  const userId = 'idle@example.com';
  const pseudonym = erasedUserId(supervisor.namespaceKey, userId);
  const names = objectNames(supervisor.instance, deriveIdentity(supervisor.namespaceKey, userId).hash);
  const internal = (method: string, path: string, body?: unknown) => supervisor.api(method, path, body, 'internal');
  const signIn = () => internal('PUT', `/internal/v1/users/${seg(userId)}`, { email: userId });
  const audit = async (action: string, target = userId) =>
    (await json(await supervisor.api('GET', `/v1/audit?action=${action}&target=${seg(target)}&limit=500`))).body
      .items as { actor: string; detail: Record<string, unknown> | null }[];
  /** Waits for the n-th audit entry of `action` (the sweep's next pass writes it). */
  const entries = async (action: string, n: number, target = userId) => {
    for (;;) {
      const items = await audit(action, target);
      if (items.length >= n) return items;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const view = async () => (await json(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`))).body;

  // A user with a tenant holding data; another one signed in now, whom the sweep must not touch.
  t.equal((await signIn()).status, 200);
  await internal('PUT', `/internal/v1/users/${seg('active@example.com')}`, {});
  t.equal((await internal('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true })).status, 200);
  await exec(docker, names.container, ['node', '-e', "require('fs').writeFileSync('/data/files/keep.txt', 'mine')"]);
  t.equal((await view()).inactiveWarning, null, 'not warned after a sign-in');

  // 24 days unseen: past the warning (30 - 7 days).
  backdate(userId, 24);
  const [warning] = await entries('user.inactive-warning', 1);
  t.equal(warning?.actor, 'system');
  t.match(warning?.detail, { policy: 'INACTIVE_TENANT_DAYS', days: 30 });
  const warned = await view();
  t.ok(warned.inactiveWarning, 'the admin API (and so the console) shows the warning');
  t.equal(
    warned.inactiveWarning.deletionAt,
    warned.inactiveWarning.warnedAt + 7 * DAY,
    'deletion asked no sooner than 7 days after the warning (here later than 30 days after the sign-in)',
  );
  t.equal(warned.state, 'running', 'a warning changes nothing else');

  // The user signs in: the warning goes at once.
  t.equal((await signIn()).status, 200);
  t.equal((await view()).inactiveWarning, null, 'a sign-in clears the warning');
  t.same(
    (await audit('user.inactive-warning-cleared')).map((entry) => entry.detail),
    [{ by: 'sign-in' }],
  );

  // Unseen again: warned again; then the 30 days and the warning's 7 are over.
  backdate(userId, 24);
  await entries('user.inactive-warning', 2);
  backdate(userId, 31, 8);

  // The deletion is asked through the account deletion path (disabled at once, erased after
  // DELETION_GRACE) and the reaper erases it: container, network, volumes and records.
  await entries('user.erase', 1, pseudonym);
  const filters = { label: [`dev.tenancy.instance=${supervisor.instance}`] };
  t.same(await docker.listContainers({ all: true, filters }), [], 'container removed');
  t.same(await docker.listNetworks({ filters }), [], 'network removed');
  t.same((await docker.listVolumes({ filters })).Volumes ?? [], [], 'volumes removed');
  t.equal((await json(await supervisor.api('GET', `/v1/tenants/${seg(userId)}`))).status, 404, 'tenant record gone');
  t.equal(
    (await json(await supervisor.api('POST', `/v1/users/${seg(userId)}/disable`))).status,
    404,
    'user record gone',
  );
  t.same(await audit('user.inactive-warning'), [], 'no audit entry names the user any more');
  const history = (
    await json(await supervisor.api('GET', `/v1/audit?target=${seg(pseudonym)}&limit=500`))
  ).body.items.map((entry: { action: string; actor: string; detail: Record<string, unknown> | null }) => ({
    action: entry.action,
    actor: entry.actor,
    policy: entry.detail?.policy,
  }));
  t.strictSame(
    history.filter((entry: { action: string }) => entry.action.startsWith('user.') && entry.action !== 'user.login'),
    [
      { action: 'user.erase', actor: 'system', policy: undefined },
      { action: 'user.deletion-requested', actor: 'system', policy: 'INACTIVE_TENANT_DAYS' },
      { action: 'user.inactive-warning', actor: 'system', policy: 'INACTIVE_TENANT_DAYS' },
      { action: 'user.inactive-warning-cleared', actor: 'gateway', policy: undefined },
      { action: 'user.inactive-warning', actor: 'system', policy: 'INACTIVE_TENANT_DAYS' },
    ],
    'the history stays under the pseudonym, newest first',
  );
  const raw = JSON.stringify(
    (await json(await supervisor.api('GET', `/v1/audit?target=${seg(pseudonym)}&limit=500`))).body,
  );
  t.notOk(raw.includes(userId), 'the user id appears nowhere in it');

  const active = await json(await supervisor.api('POST', `/v1/users/${seg('active@example.com')}/disable`));
  t.equal(active.status, 200, 'the user who signed in is still there');
});
