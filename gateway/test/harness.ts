import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TenantRoute, UserRecord } from '@tenancy/shared';
import type { Teardown } from '@tenancy/test-support';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { buildApp, type GatewayApp } from '../src/app.js';
import { type GatewayConfig, loadGatewayConfig } from '../src/config.js';
import type { SupervisorClient } from '../src/supervisor/client.js';

/**
 * A stand-in tenant app on 127.0.0.1: echoes the request it received, streams SSE (`/stream` ends when
 * the test says, `/forever` never), tunnels WebSocket upgrades as an echo, hangs, or resets, depending on the path.
 */
export async function echoTenant(t: Teardown) {
  const received: { url: string; headers: IncomingHttpHeaders }[] = [];
  const sockets = new Set<Duplex>();
  const heldStreams = new Set<() => void>();
  const server = createServer((req, res) => {
    received.push({ url: req.url ?? '', headers: req.headers });
    if (req.url === '/hang') return; // never answers
    if (req.url === '/reset') return req.socket.destroy();
    if (req.url === '/forever') {
      // An event stream that never ends by itself.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      return;
    }
    if (req.url === '/stream') {
      // The second event and the end wait for the test (endStreams): a client can only have
      // the first event early if nothing on the way buffers the stream.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      heldStreams.add(() => res.end('data: two\n\n'));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          url: req.url,
          method: req.method,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket) => {
    received.push({ url: req.url ?? '', headers: req.headers });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (chunk) => socket.write(Buffer.concat([Buffer.from('echo:'), chunk])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    /** Sends the second event of every `/stream` response so far and ends them. */
    endStreams() {
      for (const end of heldStreams) end();
      heldStreams.clear();
    },
  };
}

/** A supervisor stand-in for the gateway's own tests; the real one is used in flow.test.ts. */
export function fakeSupervisor(endpointUrl: string) {
  const calls = { upsert: 0, wake: 0, route: 0, stop: 0, activity: [] as unknown[] };
  const users = new Map<string, UserRecord>();
  const route = (): TenantRoute => ({ state: 'running', endpoint: { url: endpointUrl, secret: 'tenant-secret-1' } });
  const client: SupervisorClient = {
    async upsertUser(userId, body) {
      calls.upsert++;
      const user = {
        userId,
        email: body.email ?? null,
        plan: body.plan ?? 'free',
        onboardingCompleted: body.onboardingCompleted ?? false,
        disabled: users.get(userId)?.disabled ?? false,
      };
      users.set(userId, user);
      return user;
    },
    async wake() {
      calls.wake++;
      return route();
    },
    async exportUser() {
      return new Response('', { status: 200, headers: { 'content-type': 'application/x-tar' } });
    },
    async requestDeletion() {
      return { deletionDueAt: 0 };
    },
    async cancelDeletion(userId) {
      const user = users.get(userId);
      if (!user) throw new Error(`no user ${userId}`);
      return user;
    },
    async route() {
      calls.route++;
      return route();
    },
    async stop() {
      calls.stop++;
      return { state: 'asleep' };
    },
    async wakeEvents() {
      return new Response(
        'event: progress\ndata: {"phase":"ready","percent":100,"message":"ready","elapsedMs":0}\n\n',
        {
          headers: { 'content-type': 'text/event-stream' },
        },
      );
    },
    async routeEvents(signal) {
      // Connected and quiet until the gateway goes away.
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('event: hello\ndata: {}\n\n'));
          signal.addEventListener('abort', () => controller.close(), { once: true });
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    },
    async reportActivity(batch) {
      calls.activity.push(batch);
    },
    async health() {},
    // API keys live in the real supervisor; api-keys.test.ts runs against it.
    async listApiKeys() {
      return { items: [] };
    },
    async createApiKey() {
      throw new Error('the fake supervisor keeps no API keys');
    },
    async revokeApiKey() {
      throw new Error('the fake supervisor keeps no API keys');
    },
    async verifyApiKey() {
      throw new Error('the fake supervisor keeps no API keys');
    },
  };
  return { client, calls, users };
}

export interface TestGateway {
  app: GatewayApp;
  url: string;
  port: number;
  config: Readonly<GatewayConfig>;
  redis: Redis;
  /** Logs in (dev mode) and returns the cookie header value. */
  login(userId: string, extra?: Record<string, unknown>): Promise<string>;
  /** Whether the revocation view is trusted, as the metric says (asking costs Redis nothing). */
  revocationViewTrusted(): Promise<boolean>;
}

/** A gateway on a free port against the given Redis and supervisor client. */
export async function startGateway(
  t: Teardown,
  options: {
    redisUrl: string;
    supervisor: SupervisorClient;
    env?: Record<string, string>;
    now?: () => number;
    /** Where the gateway logs; silent by default. */
    logger?: FastifyBaseLogger;
  },
): Promise<TestGateway> {
  const config = loadGatewayConfig({
    AUTH_MODE: 'dev',
    DEV_AUTH_ENABLED: 'true',
    COOKIE_JWT_SECRET: randomBytes(32).toString('base64url'),
    SUPERVISOR_TOKEN: 'x'.repeat(32),
    REDIS_URL: options.redisUrl,
    REDIS_TIMEOUT: '300ms',
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  // As server.ts does: connected first, so the first revocation load does not meet a command
  // connection that is still connecting (and refuses commands, having no offline queue).
  const redis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
  const subscriber = new Redis(config.REDIS_URL, { lazyConnect: true });
  redis.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  await Promise.all([redis.connect(), subscriber.connect()]);
  const app = await buildApp(config, {
    redis,
    subscriber,
    logger: options.logger ?? pino({ level: 'silent' }),
    supervisor: options.supervisor,
    ...(options.now ? { now: options.now } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    redis.disconnect();
    subscriber.disconnect();
  });
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    url,
    port,
    config,
    redis,
    async login(userId, extra = {}) {
      const res = await fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: userId, ...extra }),
      });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
      return (res.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
    },
    async revocationViewTrusted() {
      const text = await (await fetch(`${url}/metrics`)).text();
      return /^tenancy_gateway_revocation_view_trusted 1$/m.test(text);
    },
  };
}

/** One JSON log line as pino writes it (numeric levels: 20 debug, 30 info, 40 warn). */
export interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  [field: string]: unknown;
}

/** A pino logger at `level` whose lines are kept in `lines`, parsed. */
export function capturingLogger(level = 'debug') {
  const lines: LogLine[] = [];
  const logger = pino(
    { level },
    {
      write(chunk: string) {
        lines.push(JSON.parse(chunk) as LogLine);
      },
    },
  );
  return { logger, lines };
}

/**
 * Resolves once `condition` holds, checking it every 20 ms: tests wait for what they need to
 * happen, not for a fixed time. Gives up (throws) after a minute, far beyond any healthy wait.
 */
export async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const giveUpAt = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Opens a WebSocket through the gateway: 101 and the socket, or the refusal's status. */
export function openWebSocket(
  gw: Pick<TestGateway, 'port'>,
  cookie: string,
  extraHeaders: Record<string, string> = {},
) {
  return new Promise<{ status: number; socket?: Duplex }>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: gw.port,
      path: '/ws',
      headers: {
        ...(cookie ? { cookie } : {}),
        ...extraHeaders,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.on('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, socket }));
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end();
  });
}
