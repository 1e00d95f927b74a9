/**
 * The frame every platform page shares (workspace, admin console): one stylesheet and the page's
 * own script, both served by the gateway under /_tenancy/, so the pages need no inline script
 * or style (see PAGES_POLICY). The markup is plain: a skip link, landmarks, labelled controls and
 * a polite live region for what changes, so keyboards and screen readers get the basics.
 */

/** Everything `text` could use to break out of an element or an attribute, as character references. */
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The Content-Security-Policy of the pages under /_tenancy/: scripts and styles from the gateway
 * only (no inline script or style), requests to this origin only, no framing, forms post here
 * only. Stricter than the sign-in page's (which keeps an inline style).
 */
export const PAGES_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export interface PageOptions {
  title: string;
  /** The page's main content (already escaped). */
  body: string;
  /** The page's script under /_tenancy/, if any. */
  script?: string;
  /** Navigation links shown in the header: [href, label]. */
  nav?: readonly (readonly [string, string])[];
  /** data-* attributes of <main> that the script reads (values are escaped here). */
  data?: Record<string, string>;
}

export function page({ title, body, script, nav = [], data = {} }: PageOptions): string {
  const links = nav.map(([href, label]) => `<a href="${escapeHtml(href)}">${escapeHtml(label)}</a>`).join('\n    ');
  const attributes = Object.entries(data)
    .map(([name, value]) => ` data-${name}="${escapeHtml(value)}"`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/_tenancy/pages.css">
${script ? `<script src="${escapeHtml(script)}" defer></script>\n` : ''}</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <span class="brand">Tenancy</span>
  <nav aria-label="Platform">
    ${links}
  </nav>
</header>
<main id="main" tabindex="-1"${attributes}>
${body}
</main>
</body>
</html>
`;
}
