import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '@tenancy/test-support/chromium';
import t from 'tap';
import { startPlatform } from './platform.js';
import { buildSlowStartImage } from './slow-image.js';

/** Screenshots land here (ignored by git), so a person can look at what the browser saw. */
const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');

t.test('a browser signs in, watches the waiting page, and chats in its own container', async (t) => {
  const platform = await startPlatform(t, { supervisor: { TENANT_IMAGE: buildSlowStartImage(t) } });
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  // Failed resource loads are logged as console errors too; the waiting page itself is a 503 and
  // an unauthenticated favicon a 401 by design, so only script errors count.
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(message.text());
    }
  });

  // Without a session, the page load goes to the sign-in page and remembers where it was going.
  await page.goto(`${platform.url}/`);
  t.match(new URL(page.url()).pathname + new URL(page.url()).search, '/auth/login?next=%2F');
  await page.fill('#user_id', 'browser-user');
  await page.fill('#email', 'browser@example.com');
  await page.click('button[type=submit]');

  // Signing in starts the wake; the page asked for shows live progress meanwhile.
  await page.waitForSelector('progress#bar', { timeout: 10_000 });
  t.equal(await page.title(), 'Starting your workspace…');
  await page.waitForFunction(() => Number((document.getElementById('bar') as HTMLProgressElement).value) > 0, {
    timeout: 10_000,
  });
  const status = await page.textContent('#status');
  t.ok(status && status !== 'waking your container', `progress reported: ${status}`);
  await page.screenshot({ path: join(ARTIFACTS, 'waiting-page.png') });

  // When the container is ready the page continues by itself to the tenant's own chat page.
  await page.waitForSelector('form#chat', { timeout: 45_000 });
  t.equal(await page.title(), 'Your workspace');
  await page.fill('#message', 'Hello!');
  await page.click('form#chat button');
  const reply = page.locator('#log li.assistant').last();
  await reply.filter({ hasText: 'Your private container is awake' }).waitFor({ timeout: 15_000 });
  t.equal(
    await reply.textContent(),
    'Hello! Your private container is awake and listening. Type "help" to see what I can do.',
  );
  await page.screenshot({ path: join(ARTIFACTS, 'chat-page.png') });
  t.same(problems, [], 'no script errors in the pages');
});
