import { launchChromium } from '@tenancy/test-support/chromium';
import type { BrowserContext, Page } from 'playwright-core';
import t from 'tap';
import { errors } from '../../src/errors.js';
import { oidcGateway, problem } from '../oidc/setup.js';

/**
 * AUTH_MODE=oidc in a real Chromium against a real OpenID provider (oidc-provider): the sign-in
 * page, the provider's login form and the way back, as a person would click through them; and
 * the failures, each as the browser meets it.
 */

t.test('a browser signs in through the provider; every failure ends without a session', async (t) => {
  const { url, idp } = await oidcGateway(t, { OIDC_ALLOWED_DOMAINS: 'example.com', OIDC_PROVIDER_NAME: 'Example SSO' });
  const browser = await launchChromium();
  t.teardown(() => browser.close());

  /**
   * Opens /chat without a session and signs in as `account` through the provider's form. Returns
   * the page where it ended, the callback's status, its URL, and the transaction cookie the
   * browser held meanwhile.
   */
  const signIn = async (context: BrowserContext, account: string) => {
    const page = await context.newPage();
    await page.goto(`${url}/chat`);
    t.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/auth/login?next=%2Fchat');
    t.equal(await page.textContent('#provider'), 'Sign in with Example SSO');
    await page.click('#provider');
    await page.waitForSelector('#login');
    t.equal(new URL(page.url()).origin, idp.issuer, 'at the provider');
    const transaction = (await context.cookies(url)).find((cookie) => cookie.name === 'tenancy_oidc')?.value ?? '';
    await page.fill('#login', account);
    const callback = page.waitForResponse((res) => new URL(res.url()).pathname === '/auth/oidc/callback');
    await page.click('button[type=submit]');
    const response = await callback;
    await page.waitForLoadState('load');
    return { page, status: response.status(), callbackUrl: response.url(), transaction };
  };
  const bodyJson = async (page: Page) => JSON.parse((await page.locator('body').innerText()).trim());
  const hasSession = async (context: BrowserContext) =>
    (await context.cookies(url)).some((cookie) => cookie.name === 'tenancy_session');

  await t.test('sign in, and on to the page asked for', async (t) => {
    const context = await browser.newContext();
    t.teardown(() => context.close());
    const { page, status } = await signIn(context, 'alice');
    t.equal(status, 303);
    t.equal(new URL(page.url()).pathname, '/chat', 'back where the user was going');
    const echoed = await bodyJson(page);
    t.equal(echoed.headers['x-tenancy-user-id'], 'alice', 'the tenant sees the signed-in user');
    const cookies = await context.cookies(url);
    const session = cookies.find((cookie) => cookie.name === 'tenancy_session');
    t.match(session, { httpOnly: true, sameSite: 'Lax', path: '/' });
    t.notOk(
      cookies.some((cookie) => cookie.name === 'tenancy_oidc'),
      'the transaction cookie is gone',
    );
    const whoami = await page.evaluate(async () => (await fetch('/auth/session')).json());
    t.match(whoami, { user_id: 'alice', email: 'alice@example.com' });
  });

  await t.test('wrong state', async (t) => {
    const context = await browser.newContext();
    t.teardown(() => context.close());
    idp.setAlterAnswer((callback) => callback.searchParams.set('state', 'forged-state'));
    const { page, status } = await signIn(context, 'alice');
    idp.setAlterAnswer(undefined);
    t.strictSame([status, await bodyJson(page)], [400, problem(errors.oidcStateMismatch, 'Bad Request')]);
    t.notOk(await hasSession(context));
  });

  await t.test('replayed code', async (t) => {
    const victim = await browser.newContext();
    t.teardown(() => victim.close());
    const first = await signIn(victim, 'alice');
    t.equal(first.status, 303);
    t.ok(first.transaction, 'the browser presented its transaction at the callback');
    // Another browser with the same callback URL and even the same transaction cookie.
    const attacker = await browser.newContext();
    t.teardown(() => attacker.close());
    await attacker.addCookies([{ name: 'tenancy_oidc', value: first.transaction, url }]);
    const page = await attacker.newPage();
    const res = await page.goto(first.callbackUrl);
    t.strictSame([res?.status(), await bodyJson(page)], [401, problem(errors.oidcCodeRejected, 'Unauthorized')]);
    t.notOk(await hasSession(attacker));
  });

  await t.test('wrong audience and expired ID tokens', async (t) => {
    const now = Math.floor(Date.now() / 1000);
    for (const [what, change] of [
      ['wrong audience', (c: Record<string, unknown>) => ({ ...c, aud: 'someone-else' })],
      ['expired', (c: Record<string, unknown>) => ({ ...c, iat: now - 900, exp: now - 600 })],
    ] as const) {
      idp.setTamper((idToken) => idp.resign(idToken, change));
      const context = await browser.newContext();
      t.teardown(() => context.close());
      const { page, status } = await signIn(context, 'alice');
      t.strictSame([status, await bodyJson(page)], [401, problem(errors.oidcIdTokenInvalid, 'Unauthorized')], what);
      t.notOk(await hasSession(context), `${what}: no session`);
    }
    idp.setTamper(undefined);
  });

  await t.test('key rotation', async (t) => {
    const before = idp.stats.jwksFetches;
    await idp.rotate();
    const context = await browser.newContext();
    t.teardown(() => context.close());
    const { page, status } = await signIn(context, 'alice');
    t.equal(status, 303, 'signed in with a token under the new key');
    t.equal(new URL(page.url()).pathname, '/chat');
    t.equal(idp.stats.jwksFetches, before + 1, 'the gateway fetched the new key');
  });

  await t.test('a disallowed domain', async (t) => {
    const context = await browser.newContext();
    t.teardown(() => context.close());
    const { page, status } = await signIn(context, 'eve');
    t.strictSame([status, await bodyJson(page)], [403, problem(errors.oidcDomainNotAllowed, 'Forbidden')]);
    t.notOk(await hasSession(context));
  });
});
