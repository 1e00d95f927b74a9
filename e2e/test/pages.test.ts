import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tarEntryNames } from '@tenancy/test-support/archive';
import { launchChromium } from '@tenancy/test-support/chromium';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import t from 'tap';
import { startPlatform } from './platform.js';

/** Screenshots land here (ignored by git), so a person can look at what the browser saw. */
const ARTIFACTS = join(import.meta.dirname, '../../artifacts/e2e');

/** Script errors of a page (failed resource loads, such as a 401 favicon, do not count). */
function watchErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(message.text());
    }
  });
  return problems;
}

t.test('the workspace page and the admin console in Chromium through nginx', async (t) => {
  // A short idle timeout and a fast reaper: the pre-sleep warning comes within a test's time.
  // The inactivity policy is on, to show its warning in the console (the admin test below).
  const platform = await startPlatform(t, {
    supervisor: { IDLE_TIMEOUT: '40s', REAPER_INTERVAL: '1s', INACTIVE_TENANT_DAYS: '30' },
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const userId = `pages-${process.pid}`;

  await t.test('a user sees the countdown, keeps awake, is warned before sleep, and stops', async (t) => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const problems = watchErrors(page);
    // Signed out: the workspace page goes to the sign-in page, which comes back to it.
    await page.goto(`${platform.url}/_tenancy/workspace`);
    t.equal(new URL(page.url()).pathname, '/auth/login');
    await page.fill('#user_id', userId);
    await page.fill('#email', 'pages@example.com');
    await page.click('button[type=submit]');
    await page.waitForURL(`${platform.url}/_tenancy/workspace`);
    t.equal(await page.title(), 'My workspace');
    // The sign-in started the wake: the page follows it until the container runs.
    await page.locator('#state', { hasText: 'running' }).waitFor({ timeout: 45_000 });
    await page.waitForFunction(() => /^\d+:\d\d$/.test(document.getElementById('countdown')?.textContent ?? ''));
    t.match(await page.textContent('#user'), `${userId} (pages@example.com)`);
    await page.screenshot({ path: join(ARTIFACTS, 'workspace.png') });

    // The user works in another tab; the workspace tab's title warns shortly before the sleep.
    const other = await context.newPage();
    await other.goto('about:blank');
    await other.bringToFront();
    await page.waitForFunction(() => document.title.startsWith('Sleeping in '), undefined, { timeout: 60_000 });
    t.equal(await page.isVisible('#warning'), true, 'the warning banner shows too');
    await page.bringToFront();
    await page.screenshot({ path: join(ARTIFACTS, 'workspace-warning.png') });

    // Keep awake: the deadline moves a full idle timeout ahead and the warning goes away.
    await page.click('#keep-awake');
    await page.waitForFunction(() => document.title === 'My workspace');
    await page.locator('#status', { hasText: 'Kept awake until' }).waitFor();
    t.equal(await page.isVisible('#warning'), false);
    const left = await page.textContent('#countdown');
    const seconds = Number(left?.split(':')[0]) * 60 + Number(left?.split(':')[1]);
    t.ok(seconds > 30, `the countdown restarted (${left})`);

    // Stop now.
    await page.click('#stop');
    await page.locator('#status', { hasText: 'Your container is stopped' }).waitFor({ timeout: 30_000 });
    t.match(await page.textContent('#state'), /asleep/);
    t.equal(await page.textContent('#countdown'), '—');
    t.same(problems, [], 'no script errors');
  });

  await t.test(
    'a user exports their data (the archive holds their history), asks for deletion, and cancels it',
    async (t) => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
      t.teardown(() => context.close());
      const page = await context.newPage();
      const problems = watchErrors(page);
      const dataUser = `pages-data-${process.pid}`;
      const signIn = async () => {
        await page.goto(`${platform.url}/_tenancy/workspace`);
        await page.fill('#user_id', dataUser);
        await page.click('button[type=submit]');
        await page.waitForURL(`${platform.url}/_tenancy/workspace`);
      };
      await signIn();
      await page.locator('#state', { hasText: 'running' }).waitFor({ timeout: 45_000 });
      const chat = await page.evaluate(async () => {
        const res = await fetch('/chat', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ message: 'for the archive' }),
        });
        return res.status;
      });
      t.equal(chat, 200, 'a message in the history');

      const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href="/auth/export"]')]);
      t.match(download.suggestedFilename(), /^tenancy-export-\d{4}-\d{2}-\d{2}\.tar$/);
      const names = await tarEntryNames(readFileSync(await download.path()));
      t.ok(names.includes('tenancy-export/account.json'), 'the archive opens and holds the platform record');
      t.ok(
        names.some((name) => name.startsWith('tenancy-export/volumes/history/') && !name.endsWith('/')),
        `and the history (${names.join(', ')})`,
      );

      // Deletion asks for the user id first; then the account is refused until it is cancelled.
      page.once('dialog', (dialog) => void dialog.accept(dataUser));
      await page.click('#delete-account');
      await page.locator('#account-status', { hasText: 'Deletion requested' }).waitFor();
      await page.screenshot({ path: join(ARTIFACTS, 'workspace-deletion.png') });
      const session = await page.evaluate(async () => (await fetch('/auth/session')).status);
      t.equal(session, 401, 'signed out at once');

      await signIn();
      await page.click('#restore-account');
      await page.locator('#account-status', { hasText: 'Deletion cancelled.' }).waitFor();
      const warmup = await page.evaluate(async () => (await fetch('/warmup', { method: 'POST' })).status);
      t.equal(warmup, 200, 'the account works again');
      t.same(problems, [], 'no script errors');
    },
  );

  await t.test('an admin signs in, finds the user, reads logs, wakes and sleeps the tenant, deletes it', async (t) => {
    const context = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const problems = watchErrors(page);
    // The user was last seen 24 days ago, as far as the supervisor knows: the inactivity policy
    // (30 days, warned 7 before) warns them at its next sweep.
    const db = new Database(platform.supervisor.databasePath);
    db.pragma('busy_timeout = 5000');
    db.prepare('UPDATE users SET last_login_at = ? WHERE user_id = ?').run(Date.now() - 24 * 24 * 3600_000, userId);
    db.close();
    for (;;) {
      const tenant = await (await platform.supervisor.api('GET', `/v1/tenants/${encodeURIComponent(userId)}`)).json();
      if ((tenant as { inactiveWarning: unknown }).inactiveWarning) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await page.goto(`${platform.url}/_tenancy/admin`);
    t.equal(new URL(page.url()).pathname, '/_tenancy/admin/login');
    // The keyboard reaches the field first (after the skip link), and it has a label.
    await page.getByLabel(/Admin token/).fill(platform.supervisor.adminToken);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${platform.url}/_tenancy/admin`);
    t.equal(await page.textContent('#actor'), 'bootstrap');
    t.notOk(page.url().includes(platform.supervisor.adminToken), 'the token is in no URL');
    t.notOk((await page.content()).includes(platform.supervisor.adminToken), 'nor in the page');
    t.same(
      (await context.cookies())
        .filter((cookie) => cookie.name === 'tenancy_admin')
        .map((c) => [c.httpOnly, c.sameSite]),
      [[true, 'Strict']],
    );

    // Find the user.
    await page.fill('#q', userId.slice(0, 12));
    await page.click('#search button[type=submit]');
    const link = page.locator('#tenants a', { hasText: userId });
    await link.waitFor();
    await page
      .locator('#tenants .mark-account', { hasText: /^Inactive: deletion on .+ unless they sign in$/ })
      .waitFor();
    await page.locator('#capacity .tile').first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'admin-console.png') });
    await link.click();
    await page.waitForURL(`${platform.url}/_tenancy/admin/tenants/${userId}`);
    const state = (name: string) => page.locator('#overview .state', { hasText: name }).waitFor({ timeout: 60_000 });
    await state('asleep');
    await page.locator('#overview .mark-account', { hasText: 'Inactive: deletion on' }).waitFor();

    // Wake it, read its log, sleep it, wake it again.
    await page.click('button[data-action=start]');
    await state('running');
    await page.click('#reload-logs');
    await page.waitForFunction(() => (document.getElementById('logs')?.textContent ?? '').includes('listening'));
    await page.click('button[data-action=pause]');
    await state('paused');
    await page.click('button[data-action=start]');
    await state('running');
    await page.locator('#audit td', { hasText: 'tenant.pause' }).first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'admin-tenant.png'), fullPage: true });

    // Delete: the button stays disabled until the user id is typed.
    t.equal(await page.isDisabled('#delete-button'), true);
    await page.fill('#confirm', userId);
    await page.click('#delete-button');
    await page.waitForURL(/\/_tenancy\/admin\?deleted=/);
    await page.locator('#status', { hasText: `Tenant ${userId} deleted.` }).waitFor();
    await page.fill('#q', userId);
    await page.click('#search button[type=submit]');
    await page.locator('#tenants td', { hasText: 'No tenants match.' }).waitFor();

    // The audit log, filtered to the user: every action above, by the admin that made it.
    await page.click('nav >> text=Audit log');
    await page.fill('#target', userId);
    await page.click('#filters button[type=submit]');
    await page.locator('#audit td', { hasText: 'tenant.delete' }).first().waitFor();
    const actors = await page.$$eval('#audit tr', (rows) =>
      rows.map((row) => [row.children[2]?.textContent, row.children[3]?.textContent]),
    );
    t.ok(
      actors.some(([actor, action]) => actor === 'bootstrap' && action === 'tenant.pause'),
      'the sleep is audited under the admin',
    );
    await page.screenshot({ path: join(ARTIFACTS, 'admin-audit.png'), fullPage: true });
    t.same(problems, [], 'no script errors');
  });
});
