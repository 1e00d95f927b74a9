import t from 'tap';
import { isCrossSite } from '../../src/http/cross-site.js';

const ORIGIN = 'https://tenancy.example.com';

t.test('which requests count as cross-site', async (t) => {
  const rows: [headers: Record<string, string>, crossSite: boolean, why: string][] = [
    [{}, false, 'neither header: curl or a backend'],
    [{ 'sec-fetch-site': 'same-origin' }, false, 'the browser says same origin'],
    [{ 'sec-fetch-site': 'none' }, false, 'typed or bookmarked'],
    [{ 'sec-fetch-site': 'cross-site' }, true, 'another site'],
    [{ 'sec-fetch-site': 'same-site' }, true, 'a sibling subdomain is not our origin'],
    [{ 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:8080' }, false, 'Sec-Fetch-Site decides'],
    [{ 'sec-fetch-site': 'cross-site', origin: ORIGIN }, true, 'Sec-Fetch-Site decides, both ways'],
    [{ origin: ORIGIN }, false, 'older browser, our origin'],
    [{ origin: 'https://evil.example' }, true, 'older browser, another origin'],
    [{ origin: 'https://sub.tenancy.example.com' }, true, 'older browser, a sibling origin'],
    [{ origin: 'http://tenancy.example.com' }, true, 'another scheme is another origin'],
    [{ origin: 'null' }, true, 'an opaque origin'],
    [{ origin: 'https://evil.example', authorization: 'Bearer abc' }, false, 'a bearer client'],
    [{ 'sec-fetch-site': 'cross-site', authorization: 'bearer abc' }, false, 'a bearer client, any case'],
    [{ 'sec-fetch-site': 'cross-site', authorization: 'Basic YTpi' }, true, 'Basic credentials a browser may add'],
  ];
  for (const [headers, crossSite, why] of rows) t.equal(isCrossSite(headers, ORIGIN), crossSite, why);
});
