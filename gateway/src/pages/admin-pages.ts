import { escapeHtml, page } from './html.js';

/** The console's pages share one script (admin-script.ts); `data-page` says which one it drives. */
const SCRIPT = '/_tenancy/admin.js';
const NAV = [
  ['/_tenancy/admin', 'Tenants'],
  ['/_tenancy/admin/audit', 'Audit log'],
] as const;

/**
 * The console's sign-in: a plain form that posts the token to the gateway, which checks it with
 * the supervisor and keeps it server-side. No script runs on this page, so none can read the
 * field, and the token never goes into a URL (POST body only).
 */
export function adminSignInPage(message?: string): string {
  return page({
    title: 'Admin sign-in',
    body: `<h1>Admin sign-in</h1>
<section>
  <form method="post" action="/_tenancy/admin/login">
    <label for="token">Admin token (ADMIN_TOKEN or a named <code>tnya_…</code> token)</label>
    <input id="token" name="token" type="password" required maxlength="512" autocomplete="off" spellcheck="false">
    <p><button type="submit" class="primary">Sign in</button></p>
  </form>
  ${message ? `<p id="error" class="error" role="alert">${escapeHtml(message)}</p>` : ''}
  <p class="muted">The token stays on the server for this browser session (15 minutes without use, 8 hours at most).</p>
</section>`,
  });
}

const signOut = (actor: string) => `<form class="inline" method="post" action="/_tenancy/admin/logout">
  <span class="muted">Signed in as <b id="actor">${escapeHtml(actor)}</b></span>
  <button type="submit">Sign out</button>
</form>`;

/** Capacity at a glance and the tenants table. */
export function adminConsolePage(actor: string): string {
  return page({
    title: 'Admin console',
    script: SCRIPT,
    nav: NAV,
    data: { page: 'tenants' },
    body: `<h1>Admin console</h1>
${signOut(actor)}
<p id="status" role="status" aria-live="polite"></p>
<section aria-labelledby="capacity-heading">
  <h2 id="capacity-heading">Capacity</h2>
  <div id="capacity" class="tiles"></div>
</section>
<section aria-labelledby="tenants-heading">
  <h2 id="tenants-heading">Tenants</h2>
  <form id="search" class="inline" role="search">
    <label for="q">User id contains <input id="q" name="q" type="search" maxlength="200"></label>
    <label for="state">State
      <select id="state" name="state">
        <option value="">any</option>
        <option>running</option><option>waking</option><option>paused</option>
        <option>asleep</option><option>stopping</option><option>failed</option>
      </select>
    </label>
    <button type="submit">Search</button>
  </form>
  <table>
    <caption class="muted" id="updated">Loading…</caption>
    <thead><tr><th scope="col">User</th><th scope="col">State</th><th scope="col">Plan</th><th scope="col">Last activity</th><th scope="col">Idle deadline</th><th scope="col">Last wake</th><th scope="col">Failures</th></tr></thead>
    <tbody id="tenants"></tbody>
  </table>
  <div class="actions">
    <button id="first" type="button">First page</button>
    <button id="next" type="button">Next page</button>
  </div>
</section>`,
  });
}

/** One tenant: what it is, its actions, usage and disk, log tail and audit entries. */
export function adminTenantPage(actor: string, userId: string): string {
  return page({
    title: `Tenant ${userId}`,
    script: SCRIPT,
    nav: NAV,
    data: { page: 'tenant', 'user-id': userId },
    body: `<h1>Tenant <span id="user-id">${escapeHtml(userId)}</span></h1>
${signOut(actor)}
<p id="status" role="status" aria-live="polite"></p>
<section aria-labelledby="overview-heading">
  <h2 id="overview-heading">Overview</h2>
  <dl id="overview"></dl>
</section>
<section aria-labelledby="actions-heading">
  <h2 id="actions-heading">Actions</h2>
  <div class="actions">
    <button type="button" data-action="start" class="primary">Wake</button>
    <button type="button" data-action="pause">Sleep (pause)</button>
    <button type="button" data-action="stop">Stop</button>
    <button type="button" data-action="disable" class="danger">Disable user</button>
    <button type="button" data-action="enable">Enable user</button>
  </div>
  <form id="delete" class="inline">
    <label for="confirm">Type the user id to delete this tenant, its container and volumes
      <input id="confirm" type="text" autocomplete="off" spellcheck="false">
    </label>
    <button id="delete-button" type="submit" class="danger" disabled>Delete tenant</button>
  </form>
</section>
<section aria-labelledby="usage-heading">
  <h2 id="usage-heading">Usage and disk</h2>
  <dl id="usage"></dl>
</section>
<section aria-labelledby="logs-heading">
  <h2 id="logs-heading">Log tail</h2>
  <div class="actions"><button id="reload-logs" type="button">Reload logs</button></div>
  <pre id="logs" tabindex="0" aria-label="Container log, last 200 lines"></pre>
</section>
<section aria-labelledby="audit-heading">
  <h2 id="audit-heading">Audit entries</h2>
  <table>
    <thead><tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Result</th><th scope="col">Detail</th></tr></thead>
    <tbody id="audit"></tbody>
  </table>
</section>`,
  });
}

/** The audit log with filters. */
export function adminAuditPage(actor: string): string {
  return page({
    title: 'Audit log',
    script: SCRIPT,
    nav: NAV,
    data: { page: 'audit' },
    body: `<h1>Audit log</h1>
${signOut(actor)}
<p id="status" role="status" aria-live="polite"></p>
<section>
  <form id="filters" class="inline" role="search">
    <label for="target">Target (user id) <input id="target" name="target" maxlength="200"></label>
    <label for="action">Action <input id="action" name="action" maxlength="64" placeholder="tenant.stop"></label>
    <button type="submit">Filter</button>
  </form>
  <table>
    <caption class="muted" id="updated">Loading…</caption>
    <thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Result</th><th scope="col">Detail</th></tr></thead>
    <tbody id="audit"></tbody>
  </table>
  <div class="actions">
    <button id="newest" type="button">Newest</button>
    <button id="older" type="button">Older</button>
  </div>
</section>`,
  });
}
