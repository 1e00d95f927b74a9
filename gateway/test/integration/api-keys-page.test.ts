import { readJson, startRedisServer, startSupervisor } from '@tenancy/test-support';
import { launchChromium } from '@tenancy/test-support/chromium';
import t from 'tap';
import { createSupervisorClient } from '../../src/supervisor/client.js';
import { startGateway } from '../harness.js';

/** The API keys page in a real Chromium, against a real supervisor: sign in, make a key, revoke it. */
t.test('a user makes a key on the page, sees it once, and revokes it', async (t) => {
  const supervisor = await startSupervisor(t);
  const redis = await startRedisServer(t);
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: createSupervisorClient(supervisor.url, supervisor.internalToken),
  });
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    // The 401 of the list before signing in is expected; anything else is a problem.
    if (message.type() === 'error' && !/status of 401/.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));

  await page.goto(`${gw.url}/auth/keys`);
  await page.locator('#signin').waitFor();
  t.ok(await page.locator('#create').isHidden(), 'no form without a session');
  await page.click('#signin-link');
  await page.fill('#user_id', 'page-user');
  await page.click('button[type=submit]');
  await page.waitForURL(`${gw.url}/auth/keys`);

  await page.locator('#create').waitFor();
  await page.fill('#name', 'laptop');
  await page.selectOption('#expires', '');
  await page.click('#create button');
  await page.locator('#created-key').waitFor();
  const key = await page.locator('#created-key').textContent();
  t.match(key, /^tny_[0-9A-Za-z]{61}$/, 'the key, shown once');
  await page.locator('#keys tbody tr').first().waitFor();
  t.match(
    await page.locator('#keys tbody tr').first().innerText(),
    /laptop\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+never\s+never\s+Revoke/,
  );

  const listed = await readJson(await supervisor.api('GET', '/v1/api-keys?userId=page-user'));
  t.match(listed.items, [{ name: 'laptop', userId: 'page-user', expiresAt: null, revokedAt: null }]);
  t.equal(key?.slice(4, 16), listed.items[0].id);

  await page.click('#keys tbody tr button');
  await page.locator('#keys tbody tr td', { hasText: 'revoked' }).waitFor();
  const after = await readJson(await supervisor.api('GET', '/v1/api-keys?userId=page-user'));
  t.match(after.items, [{ revokedBy: 'self' }]);
  t.strictSame(problems, [], 'no script error, nothing the page policy refused');
});
