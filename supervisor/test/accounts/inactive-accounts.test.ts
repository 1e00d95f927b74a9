import type { Teardown } from '@tenancy/test-support';
import { pino } from 'pino';
import t from 'tap';
import { AccountDeletion } from '../../src/accounts/account-deletion.js';
import {
  decideInactivity,
  InactiveAccounts,
  type InactivityPolicy,
  inactivityPolicy,
} from '../../src/accounts/inactive-accounts.js';
import { loadSupervisorConfig } from '../../src/config.js';
import { UserChanges } from '../../src/http/user-changes.js';
import { createStore, openDatabase } from '../../src/store/index.js';

/** The INACTIVE_TENANT_DAYS policy: its rule alone, then its sweeps on the real store. */

const DAY = 24 * 3600_000;
const T0 = Date.UTC(2026, 0, 1);
const POLICY = inactivityPolicy(30, 7) as InactivityPolicy;
const iso = (ms: number) => new Date(ms).toISOString();

t.test('the rule: warn, keep, clear or delete, one row per case', async (t) => {
  const rows: [string, { lastSeenAt: number; warnedAt: number | null }, number, string][] = [
    ['seen recently', { lastSeenAt: T0, warnedAt: null }, T0 + 10 * DAY, 'keep'],
    ['a moment before the warning', { lastSeenAt: T0, warnedAt: null }, T0 + 23 * DAY - 1, 'keep'],
    ['the warning is due (30 - 7 days)', { lastSeenAt: T0, warnedAt: null }, T0 + 23 * DAY, 'warn'],
    [
      'long unseen, never warned: warned first, not deleted',
      { lastSeenAt: T0, warnedAt: null },
      T0 + 400 * DAY,
      'warn',
    ],
    ['warned, waiting', { lastSeenAt: T0, warnedAt: T0 + 23 * DAY }, T0 + 30 * DAY - 1, 'keep'],
    ['warned, 30 days unseen', { lastSeenAt: T0, warnedAt: T0 + 23 * DAY }, T0 + 30 * DAY, 'delete'],
    ['warned late: the full 7 days still', { lastSeenAt: T0, warnedAt: T0 + 100 * DAY }, T0 + 106 * DAY, 'keep'],
    ['warned late, 7 days on', { lastSeenAt: T0, warnedAt: T0 + 100 * DAY }, T0 + 107 * DAY, 'delete'],
    ['signed in after the warning', { lastSeenAt: T0 + 24 * DAY, warnedAt: T0 + 23 * DAY }, T0 + 24 * DAY, 'clear'],
    ['warned this moment', { lastSeenAt: T0, warnedAt: T0 + 23 * DAY }, T0 + 23 * DAY, 'keep'],
  ];
  for (const [name, account, now, expected] of rows) t.equal(decideInactivity(account, now, POLICY), expected, name);
  // The same warning under a policy of 60 days (lengthened after it was given): no longer due.
  const longer = inactivityPolicy(60, 7) as InactivityPolicy;
  t.equal(decideInactivity({ lastSeenAt: T0, warnedAt: T0 + 23 * DAY }, T0 + 24 * DAY, longer), 'clear');
  t.equal(inactivityPolicy(0, 7), undefined, '0 days: off');
});

/** The real store on :memory:, the real AccountDeletion (with a controller that only records), one clock. */
function setup(t: Teardown) {
  let clock = T0;
  const now = () => clock;
  const store = createStore(openDatabase(':memory:'), now);
  t.teardown(() => store.close());
  const users = new UserChanges();
  const revoked: string[] = [];
  users.on((change) => {
    if (change.kind === 'revoke') revoked.push(change.userId);
  });
  const log = pino({ level: 'silent' });
  const deletion = new AccountDeletion({
    store,
    controller: {
      stop: async () => undefined,
      remove: async () => undefined,
    } as never,
    users,
    namespaceKey: 'inactive-test-namespace-key-0123456789',
    graceMs: 7 * DAY,
    intervalMs: 1_000,
    log,
    now,
  });
  const policy = new InactiveAccounts({ store, deletion, policy: POLICY, log, now });
  const at = (day: number) => {
    clock = T0 + day * DAY;
  };
  const audits = (action: string) =>
    store.audit
      .list({ limit: 1000, action })
      .reverse()
      .map((entry) => ({ at: entry.at, actor: entry.actor, target: entry.target, detail: entry.detail }));
  return { store, policy, at, audits, revoked };
}

t.test('warned at 23 days, a sign-in clears it, warned again, deletion asked at 30 days', async (t) => {
  const { store, policy, at, audits, revoked } = setup(t);
  store.users.upsert('idle@example.com', { email: 'idle@example.com' });
  at(20);
  store.users.upsert('active', {});
  // An admin identity unused since day 0: not a user, never the policy's business.
  store.admins.create({
    id: 'a1b2c3d4e5f6',
    name: 'ops',
    tokenHash: 'x'.repeat(64),
    createdBy: 'bootstrap',
    ttlMs: null,
  });

  at(23);
  t.strictSame(await policy.sweep(), { warned: 1, cleared: 0, deletionsAsked: 0 });
  t.strictSame(audits('user.inactive-warning'), [
    {
      at: T0 + 23 * DAY,
      actor: 'system',
      target: 'idle@example.com',
      detail: { policy: 'INACTIVE_TENANT_DAYS', days: 30, lastSeenAt: iso(T0), deletionAt: iso(T0 + 30 * DAY) },
    },
  ]);
  t.strictSame(store.inactivity.of('idle@example.com'), {
    userId: 'idle@example.com',
    lastSeenAt: T0,
    warnedAt: T0 + 23 * DAY,
  });
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 0, deletionsAsked: 0 }, 'warned once, not every sweep');

  at(24);
  store.users.upsert('idle@example.com', {});
  t.equal(store.inactivity.of('idle@example.com')?.warnedAt, null, 'the sign-in clears the warning at once');
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 0, deletionsAsked: 0 });
  at(45);
  store.users.upsert('active', {});

  at(47);
  t.strictSame(await policy.sweep(), { warned: 1, cleared: 0, deletionsAsked: 0 }, 'warned again 23 days on');
  at(54 - 1 / 24);
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 0, deletionsAsked: 0 }, 'an hour before: kept');
  at(54);
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 0, deletionsAsked: 1 });
  t.strictSame(
    audits('user.deletion-requested').map((entry) => entry.detail),
    [
      {
        policy: 'INACTIVE_TENANT_DAYS',
        days: 30,
        lastSeenAt: iso(T0 + 24 * DAY),
        warnedAt: iso(T0 + 47 * DAY),
        dueAt: iso(T0 + 61 * DAY),
      },
    ],
    'asked through the deletion path, which says it was the policy',
  );
  t.equal(store.users.get('idle@example.com')?.deletionDueAt, T0 + 61 * DAY, 'erased after DELETION_GRACE');
  t.strictSame(revoked, ['idle@example.com'], 'sessions revoked at once');
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 0, deletionsAsked: 0 }, 'asked once');

  // Every entry of the policy is about a user: the admin identity appears nowhere.
  const targets = store.audit.list({ limit: 1000 }).map((entry) => entry.target);
  t.notOk(targets.includes('ops') || targets.includes('a1b2c3d4e5f6'), 'admin identities untouched');
  t.equal(store.inactivity.of('active')?.warnedAt, null, 'seen on days 20 and 45: never warned');
});

t.test('API key use counts as activity and clears a warning at the next sweep', async (t) => {
  const { store, policy, at, audits } = setup(t);
  store.users.upsert('keyed', {});
  store.apiKeys.create('keyed', {
    id: 'k1k1k1k1k1k1',
    name: 'ci',
    keyHash: 'a'.repeat(64),
    scope: 'tenant',
    expiresAt: null,
  });
  at(23);
  t.strictSame(await policy.sweep(), { warned: 1, cleared: 0, deletionsAsked: 0 });
  at(25);
  store.apiKeys.touch('k1k1k1k1k1k1');
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 1, deletionsAsked: 0 });
  t.strictSame(audits('user.inactive-warning-cleared'), [
    { at: T0 + 25 * DAY, actor: 'system', target: 'keyed', detail: { by: 'activity', lastSeenAt: iso(T0 + 25 * DAY) } },
  ]);
  at(47);
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 0, deletionsAsked: 0 }, 'the clock restarts at the use');
  at(48);
  t.strictSame(await policy.sweep(), { warned: 1, cleared: 0, deletionsAsked: 0 });
});

t.test('disabled accounts and accounts already being deleted are left alone', async (t) => {
  const { store, policy, at } = setup(t);
  for (const userId of ['disabled', 'leaving', 'warned-then-disabled']) store.users.upsert(userId, {});
  store.users.setDisabled('disabled', true);
  store.accounts.scheduleDeletion('leaving', T0 + DAY);
  at(23);
  t.strictSame(await policy.sweep(), { warned: 1, cleared: 0, deletionsAsked: 0 });
  store.users.setDisabled('warned-then-disabled', true);
  at(400);
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 0, deletionsAsked: 0 });
  t.equal(store.users.get('disabled')?.deletionDueAt, undefined);
  t.equal(store.users.get('warned-then-disabled')?.deletionDueAt, undefined);
});

t.test('a policy turned on late warns the long unseen first, and asks at most ten deletions a sweep', async (t) => {
  const { store, policy, at } = setup(t);
  for (let i = 0; i < 12; i++) store.users.upsert(`u${String(i).padStart(2, '0')}`, {});
  at(365);
  t.strictSame(
    await policy.sweep(),
    { warned: 12, cleared: 0, deletionsAsked: 0 },
    'a year unseen: warned, not deleted',
  );
  at(372 - 1 / 24);
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 0, deletionsAsked: 0 }, 'the full warning period');
  at(372);
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 0, deletionsAsked: 10 });
  t.strictSame(await policy.sweep(), { warned: 0, cleared: 0, deletionsAsked: 2 }, 'the rest at the next sweep');
});

t.test('config: off by default, the warning before the deletion', async (t) => {
  const base = { ADMIN_TOKEN: 'a'.repeat(32), SUPERVISOR_TOKEN: 'b'.repeat(32), TENANT_NAMESPACE_KEY: 'c'.repeat(32) };
  const config = loadSupervisorConfig(base);
  t.strictSame([config.INACTIVE_TENANT_DAYS, config.INACTIVE_WARNING_DAYS], [0, 7]);
  t.strictSame(
    (({ INACTIVE_TENANT_DAYS, INACTIVE_WARNING_DAYS }) => [INACTIVE_TENANT_DAYS, INACTIVE_WARNING_DAYS])(
      loadSupervisorConfig({ ...base, INACTIVE_TENANT_DAYS: '90', INACTIVE_WARNING_DAYS: '14' }),
    ),
    [90, 14],
  );
  t.throws(() => loadSupervisorConfig({ ...base, INACTIVE_TENANT_DAYS: '7' }), {
    code: 'CONFIG_ERR_INVALID',
    message: /INACTIVE_WARNING_DAYS \(7\) must be less than INACTIVE_TENANT_DAYS \(7\)/,
  });
  t.throws(() => loadSupervisorConfig({ ...base, INACTIVE_TENANT_DAYS: '-1' }), { code: 'CONFIG_ERR_INVALID' });
  t.throws(() => loadSupervisorConfig({ ...base, INACTIVE_TENANT_DAYS: '1.5' }), { code: 'CONFIG_ERR_INVALID' });
  t.throws(() => loadSupervisorConfig({ ...base, INACTIVE_WARNING_DAYS: '0' }), { code: 'CONFIG_ERR_INVALID' });
  // Off, the warning's length does not matter.
  t.equal(loadSupervisorConfig({ ...base, INACTIVE_WARNING_DAYS: '30' }).INACTIVE_TENANT_DAYS, 0);
});
