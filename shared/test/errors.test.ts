import t from 'tap';
import { defineError, isTenancyError, TenancyError, toErrorBody } from '../src/errors.js';

const notFound = defineError('TEST_ERR_THING_NOT_FOUND', 404, 'thing not found');
const busy = defineError('TEST_ERR_CAPACITY_FULL', 429, 'capacity full');

t.test('a defined error carries its code, status, message, cause and details', async (t) => {
  const cause = new Error('low level');
  const err = busy('no room', { cause, details: { retryAfterSeconds: 5 } });
  t.type(err, TenancyError);
  t.equal(err.code, 'TEST_ERR_CAPACITY_FULL');
  t.equal(err.statusCode, 429);
  t.equal(err.message, 'no room');
  t.equal(err.cause, cause);
  t.ok(isTenancyError(err, busy));
  t.notOk(isTenancyError(err, notFound));
  t.equal(notFound().message, 'thing not found', 'default message');
});

t.test('toErrorBody shows what callers may see and hides 5xx internals', async (t) => {
  const rows: [string, unknown, object][] = [
    [
      'tenancy error with details',
      busy(undefined, { details: { retryAfterSeconds: 5 } }),
      {
        retryAfterSeconds: 5,
        statusCode: 429,
        code: 'TEST_ERR_CAPACITY_FULL',
        error: 'Too Many Requests',
        message: 'capacity full',
      },
    ],
    [
      'plain error',
      new Error('secret path /var/lib/x'),
      { statusCode: 500, code: 'FALLBACK', error: 'Internal Server Error', message: 'internal error' },
    ],
    [
      'fastify-style 400',
      Object.assign(new Error('body must be object'), { statusCode: 400, code: 'FST_ERR_VALIDATION' }),
      { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: 'body must be object' },
    ],
    [
      'odd status and code',
      Object.assign(new Error('x'), { statusCode: 200, code: 'lower' }),
      { statusCode: 500, code: 'FALLBACK', error: 'Internal Server Error', message: 'internal error' },
    ],
    [
      'not an error',
      'a string',
      { statusCode: 500, code: 'FALLBACK', error: 'Internal Server Error', message: 'internal error' },
    ],
  ];
  for (const [name, err, body] of rows) t.same(toErrorBody(err, 'FALLBACK'), body, name);
});
