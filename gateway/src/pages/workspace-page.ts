import { page } from './html.js';

/** Where the pages link for what other parts of the platform serve. */
export const DATA_LINKS = {
  apiKeys: '/auth/api-keys',
  export: '/auth/export',
  deleteAccount: '/auth/account/delete',
  restoreAccount: '/auth/account/restore',
} as const;

/**
 * "My workspace" (/_tenancy/workspace): the container's state and wake progress, the time left
 * before it sleeps with a keep-awake button and a warning shortly before, stop now, and the
 * user's data. Static markup: the script (workspace-script.ts) fills it from /auth/session.
 * `tenantUrl` is where the user's app is: `/` on this origin, or `/auth/tenant` (which leads to
 * the tenant's own host) in subdomain mode.
 */
export function workspacePage(tenantUrl: string): string {
  return page({
    title: 'My workspace',
    script: '/_tenancy/workspace.js',
    nav: [
      [tenantUrl, 'Open my app'],
      ['/_tenancy/workspace', 'My workspace'],
    ],
    data: { 'tenant-url': tenantUrl },
    body: `<h1>My workspace</h1>
<p class="muted">Signed in as <span id="user">…</span></p>
<p id="status" role="status" aria-live="polite"></p>
<section id="warning" class="warning" role="alert" hidden>
  <h2>Your workspace goes to sleep soon</h2>
  <p id="warning-text"></p>
</section>
<section aria-labelledby="container-heading">
  <h2 id="container-heading">Container</h2>
  <dl>
    <dt>State</dt><dd><span id="state" class="state">…</span></dd>
  </dl>
  <div id="wake-progress" hidden>
    <label for="bar">Waking</label>
    <progress id="bar" max="100" value="0"></progress>
    <p id="wake-status" class="muted"></p>
  </div>
  <p id="wake-error" class="error" hidden></p>
  <div class="actions">
    <a id="open" href="${tenantUrl}">Open my app</a>
    <button id="wake" type="button" hidden>Wake it now</button>
    <button id="stop" type="button" class="danger" disabled>Stop now</button>
  </div>
</section>
<section aria-labelledby="idle-heading">
  <h2 id="idle-heading">Time left before it sleeps</h2>
  <p class="big" id="countdown">—</p>
  <p id="deadline" class="muted"></p>
  <div class="actions">
    <button id="keep-awake" type="button" class="primary" disabled>Keep awake</button>
    <button id="notify" type="button" hidden>Notify me before it sleeps</button>
  </div>
  <p class="muted">Using your app keeps it awake. This page does not: leave it open in a tab and its title warns you shortly before the container sleeps.</p>
</section>
<section aria-labelledby="data-heading">
  <h2 id="data-heading">Your data</h2>
  <ul>
    <li><a href="${DATA_LINKS.apiKeys}">API keys</a></li>
    <li><a href="${DATA_LINKS.export}" download>Export my data</a> (one archive of everything your container holds)</li>
  </ul>
  <div class="actions">
    <button id="delete-account" type="button" class="danger">Delete my account…</button>
    <button id="restore-account" type="button">Cancel a requested deletion</button>
  </div>
  <p id="account-status" role="status" aria-live="polite"></p>
</section>`,
  });
}
