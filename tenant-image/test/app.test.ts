import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Teardown } from '@tenancy/test-support';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import t from 'tap';
import { buildApp } from '../src/app.js';
import { localResponder } from '../src/chat/responder.js';
import { loadTenantConfig } from '../src/config.js';
import { HistoryStore } from '../src/history/history-store.js';

const SECRET = 'tenant-secret-0123456789';

async function setup(
  t: Teardown,
  env: Record<string, string> = {},
  logger: FastifyBaseLogger = pino({ level: 'silent' }),
) {
  const dir = await mkdtemp(join(tmpdir(), 'tenant-app-'));
  await mkdir(join(dir, 'files'));
  const config = loadTenantConfig({
    TENANT_SECRET: SECRET,
    FILES_DIR: join(dir, 'files'),
    HISTORY_DIR: join(dir, 'history'),
    ...env,
  });
  const history = new HistoryStore(config.historyDir);
  const app = await buildApp(config, { history, responder: localResponder, logger });
  t.teardown(async () => {
    await app.close();
    history.close();
    await rm(dir, { recursive: true, force: true });
  });
  const call = (method: string, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: method as 'GET',
      url,
      headers: { 'x-tenancy-tenant-secret': SECRET, 'x-tenancy-user-id': 'alice', ...headers },
      ...(payload === undefined ? {} : { payload: payload as string }),
    });
  return { app, call, dir, history };
}

t.test('the seed request gets a reply, stored with the message in the history', async (t) => {
  const { call } = await setup(t);
  const res = await call('POST', '/chat', { message: 'Hello!' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), {
    reply: 'Hello! Your private container is awake and listening. Type "help" to see what I can do.',
    message_id: 1,
    reply_id: 2,
    user_id: 'alice',
  });
  await call('POST', '/chat', { message: 'second' });
  t.match((await call('POST', '/chat', { message: 'history' })).json(), {
    reply: 'You have sent 2 messages before this one.',
  });

  const page = (await call('GET', '/history?limit=2')).json();
  t.same(
    page.items.map((m: { role: string; content: string }) => [m.role, m.content]),
    [
      ['assistant', 'You have sent 2 messages before this one.'],
      ['user', 'history'],
    ],
  );
  t.equal(page.next, 5);
  const older = (await call('GET', `/history?limit=10&before=${page.next}`)).json();
  t.same(
    older.items.map((m: { content: string }) => m.content),
    [
      'You said: second',
      'second',
      'Hello! Your private container is awake and listening. Type "help" to see what I can do.',
      'Hello!',
    ],
  );
  t.match((await call('GET', '/summary')).json(), { messages: 3, replies: 3, tokensUsed: 0, bytesStored: 0 });
  t.same((await call('DELETE', '/history')).json(), { deleted: 6 });
  t.same((await call('GET', '/history')).json().items, []);
});

t.test('with Accept: text/event-stream the reply streams as Server-Sent Events', async (t) => {
  const { call } = await setup(t);
  const res = await call('POST', '/chat', { message: 'stream me' }, { accept: 'text/event-stream' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/event-stream/);
  const tokens = [...res.body.matchAll(/event: token\ndata: (.*)\n\n/g)].map((m) => JSON.parse(m[1] ?? '""')).join('');
  t.equal(tokens, 'You said: stream me');
  t.match(res.body, /event: done\ndata: \{"reply":"You said: stream me","message_id":1,"reply_id":2/);
});

t.test('requests without the tenant secret are refused, except the health check', async (t) => {
  const { app } = await setup(t);
  t.equal((await app.inject({ url: '/health' })).statusCode, 200);
  for (const headers of [{}, { 'x-tenancy-tenant-secret': 'wrong' }, { 'x-tenancy-tenant-secret': `${SECRET}x` }]) {
    const res = await app.inject({ method: 'POST', url: '/chat', payload: { message: 'hi' }, headers });
    t.equal(res.statusCode, 401);
    t.equal(res.json().code, 'TENANT_ERR_SECRET_INVALID');
  }
});

t.test('bad chat input gets 400 with a stable code', async (t) => {
  const { call } = await setup(t);
  for (const body of [{}, { message: '' }, { message: 42 }, { message: 'x'.repeat(8001) }]) {
    const res = await call('POST', '/chat', body);
    t.equal(res.statusCode, 400, JSON.stringify(body).slice(0, 40));
    t.equal(res.json().code, 'TENANT_ERR_REQUEST_INVALID');
  }
  t.equal((await call('POST', '/chat', '{not json', { 'content-type': 'application/json' })).statusCode, 400);
});

t.test('files: put, list, get, delete, size limit and quota', async (t) => {
  const { call } = await setup(t, { FILE_MAX_BYTES: '1000', FILES_QUOTA_BYTES: '1500' });
  const put = await call('PUT', '/files/notes/today.txt', 'remember the milk', { 'content-type': 'text/plain' });
  t.same([put.statusCode, put.json()], [200, { bytes: 17 }]);
  t.same(
    (await call('GET', '/files/')).json().items.map((e: { name: string; type: string }) => [e.name, e.type]),
    [['notes', 'folder']],
  );
  t.equal((await call('GET', '/files/notes/today.txt')).body, 'remember the milk');
  t.match((await call('POST', '/chat', { message: 'files' })).json(), { reply: 'Your files: notes' });
  const big = await call('PUT', '/files/big.bin', Buffer.alloc(1001), { 'content-type': 'application/octet-stream' });
  t.same([big.statusCode, big.json().code], [413, 'TENANT_ERR_BODY_TOO_LARGE']);
  await call('PUT', '/files/a.bin', Buffer.alloc(900), { 'content-type': 'application/octet-stream' });
  const full = await call('PUT', '/files/b.bin', Buffer.alloc(900), { 'content-type': 'application/octet-stream' });
  t.same([full.statusCode, full.json().code], [507, 'TENANT_ERR_QUOTA_EXCEEDED']);
  t.equal((await call('DELETE', '/files/notes/today.txt')).statusCode, 204);
  t.equal((await call('GET', '/files/notes/today.txt')).statusCode, 404);
});

t.test('every content type is stored as the bytes sent, up to FILE_MAX_BYTES', async (t) => {
  const { call } = await setup(t, { FILE_MAX_BYTES: String(200 * 1024) });
  const json = '{"a": 1,  "b": [true]}';
  const big = Buffer.alloc(100 * 1024, 'x');
  const binary = Buffer.from([0, 255, 1, 254, 10, 13]);
  const rows: [name: string, contentType: string | undefined, body: string | Buffer][] = [
    ['data.json', 'application/json', json],
    ['data-utf8.json', 'application/json; charset=utf-8', json],
    ['big.txt', 'text/plain', big],
    ['big.json', 'application/json', big],
    ['form.txt', 'application/x-www-form-urlencoded', 'a=1&b=2'],
    ['blob.bin', 'application/octet-stream', binary],
    ['image.png', 'image/png', binary],
    ['untyped.bin', undefined, binary],
  ];
  for (const [name, contentType, body] of rows) {
    const put = await call('PUT', `/files/${name}`, body, contentType ? { 'content-type': contentType } : {});
    t.equal(put.statusCode, 200, `${name}: ${put.body}`);
    const got = await call('GET', `/files/${name}`);
    t.equal(got.statusCode, 200);
    t.ok(got.rawPayload.equals(Buffer.from(body)), `${name} (${contentType}) stored byte for byte`);
  }
  const over = await call('PUT', '/files/over.txt', Buffer.alloc(200 * 1024 + 1), { 'content-type': 'text/plain' });
  t.equal(over.statusCode, 413, 'above FILE_MAX_BYTES, whatever the type');
  t.equal(over.json().code, 'TENANT_ERR_BODY_TOO_LARGE');
  const chat = await call('POST', '/chat', { message: 'Hello!' });
  t.equal(chat.statusCode, 200, 'JSON is still parsed outside the files area');
});

t.test('path traversal in every spelling is refused and touches nothing outside the files area', async (t) => {
  const { call, dir } = await setup(t);
  await writeFile(join(dir, 'secret.txt'), 'outside');
  await symlink(dir, join(dir, 'files', 'escape'));
  await symlink(join(dir, 'secret.txt'), join(dir, 'files', 'link.txt'));
  const attempts = [
    '/files/../secret.txt',
    '/files/%2e%2e/secret.txt',
    '/files/%2E%2E%2Fsecret.txt',
    '/files/%252e%252e%252fsecret.txt',
    '/files/..%2fsecret.txt',
    '/files/notes/../../secret.txt',
    '/files//etc/passwd',
    '/files/%2fetc%2fpasswd',
    '/files/..%5csecret.txt',
    '/files/a%00b',
    '/files/escape/secret.txt',
    '/files/link.txt',
  ];
  for (const url of attempts) {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await call(method, url, method === 'PUT' ? 'pwned' : undefined, { 'content-type': 'text/plain' });
      t.ok(res.statusCode >= 400 && res.statusCode < 500, `${method} ${url} → ${res.statusCode}`);
      t.notMatch(res.body, /outside/, `${method} ${url} leaked nothing`);
    }
  }
  t.same((await readdir(dir)).sort(), ['files', 'history', 'secret.txt'], 'nothing written outside');
  const { readFile } = await import('node:fs/promises');
  t.equal(await readFile(join(dir, 'secret.txt'), 'utf8'), 'outside', 'nothing changed outside');
});

t.test('the web page is served with a strict content security policy', async (t) => {
  const { call } = await setup(t);
  const page = await call('GET', '/');
  t.equal(page.statusCode, 200);
  t.match(page.body, /<script src="\/app.js"><\/script>/);
  t.match(page.headers['content-security-policy'], /script-src 'self'/);
  t.equal((await call('GET', '/app.js')).statusCode, 200);
});

t.test('the app refuses to start without a tenant secret', async (t) => {
  t.throws(() => loadTenantConfig({}), /TENANT_SECRET is required/);
  t.throws(() => loadTenantConfig({ TENANT_SECRET: SECRET, PORT: 'eighty' }), /PORT must be an integer/);
});

t.test('a request writes one info line, the rest at debug; health probes write none', async (t) => {
  const lines: { level: number; msg: string; reqId?: string; req?: unknown; res?: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (chunk: string) => void lines.push(JSON.parse(chunk)) });
  const { call } = await setup(t, {}, logger);
  const res = await call('GET', '/history?limit=5');
  t.equal(res.statusCode, 200);
  t.same(
    lines.filter((line) => line.level >= 30).map((line) => line.msg),
    ['request completed'],
  );
  t.match(
    lines.find((line) => line.level >= 30),
    {
      req: { method: 'GET', url: '/history?limit=5' },
      res: { statusCode: 200 },
    },
  );
  t.same(
    lines.filter((line) => line.level === 20).map((line) => line.msg),
    ['incoming request'],
  );
  const before = lines.length;
  t.equal((await call('GET', '/health')).statusCode, 200);
  t.equal(lines.length, before, 'the health probe wrote nothing');
});

t.test('requests that may change the summary tell the pusher; reads and probes do not', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tenant-app-'));
  await mkdir(join(dir, 'files'));
  const config = loadTenantConfig({
    TENANT_SECRET: SECRET,
    FILES_DIR: join(dir, 'files'),
    HISTORY_DIR: join(dir, 'h'),
  });
  const history = new HistoryStore(config.historyDir);
  let changes = 0;
  const app = await buildApp(config, {
    history,
    responder: localResponder,
    logger: pino({ level: 'silent' }),
    onChange: () => changes++,
  });
  t.teardown(async () => {
    await app.close();
    history.close();
    await rm(dir, { recursive: true, force: true });
  });
  const headers = { 'x-tenancy-tenant-secret': SECRET };
  for (const url of ['/health', '/history', '/summary', '/files/', '/']) {
    await app.inject({ method: 'GET', url, headers });
  }
  t.equal(changes, 0, 'reads and probes');
  t.equal((await app.inject({ method: 'POST', url: '/chat', headers, payload: { message: 'hi' } })).statusCode, 200);
  t.equal(changes, 1);
  await app.inject({ method: 'PUT', url: '/files/a.txt', headers, payload: 'abc' });
  await app.inject({ method: 'DELETE', url: '/files/a.txt', headers });
  await app.inject({ method: 'DELETE', url: '/history', headers });
  t.equal(changes, 4);
});
