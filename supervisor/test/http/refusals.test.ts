import t from 'tap';
import { deriveIdentity } from '../../src/runtime/names.js';
import { TEST_SETTINGS } from '../lifecycle/fakes.js';
import { build, TOKENS } from './build.js';

/**
 * What the supervisor refuses, and how: missing or wrong credentials (401), invalid input (400,
 * 413), unknown routes (404) and internal failures (500), always as `{ statusCode, code, error,
 * message }` with a stable code, never a stack or an internal detail.
 */

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';
const SUMMARY = { messages: 1, replies: 1, tokensUsed: 0, bytesStored: 0, lastActivity: null };

/** Every route that needs credentials, with a body it would accept. */
const INTERNAL_ROUTES: [Method, string, unknown?][] = [
  ['PUT', '/internal/v1/users/ada', {}],
  ['POST', '/internal/v1/tenants/ada/wake', { wait: false }],
  ['GET', '/internal/v1/tenants/ada/wake/events'],
  ['GET', '/internal/v1/tenants/ada/route'],
  ['GET', '/internal/v1/events'],
  ['POST', '/internal/v1/activity', { items: [] }],
];
const ADMIN_ROUTES: [Method, string, unknown?][] = [
  ['GET', '/v1/tenants'],
  ['GET', '/v1/tenants/ada'],
  ['GET', '/v1/tenants/ada/logs'],
  ['POST', '/v1/tenants/ada/start'],
  ['POST', '/v1/tenants/ada/stop'],
  ['POST', '/v1/tenants/ada/pause'],
  ['DELETE', '/v1/tenants/ada?confirm=ada'],
  ['POST', '/v1/tenants/ada/summary', SUMMARY],
  ['POST', '/v1/users/ada/disable'],
  ['POST', '/v1/users/ada/enable'],
  ['GET', '/v1/summary'],
  ['POST', '/v1/backup'],
  ['GET', '/v1/audit'],
];

const UNAUTHORIZED = {
  statusCode: 401,
  code: 'SUP_ERR_AUTH_INVALID',
  error: 'Unauthorized',
  message: 'missing or invalid bearer token',
};

t.test('every protected route answers 401 SUP_ERR_AUTH_INVALID to wrong credentials, and does nothing', async (t) => {
  const { app, store, calls } = await build(t);
  store.addUser('ada');
  const summaryToken = deriveIdentity(TEST_SETTINGS.namespaceKey, 'ada').summaryToken;
  const presented = (others: string): [string, string | undefined][] => [
    ['no header', undefined],
    ['an empty bearer', 'Bearer '],
    ['another scheme', `Basic ${TOKENS.admin}`],
    ['a wrong token', 'Bearer not-the-token'],
    ['the token with a prefix', `Bearer x${others}`],
    ['the token of the other API', `Bearer ${others}`],
  ];
  const cases: [string, Method, string, unknown, [string, string | undefined][]][] = [
    ...INTERNAL_ROUTES.map(
      ([method, url, body]) =>
        ['internal', method, url, body, presented(TOKENS.admin)] as [
          string,
          Method,
          string,
          unknown,
          [string, string | undefined][],
        ],
    ),
    ...ADMIN_ROUTES.map(
      ([method, url, body]) =>
        [
          'admin',
          method,
          url,
          body,
          [...presented(TOKENS.internal), ['a tenant’s summary token', `Bearer ${summaryToken}`]],
        ] as [string, Method, string, unknown, [string, string | undefined][]],
    ),
  ];
  let checked = 0;
  for (const [api, method, url, body, credentials] of cases) {
    for (const [name, authorization] of credentials) {
      // The summary route is the one a tenant may call with its own token.
      if (url === '/v1/tenants/ada/summary' && authorization === `Bearer ${summaryToken}`) continue;
      const res = await app.inject({
        method,
        url,
        headers: authorization === undefined ? {} : { authorization },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      t.strictSame([res.statusCode, res.json()], [401, UNAUTHORIZED], `${api} ${method} ${url}: ${name}`);
      checked++;
    }
  }
  t.equal(checked, INTERNAL_ROUTES.length * 6 + ADMIN_ROUTES.length * 7 - 1);
  t.strictSame(store.audits(), [], 'nothing was audited');
  t.equal(store.tenants.get('ada'), undefined, 'nothing was woken');
  t.strictSame([calls.ensure, calls.stop, calls.pause, calls.remove], [0, 0, 0, 0]);
});

t.test('a tenant may push its own summary with its own token, and nothing else', async (t) => {
  const { request, store, controller } = await build(t);
  for (const user of ['ada', 'bob']) {
    store.addUser(user);
    await controller.wake(user, { wait: true });
  }
  const token = deriveIdentity(TEST_SETTINGS.namespaceKey, 'ada').summaryToken;
  const own = await request('POST', '/v1/tenants/ada/summary', { body: SUMMARY, token });
  t.strictSame([own.statusCode, own.body], [204, '']);
  t.match(store.summaries.get('ada'), SUMMARY);
  const other = await request('POST', '/v1/tenants/bob/summary', { body: SUMMARY, token });
  t.strictSame([other.statusCode, other.json()], [401, UNAUTHORIZED], 'not another tenant’s');
  t.equal(store.summaries.get('bob'), undefined);
  const internal = await request('POST', '/v1/tenants/ada/summary', { body: SUMMARY, token: TOKENS.internal });
  t.equal(internal.statusCode, 401, 'not with the gateway’s token');
});

t.test('open routes need no credentials', async (t) => {
  const { request } = await build(t);
  for (const url of ['/health', '/ready', '/metrics']) {
    t.equal((await request('GET', url, { token: null })).statusCode, 200, url);
  }
});

t.test('invalid input answers 400 SUP_ERR_REQUEST_INVALID saying what is wrong', async (t) => {
  const { request, store } = await build(t);
  store.addUser('ada');
  const admin = undefined;
  const internal = TOKENS.internal;
  const rows: [string, Method, string, unknown, string | undefined, string][] = [
    [
      'list with an unknown state',
      'GET',
      '/v1/tenants?state=sleeping',
      undefined,
      admin,
      `${'querystring/state must be equal to constant, '.repeat(6)}querystring/state must match a schema in anyOf`,
    ],
    ['list with limit 0', 'GET', '/v1/tenants?limit=0', undefined, admin, 'querystring/limit must be >= 1'],
    ['list with limit 501', 'GET', '/v1/tenants?limit=501', undefined, admin, 'querystring/limit must be <= 500'],
    [
      'list with a word for a limit',
      'GET',
      '/v1/tenants?limit=ten',
      undefined,
      admin,
      'querystring/limit must be integer',
    ],
    [
      'list with an unknown parameter',
      'GET',
      '/v1/tenants?sort=state',
      undefined,
      admin,
      'querystring must NOT have additional properties',
    ],
    ['logs with tail -1', 'GET', '/v1/tenants/ada/logs?tail=-1', undefined, admin, 'querystring/tail must be >= 1'],
    [
      'delete without confirm',
      'DELETE',
      '/v1/tenants/ada',
      undefined,
      admin,
      "querystring must have required property 'confirm'",
    ],
    ['audit before 0', 'GET', '/v1/audit?before=0', undefined, admin, 'querystring/before must be >= 1'],
    [
      'audit with a long action',
      'GET',
      `/v1/audit?action=${'x'.repeat(65)}`,
      undefined,
      admin,
      'querystring/action must NOT have more than 64 characters',
    ],
    [
      'summary with a negative count',
      'POST',
      '/v1/tenants/ada/summary',
      { ...SUMMARY, messages: -1 },
      admin,
      'body/messages must be >= 0',
    ],
    [
      'summary with a field missing',
      'POST',
      '/v1/tenants/ada/summary',
      { messages: 1 },
      admin,
      "body must have required property 'replies'",
    ],
    [
      'upsert with an unknown field',
      'PUT',
      '/internal/v1/users/bob',
      { admin: true },
      internal,
      'body must NOT have additional properties',
    ],
    [
      'upsert with a bad plan name',
      'PUT',
      '/internal/v1/users/bob',
      { plan: 'Pro Plan!' },
      internal,
      'body/plan must match pattern "^[a-z0-9][a-z0-9_-]*$"',
    ],
    [
      'upsert with a long email',
      'PUT',
      '/internal/v1/users/bob',
      { email: 'x'.repeat(321) },
      internal,
      'body/email must NOT have more than 320 characters',
    ],
    [
      'a user id with a control character',
      'PUT',
      '/internal/v1/users/a%01b',
      {},
      internal,
      'params/userId must match pattern "^[^\\u0000-\\u001f\\u007f]+$"',
    ],
    [
      'a user id of 201 characters',
      'PUT',
      `/internal/v1/users/${'a'.repeat(201)}`,
      {},
      internal,
      'params/userId must NOT have more than 200 characters',
    ],
    [
      'activity with a negative count',
      'POST',
      '/internal/v1/activity',
      { items: [{ userId: 'ada', lastActivity: 1, requests: -1, wsFrames: 0, streamMs: 0 }] },
      internal,
      'body/items/0/requests must be >= 0',
    ],
    [
      'activity without items',
      'POST',
      '/internal/v1/activity',
      {},
      internal,
      "body must have required property 'items'",
    ],
    [
      'wake with a string for wait',
      'POST',
      '/internal/v1/tenants/ada/wake',
      { wait: 'yes please' },
      internal,
      'body/wait must be boolean',
    ],
    [
      'wake with a zero timeout',
      'POST',
      '/internal/v1/tenants/ada/wake',
      { timeoutMs: 0 },
      internal,
      'body/timeoutMs must be >= 1',
    ],
  ];
  for (const [name, method, url, body, token, message] of rows) {
    const res = await request(method, url, { ...(body === undefined ? {} : { body }), ...(token ? { token } : {}) });
    t.strictSame(
      [res.statusCode, res.json()],
      [400, { statusCode: 400, code: 'SUP_ERR_REQUEST_INVALID', error: 'Bad Request', message }],
      name,
    );
  }
  t.equal(store.users.get('bob'), undefined, 'no refused upsert created a user');
  t.equal(store.tenants.get('ada'), undefined, 'no refused wake began');
});

t.test('bodies the parser refuses keep Fastify’s stable codes', async (t) => {
  const { app, store } = await build(t);
  const send = (contentType: string, payload: string) =>
    app.inject({
      method: 'PUT',
      url: '/internal/v1/users/bob',
      headers: { authorization: `Bearer ${TOKENS.internal}`, 'content-type': contentType },
      payload,
    });
  const rows: [string, string, string, number, Record<string, unknown>][] = [
    [
      'malformed JSON',
      'application/json',
      '{"email": ',
      400,
      {
        statusCode: 400,
        code: 'FST_ERR_CTP_INVALID_JSON_BODY',
        error: 'Bad Request',
        message: "Body is not valid JSON but content-type is set to 'application/json'",
      },
    ],
    [
      'a body over 256 KiB',
      'application/json',
      JSON.stringify({ email: 'x'.repeat(256 * 1024) }),
      413,
      {
        statusCode: 413,
        code: 'FST_ERR_CTP_BODY_TOO_LARGE',
        error: 'Payload Too Large',
        message: 'Request body is too large',
      },
    ],
    [
      'text instead of JSON',
      'text/plain',
      'email=bob@example.com',
      400,
      { statusCode: 400, code: 'SUP_ERR_REQUEST_INVALID', error: 'Bad Request', message: 'body must be object' },
    ],
  ];
  for (const [name, contentType, payload, status, body] of rows) {
    const res = await send(contentType, payload);
    t.strictSame([res.statusCode, res.json()], [status, body], name);
  }
  t.equal(store.users.get('bob'), undefined);
});

t.test('unknown routes answer 404 SUP_ERR_ROUTE_NOT_FOUND without a token, the query left out', async (t) => {
  const { request } = await build(t);
  for (const [method, url, path] of [
    ['GET', '/v1/nothing-here?token=secret', '/v1/nothing-here'],
    ['DELETE', '/v1/summary', '/v1/summary'],
    ['GET', '/internal/v1/nothing', '/internal/v1/nothing'],
  ] as const) {
    const res = await request(method, url, { token: null });
    t.strictSame(
      [res.statusCode, res.json()],
      [
        404,
        { statusCode: 404, code: 'SUP_ERR_ROUTE_NOT_FOUND', error: 'Not Found', message: `no route ${method} ${path}` },
      ],
      `${method} ${url}`,
    );
  }
});

t.test('an unexpected failure answers 500 SUP_ERR_INTERNAL and hides what went wrong', async (t) => {
  const { request, store, controller, runtime } = await build(t);
  store.addUser('ada');
  await controller.wake('ada', { wait: true });
  runtime.logs = async () => {
    throw new Error('connect ENOENT /var/run/docker.sock');
  };
  const res = await request('GET', '/v1/tenants/ada/logs');
  t.strictSame(
    [res.statusCode, res.json()],
    [500, { statusCode: 500, code: 'SUP_ERR_INTERNAL', error: 'Internal Server Error', message: 'internal error' }],
  );
});
