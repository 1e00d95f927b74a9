import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { readJson, seg } from '@tenancy/test-support';
import { launchChromium } from '@tenancy/test-support/chromium';
import t from 'tap';
import { tenantLabel } from '../../gateway/src/origins/tenant-label.js';
import { curlWithJar } from './curl.js';
import { startPlatform } from './platform.js';
import { buildSlowStartImage } from './slow-image.js';

/**
 * TENANT_ROUTING=subdomain through the real edge: nginx, the gateway, Redis, and the supervisor
 * with real containers. The platform is http://localhost:PORT, each tenant
 * http://<label>.localhost:PORT (Chromium and curl resolve *.localhost to the loopback address).
 */

t.test('the seed flow with curl: sign in on the platform, chat on the tenant host, a WebSocket wakes it', async (t) => {
  const key = randomBytes(32).toString('base64url');
  const platform = await startPlatform(t, { subdomainKey: key });
  const user = 'origins-seed-user';
  const tenantOrigin = `http://${tenantLabel(key, user)}.localhost:${platform.port}`;
  const onPlatform = curlWithJar(t, platform.url);

  // The seed's login and warmup are the platform's; its chat is on the tenant's own origin.
  const login = await onPlatform.call('POST', '/auth/login', { user_id: user, email: 'e2e@example.com' });
  t.equal(login.status, 200, login.body);
  const warmup = await onPlatform.call('POST', '/warmup', { user_id: user });
  t.match(warmup.json, { user_id: user, state: 'running', ready: true });
  const misdirected = await onPlatform.call('POST', '/chat', { message: 'Hello!' });
  t.equal(misdirected.status, 421, 'the platform origin serves no tenant');
  t.equal(misdirected.json.code, 'GW_ERR_TENANT_ON_OWN_ORIGIN');

  const entered = await onPlatform.follow('/auth/tenant');
  t.equal(entered.url, `${tenantOrigin}/`, 'the platform sends the session to the tenant host');
  const onTenant = curlWithJar(t, tenantOrigin, onPlatform.jar);
  const hello = await onTenant.call('POST', '/chat', { message: 'Hello!' });
  t.equal(hello.status, 200, hello.body);
  t.match(hello.json, { user_id: user, reply: /^Hello! Your private container is awake/ });

  // Asleep, a WebSocket upgrade on the tenant host wakes it (the app answers the upgrade with
  // its own 404: it has no WebSocket route; what counts is that the container started for it).
  await platform.supervisor.api('POST', `/v1/tenants/${seg(user)}/stop`);
  const cookie = tenantCookieOf(onTenant.jar);
  const status = await upgradeStatus(platform.port, new URL(tenantOrigin).host, cookie);
  t.equal(status, 404, 'the tenant itself answered the upgrade');
  t.match(
    await readJson(await platform.supervisor.api('GET', `/v1/tenants/${seg(user)}`)),
    { state: 'running', wakeCount: 2 },
    'woken by the WebSocket',
  );
});

t.test('a browser: platform sign-in → own tenant host → waiting page → app; origins kept apart', async (t) => {
  const key = randomBytes(32).toString('base64url');
  const platform = await startPlatform(t, {
    subdomainKey: key,
    supervisor: { TENANT_IMAGE: buildSlowStartImage(t) },
  });
  const user = 'origins-browser-user';
  const other = 'origins-other-user';
  const tenantOrigin = `http://${tenantLabel(key, user)}.localhost:${platform.port}`;
  const otherOrigin = `http://${tenantLabel(key, other)}.localhost:${platform.port}`;
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  const exchanges: string[] = [];
  page.on('request', (req) => {
    if (req.url().includes('/_tenancy/exchange')) exchanges.push(req.url());
  });

  await page.goto(`${platform.url}/`);
  t.equal(new URL(page.url()).pathname, '/auth/login', 'the platform asks for a sign-in');
  await page.fill('#user_id', user);
  await page.click('button[type=submit]');

  // On to the user's own host, where the waiting page follows the wake and then shows the app.
  await page.waitForSelector('progress#bar', { timeout: 15_000 });
  t.equal(new URL(page.url()).origin, tenantOrigin, 'the waiting page is on the tenant host');
  await page.waitForSelector('form#chat', { timeout: 45_000 });
  t.equal(new URL(page.url()).origin, tenantOrigin);
  t.equal(await page.title(), 'Your workspace');
  t.equal(exchanges.length, 1, 'entered through one code');

  // The tenant host holds its own cookie only; the platform's stays on the platform.
  const tenantCookies = await context.cookies(tenantOrigin);
  t.strictSame(
    tenantCookies.map((cookie) => [cookie.name, cookie.domain, cookie.httpOnly]),
    [['tenancy_tenant', new URL(tenantOrigin).hostname, true]],
    'the tenant host has its own, host-only cookie and no platform cookie',
  );
  t.strictSame(
    (await context.cookies(platform.url)).map((cookie) => cookie.name),
    ['tenancy_session'],
    'and the platform only its own',
  );
  // A tenant page cannot read the platform's routes: another origin, and no CORS.
  const read = await page.evaluate(async (url) => {
    try {
      const res = await fetch(`${url}/auth/session`, { credentials: 'include' });
      return `read ${res.status}`;
    } catch (err) {
      return `refused: ${(err as Error).name}`;
    }
  }, platform.url);
  t.equal(read, 'refused: TypeError', 'the browser keeps the platform’s answer from the tenant page');

  // The code cannot be used again.
  const replay = await context.newPage();
  const replayed = await replay.goto(exchanges[0] ?? '');
  t.equal(replayed?.status(), 403);
  t.match(await replay.textContent('body'), /GW_ERR_CODE_INVALID/);

  // Someone else's tenant host: refused, and their container is never started.
  const elsewhere = await replay.goto(`${otherOrigin}/`);
  t.equal(elsewhere?.status(), 403);
  t.match(await replay.textContent('body'), /GW_ERR_TENANT_FORBIDDEN/);
  const otherTenant = await platform.supervisor.api('GET', `/v1/tenants/${seg(other)}`);
  t.equal(otherTenant.status, 404, 'no tenant was made or woken for it');

  // Logging out on the platform ends the tenant host's session too.
  await replay.goto(`${platform.url}/auth/login`);
  const logout = await replay.evaluate(async () => (await fetch('/auth/logout', { method: 'POST' })).status);
  t.equal(logout, 200);
  await page.reload();
  t.equal(new URL(page.url()).origin, platform.url, 'the tenant host sends the browser back to the platform…');
  t.equal(new URL(page.url()).pathname, '/auth/login', '…which asks for a sign-in');
  t.strictSame(
    (await context.cookies(tenantOrigin)).map((cookie) => cookie.name),
    [],
    'the revoked tenant cookie was cleared',
  );
});

/** The tenant-origin cookie as curl keeps it in its jar (`name=value`). */
function tenantCookieOf(jar: string): string {
  const line = readFileSync(jar, 'utf8')
    .split('\n')
    .find((entry) => entry.includes('\ttenancy_tenant\t'));
  const fields = line?.split('\t') ?? [];
  return `${fields[5]}=${fields[6]}`;
}

/** The status a WebSocket upgrade through the edge gets (101, or the refusal's). */
function upgradeStatus(port: number, host: string, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/ws',
      headers: {
        host,
        cookie,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}
