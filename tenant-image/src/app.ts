import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Responder, ResponderContext } from './chat/responder.js';
import type { TenantConfig } from './config.js';
import { errors, TenantError } from './errors.js';
import { FilesArea } from './files/files-area.js';
import type { HistoryStore } from './history/history-store.js';
import { RequestLog } from './request-log.js';
import { readSummary } from './summary/summary-pusher.js';

export interface TenantDeps {
  history: HistoryStore;
  /** The files area; made from the config when not given. */
  files?: FilesArea;
  responder: Responder;
  logger: FastifyBaseLogger;
  /**
   * Called after every request that may have changed the usage summary (any method but GET and
   * HEAD): the summary pusher pushes only after a change, so an idle tenant runs no timer.
   */
  onChange?: () => void;
}

const PUBLIC_DIR = join(import.meta.dirname, '..', 'public');
const SECRET_HEADER = 'x-tenancy-tenant-secret';
/** How much of the conversation a model-backed responder sees. */
const RECENT_MESSAGES = 20;

/** The per-user app: health, chat with history, files, summary, and a small web page. */
export async function buildApp(config: TenantConfig, deps: TenantDeps) {
  const { history, responder } = deps;
  const files = deps.files ?? new FilesArea(config.filesDir, config.fileMaxBytes, config.filesQuotaBytes);
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    // One line per request at info; see request-log.ts.
    logController: new RequestLog(),
  });
  const expected = createHash('sha256').update(config.secret).digest();

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof TenantError) {
      return reply
        .code(err.statusCode)
        .send({ statusCode: err.statusCode, code: err.code, error: 'Error', message: err.message });
    }
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err }, 'request failed');
    const code =
      status === 413
        ? 'TENANT_ERR_BODY_TOO_LARGE'
        : status < 500
          ? 'TENANT_ERR_REQUEST_INVALID'
          : 'TENANT_ERR_INTERNAL';
    return reply.code(status).send({
      statusCode: status,
      code,
      error: 'Error',
      message: status < 500 ? (err as Error).message : 'internal error',
    });
  });
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ statusCode: 404, code: 'TENANT_ERR_NOT_FOUND', error: 'Not Found', message: 'not found' }),
  );

  // Defence in depth: only the platform's gateway knows this tenant's secret.
  app.addHook('onRequest', async (request) => {
    if (request.url === '/health') return;
    const presented = request.headers[SECRET_HEADER];
    const ok =
      typeof presented === 'string' &&
      timingSafeEqual(createHash('sha256').update(presented).digest(), expected) &&
      presented.length === config.secret.length;
    if (!ok) throw errors.secretMissing();
  });

  const { onChange } = deps;
  if (onChange) {
    app.addHook('onResponse', async (request) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') onChange();
    });
  }

  app.get('/health', async () => ({ status: 'ok' }));

  app.post<{ Body: { message?: unknown } }>('/chat', async (request, reply) => {
    const message = request.body?.message;
    if (typeof message !== 'string' || message.trim() === '' || message.length > 8_000) {
      throw errors.badRequest('send {"message": "..."} with 1 to 8000 characters');
    }
    const context: ResponderContext = {
      messageCount: history.stats().messages,
      listFiles: async () => (await files.list('')).map((entry) => entry.name),
      recent: () =>
        history
          .list(RECENT_MESSAGES)
          .reverse()
          .map((m) => ({ role: m.role, content: m.content })),
    };
    const respond = (answer: { text: string; tokens: number }) => {
      const ids = history.recordExchange(message, answer.text, answer.tokens);
      return { reply: answer.text, message_id: ids.userId, reply_id: ids.replyId, user_id: userIdOf(request.headers) };
    };
    if (!String(request.headers.accept ?? '').includes('text/event-stream')) {
      return respond(await responder.reply(message, context));
    }

    // Streamed: each piece as the responder produces it, then the stored ids once the message
    // and the whole reply are committed; `done` is the acknowledgement.
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) =>
      reply.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    try {
      const body = respond(await responder.reply(message, context, (piece) => send('token', piece)));
      send('done', body);
    } catch (err) {
      const failure = err instanceof TenantError ? err : new TenantError('TENANT_ERR_INTERNAL', 500, 'internal error');
      if (failure.statusCode >= 500) request.log.error({ err }, 'chat reply failed');
      send('error', { statusCode: failure.statusCode, code: failure.code, message: failure.message });
    }
    reply.raw.end();
    return reply;
  });

  app.get<{ Querystring: { limit?: string; before?: string } }>('/history', async (request) => {
    const limit = Math.min(Math.max(Number(request.query.limit ?? 50) || 50, 1), 200);
    const before = request.query.before === undefined ? undefined : Number(request.query.before);
    if (before !== undefined && !Number.isInteger(before)) throw errors.badRequest('before must be a message id');
    const items = history.list(limit, before);
    const last = items.at(-1);
    return { items, next: items.length === limit && last ? last.id : null };
  });

  app.delete('/history', async () => ({ deleted: history.clear() }));

  app.get('/summary', async () => readSummary(history, files));

  await app.register(async (scope) => {
    // A file is stored as the bytes sent, whatever its type: without the removal Fastify's own
    // JSON and text parsers would win over the catch-all (storing "[object Object]", and stopping
    // at the app's 64 KiB body limit). The removal holds in this scope only; /chat keeps JSON.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.fileMaxBytes }, (_request, body, done) =>
      done(null, body),
    );
    scope.get<{ Params: { '*': string } }>('/files/*', async (request, reply) => {
      const path = request.params['*'];
      if (path === '' || path.endsWith('/')) return { items: await files.list(path) };
      const { handle, bytes } = await files.read(path);
      reply.header('content-length', bytes).type('application/octet-stream');
      return reply.send(handle.createReadStream());
    });
    scope.put<{ Params: { '*': string }; Body: Buffer | undefined }>('/files/*', async (request) =>
      // No body at all (no content type, nothing sent) is an empty file.
      files.write(request.params['*'], request.body ?? Buffer.alloc(0)),
    );
    scope.delete<{ Params: { '*': string } }>('/files/*', async (request, reply) => {
      await files.remove(request.params['*']);
      return reply.code(204).send();
    });
  });

  const page = readFileSync(join(PUBLIC_DIR, 'index.html'), 'utf8');
  const script = readFileSync(join(PUBLIC_DIR, 'app.js'), 'utf8');
  app.get('/', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header(
        'content-security-policy',
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
      )
      .send(page),
  );
  app.get('/app.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(script));

  return app;
}

/** The user id the gateway sent (percent-encoded when it is not plain ASCII). */
function userIdOf(headers: Record<string, unknown>): string | null {
  const value = headers['x-tenancy-user-id'];
  if (typeof value !== 'string') return null;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
