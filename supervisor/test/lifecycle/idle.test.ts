import t from 'tap';
import { isIdle, nextIdleDeadline, pickEvictionVictim } from '../../src/lifecycle/idle.js';

const MIN = 60_000;

t.test('the idle deadline only moves forward', async (t) => {
  const rows: [string, number | null, number, number][] = [
    ['first activity sets it', null, 1_000, 1_000 + 20 * MIN],
    ['later activity extends it', 1_000 + 20 * MIN, 5_000, 5_000 + 20 * MIN],
    ['older activity never pulls it back', 10_000 + 20 * MIN, 5_000, 10_000 + 20 * MIN],
    ['equal activity keeps it', 5_000 + 20 * MIN, 5_000, 5_000 + 20 * MIN],
  ];
  for (const [name, current, at, expected] of rows) t.equal(nextIdleDeadline(current, at, 20 * MIN), expected, name);
});

t.test('isIdle', async (t) => {
  t.equal(isIdle(null, 10), false, 'no deadline: never idle');
  t.equal(isIdle(11, 10), false);
  t.equal(isIdle(10, 10), true, 'at the deadline');
  t.equal(isIdle(9, 10), true);
});

t.test('eviction picks the least recently active tenant idle long enough', async (t) => {
  const now = 100 * MIN;
  const candidates = [
    { userId: 'busy', lastActivity: now - 10_000 },
    { userId: 'old', lastActivity: now - 50 * MIN },
    { userId: 'older', lastActivity: now - 60 * MIN },
    { userId: 'never', lastActivity: null },
  ];
  t.equal(pickEvictionVictim(candidates, now, 2 * MIN)?.userId, 'never');
  t.equal(pickEvictionVictim(candidates.slice(0, 3), now, 2 * MIN)?.userId, 'older');
  t.equal(pickEvictionVictim(candidates.slice(0, 1), now, 2 * MIN), undefined, 'nobody idle enough');
  t.equal(pickEvictionVictim([], now, 0), undefined);
});
