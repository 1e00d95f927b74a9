/**
 * The browser page for a user's personal API keys (`GET /auth/keys`): make one (its key shown
 * once), list them, revoke one, all through the JSON API of api-key-routes.ts with the session
 * cookie. Static: the script asks for the list, and offers the sign-in page when there is no
 * session. Data goes into the page as text only (never as HTML), and the script is served
 * separately so the page works under the strict PAGE_POLICY (no inline script).
 */

export const API_KEYS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API keys</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; width: min(48rem, 92vw); background: #f6f7f9; color: #1d2330; }
  form { display: flex; gap: 0.5rem; flex-wrap: wrap; align-items: end; }
  input, select, button { font: inherit; padding: 0.4rem; }
  table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
  th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #d5d8de; }
  code { word-break: break-all; background: #fff; padding: 0.5rem; display: block; border: 1px solid #d5d8de; }
  #error { color: #b00020; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<main>
  <h1>API keys</h1>
  <p>A key lets a script reach your own container without a browser:
    <code>curl -H "Authorization: Bearer tny_…" …</code></p>
  <p id="signin" hidden>Sign in first: <a id="signin-link" href="/auth/login?next=%2Fauth%2Fkeys">sign in</a>.</p>
  <form id="create" hidden>
    <label>Name <input id="name" required maxlength="64" placeholder="laptop"></label>
    <label>Expires <select id="expires">
      <option value="">never</option>
      <option value="2592000">in 30 days</option>
      <option value="7776000" selected>in 90 days</option>
      <option value="31536000">in a year</option>
    </select></label>
    <button type="submit">Create key</button>
  </form>
  <div id="created" hidden>
    <p>Your new key, shown this once: copy it now.</p>
    <code id="created-key"></code>
  </div>
  <p id="error" hidden></p>
  <table id="keys" hidden>
    <thead><tr><th>Name</th><th>Created</th><th>Expires</th><th>Last used</th><th></th></tr></thead>
    <tbody></tbody>
  </table>
</main>
<script src="/auth/keys.js"></script>
</body>
</html>
`;

export const API_KEYS_SCRIPT = `(() => {
  const $ = (id) => document.getElementById(id);
  const day = (iso) => (iso ? iso.slice(0, 16).replace('T', ' ') : '');
  const fail = async (res) => {
    const problem = await res.json().catch(() => ({}));
    $('error').hidden = false;
    $('error').textContent = problem.message || 'failed (' + res.status + ')';
  };
  const cell = (row, text) => { const td = row.insertCell(); td.textContent = text; return td; };
  const load = async () => {
    const res = await fetch('/auth/api-keys');
    if (res.status === 401) { $('signin').hidden = false; return; }
    if (!res.ok) return fail(res);
    $('create').hidden = false;
    const { items } = await res.json();
    const body = $('keys').tBodies[0];
    body.replaceChildren();
    for (const key of items) {
      const row = body.insertRow();
      cell(row, key.name);
      cell(row, day(key.created_at));
      cell(row, key.expires_at ? day(key.expires_at) : 'never');
      cell(row, key.last_used_at ? day(key.last_used_at) : 'never');
      const action = row.insertCell();
      if (key.revoked_at) { action.textContent = 'revoked ' + day(key.revoked_at); continue; }
      const revoke = document.createElement('button');
      revoke.textContent = 'Revoke';
      revoke.addEventListener('click', async () => {
        const res = await fetch('/auth/api-keys/' + encodeURIComponent(key.id), { method: 'DELETE' });
        if (!res.ok) return fail(res);
        load();
      });
      action.append(revoke);
    }
    $('keys').hidden = items.length === 0;
  };
  $('create').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('error').hidden = true;
    const expires = $('expires').value;
    const res = await fetch('/auth/api-keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: $('name').value, ...(expires ? { expires_in_seconds: Number(expires) } : {}) }),
    });
    if (!res.ok) return fail(res);
    const created = await res.json();
    $('created').hidden = false;
    $('created-key').textContent = created.key;
    $('name').value = '';
    load();
  });
  load();
})();
`;
