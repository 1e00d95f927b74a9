import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Teardown } from '@tenancy/test-support';
import { pino } from 'pino';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { createModelResponder } from '../../src/chat/model-responder.js';
import { loadTenantConfig } from '../../src/config.js';
import { HistoryStore } from '../../src/history/history-store.js';

const SECRET = 'tenant-secret-0123456789';

/**
 * A stand-in for an OpenAI-compatible server on 127.0.0.1: streams the answer in pieces, a few
 * milliseconds apart, then a usage chunk and [DONE]. `mode` makes it fail in the ways real ones do.
 */
async function fakeModelServer(t: Teardown) {
  const requests: { headers: IncomingHttpHeaders; body: { model: string; messages: unknown[]; stream: boolean } }[] =
    [];
  let mode: 'ok' | 'error' | 'garbage' = 'ok';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      requests.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      if (req.url !== '/v1/chat/completions') return res.writeHead(404).end();
      if (mode === 'error') return res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"x"}');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (mode === 'garbage') return res.end('data: {not json\n\n');
      for (const piece of ['The ', 'model ', 'says ', 'hi.']) {
        res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: piece } }] })}\n\n`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 30, total_tokens: 42 } })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    fail: (how: typeof mode) => {
      mode = how;
    },
  };
}

async function setup(t: Teardown, baseUrl: string) {
  const dir = await mkdtemp(join(tmpdir(), 'tenant-model-'));
  await mkdir(join(dir, 'files'));
  const config = loadTenantConfig({
    TENANT_SECRET: SECRET,
    FILES_DIR: join(dir, 'files'),
    HISTORY_DIR: join(dir, 'history'),
    LLM_BASE_URL: baseUrl,
    LLM_MODEL: 'test-model',
    LLM_API_KEY: 'sk-test-key',
    LLM_TIMEOUT: '5',
  });
  if (!config.model) throw new Error('model settings expected');
  const history = new HistoryStore(config.historyDir);
  const app = await buildApp(config, {
    history,
    responder: createModelResponder(config.model),
    logger: pino({ level: 'silent' }),
  });
  t.teardown(async () => {
    await app.close();
    history.close();
    await rm(dir, { recursive: true, force: true });
  });
  const chat = (message: string, accept = 'application/json') =>
    app.inject({
      method: 'POST',
      url: '/chat',
      headers: { 'x-tenancy-tenant-secret': SECRET, accept },
      payload: { message },
    });
  const get = (url: string) => app.inject({ url, headers: { 'x-tenancy-tenant-secret': SECRET } });
  return { chat, get };
}

t.test('a configured model answers, with the conversation, and its token usage is recorded', async (t) => {
  const model = await fakeModelServer(t);
  const { chat, get } = await setup(t, model.url);

  const first = await chat('Hello!');
  t.equal(first.statusCode, 200);
  t.match(first.json(), { reply: 'The model says hi.', message_id: 1, reply_id: 2 });
  const second = await chat('And again?');
  t.equal(second.json().reply, 'The model says hi.');

  const [, request] = model.requests;
  t.equal(request?.headers.authorization, 'Bearer sk-test-key');
  t.equal(request?.body.model, 'test-model');
  t.equal(request?.body.stream, true);
  t.match(request?.body.messages, [
    { role: 'system' },
    { role: 'user', content: 'Hello!' },
    { role: 'assistant', content: 'The model says hi.' },
    { role: 'user', content: 'And again?' },
  ]);
  t.equal(request?.body.messages.length, 4, 'the conversation so far, oldest first, then the new message');
  t.match((await get('/summary')).json(), { messages: 2, replies: 2, tokensUsed: 84 });
});

t.test('with Accept: text/event-stream the model’s pieces stream through as they arrive', async (t) => {
  const model = await fakeModelServer(t);
  const { chat } = await setup(t, model.url);
  const res = await chat('stream it', 'text/event-stream');
  t.equal(res.statusCode, 200);
  const pieces = [...res.body.matchAll(/event: token\ndata: (.*)\n\n/g)].map((m) => JSON.parse(m[1] ?? '""'));
  t.same(pieces, ['The ', 'model ', 'says ', 'hi.']);
  t.match(res.body, /event: done\ndata: \{"reply":"The model says hi.","message_id":1,"reply_id":2/);
});

t.test('a failing, garbled or unreachable model is a 502 with a stable code, and nothing is stored', async (t) => {
  const model = await fakeModelServer(t);
  const { chat, get } = await setup(t, model.url);

  model.fail('error');
  const refused = await chat('hi');
  t.equal(refused.statusCode, 502);
  t.match(refused.json(), { code: 'TENANT_ERR_MODEL_UNAVAILABLE', message: 'the model answered 500' });

  model.fail('garbage');
  const garbled = await chat('hi', 'text/event-stream');
  t.equal(garbled.statusCode, 200, 'the stream had begun');
  t.match(garbled.body, /event: error\ndata: \{"statusCode":502,"code":"TENANT_ERR_MODEL_UNAVAILABLE"/);
  t.notMatch(garbled.body, /event: done/);

  const gone = await setup(t, 'http://127.0.0.1:1/v1');
  const unreachable = await gone.chat('hi');
  t.equal(unreachable.statusCode, 502);
  t.equal(unreachable.json().code, 'TENANT_ERR_MODEL_UNAVAILABLE');
  t.notMatch(unreachable.body, /sk-test-key/, 'the key never appears in an answer');

  t.same((await get('/history')).json().items, [], 'no half exchange was stored');
});

t.test('model settings are validated at start', async (t) => {
  const base = { TENANT_SECRET: SECRET };
  t.throws(() => loadTenantConfig({ ...base, LLM_BASE_URL: 'http://127.0.0.1:9/v1' }), /LLM_MODEL is required/);
  t.throws(() => loadTenantConfig({ ...base, LLM_BASE_URL: 'ftp://x', LLM_MODEL: 'm' }), /LLM_BASE_URL must be/);
  t.equal(loadTenantConfig(base).model, undefined, 'no model: the local responder answers');
});
