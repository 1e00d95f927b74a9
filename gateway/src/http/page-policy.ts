/**
 * The Content-Security-Policy of the pages the gateway writes itself (the sign-in page, the
 * waiting page): their scripts come from their own origin (no inline script), their styles are
 * inline, they talk to their own origin only, and no other origin may frame them. nginx's
 * `frame-ancestors 'self'` applies on top. A tenant's own pages are not touched.
 */
export const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";
