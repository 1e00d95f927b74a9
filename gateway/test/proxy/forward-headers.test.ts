import t from 'tap';
import { forwardHeaders, isBlockedHeader, isPlatformCookie } from '../../src/proxy/forward-headers.js';
import { sessionCookie } from '../../src/session/cookie.js';

const identity = { userId: 'alice', email: null, plan: 'free', tenantSecret: 'secret-1', requestId: 'req-1' };

t.test('platform and edge cookies are recognised; the tenant keeps its own', async (t) => {
  const rows: [name: string, platform: boolean][] = [
    ['tenancy_session', true],
    ['__Host-tenancy_session', true],
    ['__Secure-tenancy_session', true],
    ['TENANCY_SESSION', true],
    ['tenancy_anything_later', true],
    ['CF_Authorization', true],
    ['cf_authorization', true],
    ['CF_AppSession', true],
    ['CF_Binding', true],
    ['cf_clearance', true],
    ['cf_ob_info', true],
    ['cf_chl_rc_m', true],
    ['__cf_bm', true],
    ['__cflb', true],
    ['__cfruid', true],
    ['__cfwaitingroom', true],
    ['_cfuvid', true],
    [' CF_Authorization', true],
    ['theme', false],
    ['session', false],
    ['sid', false],
    ['cfg', false],
    ['_cfuvid_mine', false],
    ['my_tenancy', false],
    ['__Host-app', false],
    ['', false],
  ];
  for (const [name, platform] of rows) t.equal(isPlatformCookie(name), platform, JSON.stringify(name));
  for (const base of ['http://localhost:8080', 'https://tenancy.example.com']) {
    const { name } = sessionCookie(base);
    t.ok(isPlatformCookie(name), `the session cookie over ${base} (${name}) is a platform cookie`);
  }
});

t.test('the Cookie header a tenant receives keeps only the tenant’s cookies, in order', async (t) => {
  const rows: [incoming: string | string[], forwarded: string | undefined][] = [
    ['tenancy_session=jwt', undefined],
    ['tenancy_session=jwt; theme=dark', 'theme=dark'],
    ['theme=dark; CF_Authorization=eyJ.access.jwt; lang=en', 'theme=dark; lang=en'],
    ['__cf_bm=x;cf_clearance=y;_cfuvid=z;CF_AppSession=a;CF_Binding=b', undefined],
    ['a=1; __Host-tenancy_session=jwt; b=2', 'a=1; b=2'],
    [['a=1', 'CF_Authorization=jwt', 'b=2'], 'a=1; b=2'],
    ['flag; tenancy_session', 'flag'],
    ['', undefined],
  ];
  for (const [incoming, forwarded] of rows) {
    const out = forwardHeaders({ cookie: incoming }, identity, { platformCredentials: [] });
    t.equal(out.cookie, forwarded, JSON.stringify(incoming));
  }
});

t.test('Cloudflare Access headers are the edge’s, never the tenant’s', async (t) => {
  const rows: [name: string, blocked: boolean][] = [
    ['Cf-Access-Jwt-Assertion', true],
    ['cf-access-client-id', true],
    ['CF-Access-Client-Secret', true],
    ['cf-access-token', true],
    ['Cf-Access-Authenticated-User-Email', true],
    ['cf_access_client_secret', true],
    ['cf-ray', false],
    ['accept', false],
  ];
  for (const [name, blocked] of rows) t.equal(isBlockedHeader(name), blocked, name);
});

t.test('Authorization passes unless it carries a platform credential', async (t) => {
  const rows: [value: string, forwarded: boolean][] = [
    ['Bearer tenant-own-token', true],
    ['Bearer login-token-123', false],
    ['Bearer session.jwt.value', false],
    // A personal API key is the platform's even when it is not the credential the request used.
    [`Bearer tny_${'A'.repeat(61)}`, false],
    [`token tny_${'A'.repeat(61)}`, false],
    ['Bearer stny_not-ours', true],
  ];
  for (const [value, forwarded] of rows) {
    const out = forwardHeaders({ authorization: value }, identity, {
      platformCredentials: ['login-token-123', 'session.jwt.value'],
    });
    t.equal(out.authorization, forwarded ? value : undefined, value);
  }
});
