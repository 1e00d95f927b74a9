import t from 'tap';
import { FailedLogins } from '../../src/auth/failed-logins.js';

t.test('failures past the limit refuse the client until its window ends; others are unaffected', async (t) => {
  let now = 1_000_000;
  const failed = new FailedLogins(3, 60_000, () => now);
  for (let i = 0; i < 3; i++) {
    t.equal(failed.retryAfterSeconds('a'), 0, `attempt ${i + 1} may go`);
    failed.failed('a');
  }
  t.equal(failed.retryAfterSeconds('a'), 60, 'refused for the rest of the window');
  t.equal(failed.retryAfterSeconds('b'), 0, 'another client may try');
  now += 59_500;
  t.equal(failed.retryAfterSeconds('a'), 1, 'at least a second');
  now += 500;
  t.equal(failed.retryAfterSeconds('a'), 0, 'a new window');
  failed.failed('a');
  t.equal(failed.retryAfterSeconds('a'), 0, 'counted afresh');
});
