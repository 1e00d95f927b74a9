import type { TenantState } from '@tenancy/shared';
import { pino } from 'pino';
import t from 'tap';
import { TenantStates } from '../../src/lifecycle/tenant-states.js';
import { type InFlight, judge, TransitionWatchdog, type Verdict } from '../../src/lifecycle/watchdog.js';
import { memoryStore } from './fakes.js';

const GRACE = 1_000;
const NOW = 100_000;

t.test('judge: one row per case', async (t) => {
  const rows: [string, TenantState, number, InFlight, Verdict][] = [
    ['running is no transition', 'running', 0, { busy: false }, 'ok'],
    ['failed is no transition', 'failed', 0, { busy: false }, 'ok'],
    ['waking, nothing in flight, recent', 'waking', NOW - GRACE, { busy: false }, 'ok'],
    ['waking, nothing in flight, past the grace', 'waking', NOW - GRACE - 1, { busy: false }, 'settle'],
    ['stopping, nothing in flight, past the grace', 'stopping', 0, { busy: false }, 'settle'],
    ['stopping with its stop in flight', 'stopping', 0, { busy: true }, 'ok'],
    ['queued wake (no deadline yet)', 'waking', 0, { busy: true, wake: { deadline: undefined, aborted: false } }, 'ok'],
    ['wake within its budget', 'waking', 0, { busy: true, wake: { deadline: NOW + 5, aborted: false } }, 'ok'],
    [
      'wake past its budget, within the grace',
      'waking',
      0,
      { busy: true, wake: { deadline: NOW - GRACE, aborted: false } },
      'ok',
    ],
    [
      'wake past budget and grace',
      'waking',
      0,
      { busy: true, wake: { deadline: NOW - GRACE - 1, aborted: false } },
      'abort',
    ],
    [
      'aborted wake, within the second grace',
      'waking',
      0,
      { busy: true, wake: { deadline: NOW - 2 * GRACE, aborted: true } },
      'ok',
    ],
    [
      'aborted wake that still hangs',
      'waking',
      0,
      { busy: true, wake: { deadline: NOW - 2 * GRACE - 1, aborted: true } },
      'abandon',
    ],
  ];
  for (const [name, state, updatedAt, inFlight, verdict] of rows) {
    t.equal(judge({ state, updatedAt }, inFlight, NOW, GRACE), verdict, name);
  }
});

t.test('a tenant left in waking or stopping with nothing in flight is settled asleep, and audited', async (t) => {
  const store = memoryStore(t);
  let now = 1_000;
  const states = new TenantStates(
    store,
    () => undefined,
    () => now,
  );
  for (const [userId, state] of [
    ['lost-wake', 'waking'],
    ['lost-stop', 'stopping'],
    ['busy-stop', 'stopping'],
    ['fine', 'running'],
  ] as const) {
    store.addUser(userId);
    store.tenants.ensure(userId, `hash-${userId}`);
    store.tenants.update(userId, { state });
  }
  const abandoned: string[] = [];
  const watchdog = new TransitionWatchdog({
    store,
    states,
    log: pino({ level: 'silent' }),
    now: () => now,
    graceMs: GRACE,
    inFlight: (userId) => ({ busy: userId === 'busy-stop' }),
    abortWake: () => t.fail('no wake is in flight'),
    abandonWake: (userId) => abandoned.push(userId),
  });

  watchdog.check();
  t.equal(store.tenants.get('lost-wake')?.state, 'waking', 'not before the grace');

  // Past the grace for both lost records: the store stamps them with the real clock, which may
  // tick between the two writes above.
  now = Math.max(...['lost-wake', 'lost-stop'].map((userId) => store.tenants.get(userId)?.updatedAt ?? 0)) + GRACE + 1;
  watchdog.check();
  t.match(store.tenants.get('lost-wake'), {
    state: 'asleep',
    stopReason: 'failed-start',
    stopDetail: 'the wake never finished (watchdog)',
  });
  t.match(store.tenants.get('lost-stop'), { state: 'asleep', stopDetail: 'the stop never finished (watchdog)' });
  t.equal(store.tenants.get('busy-stop')?.state, 'stopping', 'a stop in flight is left to finish');
  t.equal(store.tenants.get('fine')?.state, 'running');
  t.same(abandoned, []);
  t.same(
    store.audits().map((entry) => [entry.action, entry.target, entry.result, entry.detail]),
    [
      ['tenant.wake', 'lost-wake', 'error', { reason: 'watchdog', from: 'waking' }],
      ['tenant.stop', 'lost-stop', 'error', { reason: 'watchdog', from: 'stopping' }],
    ],
  );
});

t.test('a wake that hangs past its budget is aborted, then abandoned and settled', async (t) => {
  const store = memoryStore(t);
  let now = 1_000;
  const states = new TenantStates(
    store,
    () => undefined,
    () => now,
  );
  store.addUser('stuck');
  store.tenants.ensure('stuck', 'hash-stuck');
  store.tenants.update('stuck', { state: 'waking' });
  const wake = { deadline: 2_000, aborted: false };
  const events: string[] = [];
  const watchdog = new TransitionWatchdog({
    store,
    states,
    log: pino({ level: 'silent' }),
    now: () => now,
    graceMs: GRACE,
    inFlight: () => ({ busy: true, wake }),
    abortWake: (_userId, reason) => {
      events.push(`abort: ${reason.message}`);
      wake.aborted = true;
    },
    abandonWake: (userId) => events.push(`abandon ${userId}`),
  });
  now = 2_000 + GRACE + 1;
  watchdog.check();
  t.same(events, ['abort: the wake ran past its budget']);
  t.equal(store.tenants.get('stuck')?.state, 'waking', 'its own failure path records the failure');
  now = 2_000 + 2 * GRACE + 1;
  watchdog.check();
  t.same(events, ['abort: the wake ran past its budget', 'abandon stuck']);
  t.match(store.tenants.get('stuck'), { state: 'asleep', stopReason: 'failed-start' });
});
