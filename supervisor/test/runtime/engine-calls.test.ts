import { isTenancyError } from '@tenancy/shared';
import t from 'tap';
import { callLimit, engineCall } from '../../src/runtime/engine-calls.js';

t.test(
  'a call that never settles fails with SUP_ERR_RUNTIME_UNAVAILABLE naming the operation, and its signal aborts',
  async (t) => {
    let seen: AbortSignal | undefined;
    const err = await engineCall('container start', 20, undefined, (abortSignal) => {
      seen = abortSignal;
      return new Promise<never>(() => undefined);
    }).catch((error: unknown) => error);
    t.ok(isTenancyError(err));
    t.match(err, {
      code: 'SUP_ERR_RUNTIME_UNAVAILABLE',
      statusCode: 503,
      message: 'the container engine did not answer container start within 20 ms',
    });
    t.equal(seen?.aborted, true, 'the request was told to go away');
  },
);

t.test("the caller's signal ends the call with the caller's reason", async (t) => {
  const caller = new AbortController();
  const reason = new Error('budget');
  const call = engineCall('network inspect', 60_000, caller.signal, () => new Promise<never>(() => undefined));
  caller.abort(reason);
  await t.rejects(call, reason);
  await t.rejects(
    engineCall('ping', 60_000, caller.signal, async () => 'never called'),
    reason,
    'an already aborted signal fails at once',
  );
});

t.test('answers and engine errors pass through unchanged', async (t) => {
  t.equal(await engineCall('ping', 1_000, undefined, async () => 'OK'), 'OK');
  const notFound = Object.assign(new Error('no such container'), { statusCode: 404 });
  await t.rejects(
    engineCall('container inspect', 1_000, undefined, () => Promise.reject(notFound)),
    notFound,
  );
});

t.test('a call made within a caller’s budget is bounded by that budget alone', async (t) => {
  t.equal(callLimit(10_000, undefined), 10_000, 'no caller deadline: the call’s own limit');
  const budget = AbortSignal.timeout(60_000);
  t.equal(callLimit(10_000, budget), undefined, 'the caller’s deadline instead');
  // Without a limit of its own, a slow answer still counts.
  const slow = engineCall('network inspect', callLimit(1, budget), budget, async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return 'late but in budget';
  });
  t.equal(await slow, 'late but in budget');
});
