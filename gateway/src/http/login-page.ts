/**
 * The sign-in page a browser is sent to when it has no session. What it does depends on
 * AUTH_MODE: in `dev` it asks for a user id and email (the seed's login body); in `access`
 * Cloudflare Access has already identified the user at the edge, so it signs in at once; in
 * `oidc` it offers the identity provider (a link to /auth/oidc/start, which the script completes
 * with `next`). Every way it then continues to the page that was asked for. `token` mode has no page: a trusted
 * backend signs users in. The script is served separately so the page works under a strict
 * Content-Security-Policy (no inline script).
 */
import type { GatewayConfig } from '../config.js';

/** Same-origin paths only: one leading slash, not followed by another slash or a backslash. */
export const SAME_ORIGIN_PATH = /^\/(?![/\\])[^\s]*$/;

/** The path to continue to after signing in, when `path` is a safe one; otherwise `/`. */
export function safeNext(path: string): string {
  return SAME_ORIGIN_PATH.test(path) && path.length <= 2048 ? path : '/';
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; display: grid; place-items: center; min-height: 100vh; margin: 0; background: #f6f7f9; color: #1d2330; }
  main { width: min(24rem, 90vw); }
  form { display: grid; gap: 0.75rem; }
  input, button, .button { font: inherit; padding: 0.5rem; }
  .button { display: inline-block; border: 1px solid #1d2330; border-radius: 4px; color: inherit; text-decoration: none; }
  #error { color: #b00020; }`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page for a login mode; undefined when the mode has no browser sign-in. */
export function loginPage(mode: GatewayConfig['AUTH_MODE'], providerName = 'your organisation'): string | undefined {
  if (mode === 'token') return undefined;
  const forms: Record<Exclude<GatewayConfig['AUTH_MODE'], 'token'>, string> = {
    dev: `<p>Development sign-in: anyone may choose any user id.</p>
  <form id="login">
    <label>User id <input id="user_id" name="user_id" required maxlength="128" autocomplete="username"></label>
    <label>Email <input id="email" name="email" type="email" maxlength="320" autocomplete="email"></label>
    <button type="submit">Sign in</button>
  </form>`,
    access: '<p id="status">Signing you in…</p>',
    oidc: `<p><a id="provider" class="button" href="/auth/oidc/start">Sign in with ${escapeHtml(providerName)}</a></p>`,
  };
  const form = forms[mode];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title>
<style>${STYLE}
</style>
</head>
<body>
<main data-mode="${mode}">
  <h1>Sign in</h1>
  ${form}
  <p id="error" hidden></p>
</main>
<script src="/auth/login.js"></script>
</body>
</html>
`;
}

export const LOGIN_SCRIPT = `(() => {
  const main = document.querySelector('main');
  const error = document.getElementById('error');
  const wanted = new URLSearchParams(location.search).get('next') || '/';
  const next = ${SAME_ORIGIN_PATH.toString()}.test(wanted) ? wanted : '/';
  const signIn = async (body) => {
    const res = await fetch('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.ok) { location.assign(next); return; }
    const problem = await res.json().catch(() => ({}));
    error.hidden = false;
    error.textContent = problem.message || 'sign-in failed (' + res.status + ')';
  };
  if (main.dataset.mode === 'access') { signIn({}); return; }
  if (main.dataset.mode === 'oidc') {
    document.getElementById('provider').href = '/auth/oidc/start?next=' + encodeURIComponent(next);
    return;
  }
  document.getElementById('login').addEventListener('submit', (event) => {
    event.preventDefault();
    const email = document.getElementById('email').value;
    signIn({ user_id: document.getElementById('user_id').value, ...(email ? { email } : {}) });
  });
})();
`;
