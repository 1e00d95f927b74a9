import t from 'tap';
import { identityFromClaims, listOf, type OidcPolicy } from '../../src/auth/oidc-identity.js';

const ANY: OidcPolicy = { userClaim: 'sub', allowedDomains: [], allowedGroups: [], groupsClaim: 'groups' };
const STRICT: OidcPolicy = { ...ANY, allowedDomains: ['example.com'], allowedGroups: ['staff', 'ops'] };

/** Claims → identity or the code refusing it, one row per case. */
const rows: [string, OidcPolicy, Record<string, unknown>, { userId: string; email: string | null } | string][] = [
  ['sub names the user', ANY, { sub: 'u1' }, { userId: 'u1', email: null }],
  [
    'a verified email is kept',
    ANY,
    { sub: 'u1', email: 'a@x.test', email_verified: true },
    { userId: 'u1', email: 'a@x.test' },
  ],
  [
    '"true" as a string counts',
    ANY,
    { sub: 'u1', email: 'a@x.test', email_verified: 'true' },
    { userId: 'u1', email: 'a@x.test' },
  ],
  [
    'an unverified email is dropped',
    ANY,
    { sub: 'u1', email: 'a@x.test', email_verified: false },
    { userId: 'u1', email: null },
  ],
  ['no email_verified: dropped', ANY, { sub: 'u1', email: 'a@x.test' }, { userId: 'u1', email: null }],
  ['no sub', ANY, { email: 'a@x.test' }, 'GW_ERR_OIDC_CLAIM_MISSING'],
  ['a numeric sub is not a string', ANY, { sub: 42 }, 'GW_ERR_OIDC_CLAIM_MISSING'],
  ['a sub with a control character', ANY, { sub: 'a\nb' }, 'GW_ERR_OIDC_CLAIM_MISSING'],
  ['a sub too long', ANY, { sub: 'x'.repeat(201) }, 'GW_ERR_OIDC_CLAIM_MISSING'],
  [
    'another claim names the user',
    { ...ANY, userClaim: 'preferred_username' },
    { sub: 'u1', preferred_username: 'ada' },
    { userId: 'ada', email: null },
  ],
  [
    'email as the user id needs it verified',
    { ...ANY, userClaim: 'email' },
    { sub: 'u1', email: 'a@x.test', email_verified: false },
    'GW_ERR_OIDC_EMAIL_UNVERIFIED',
  ],
  [
    'allowed domain and group',
    STRICT,
    { sub: 'u1', email: 'a@EXAMPLE.com', email_verified: true, groups: ['ops'] },
    { userId: 'u1', email: 'a@EXAMPLE.com' },
  ],
  ['domain list: no email', STRICT, { sub: 'u1', groups: ['ops'] }, 'GW_ERR_OIDC_EMAIL_UNVERIFIED'],
  [
    'domain list: unverified',
    STRICT,
    { sub: 'u1', email: 'a@example.com', groups: ['ops'] },
    'GW_ERR_OIDC_EMAIL_UNVERIFIED',
  ],
  [
    'a subdomain is another domain',
    STRICT,
    { sub: 'u1', email: 'a@sub.example.com', email_verified: true, groups: ['ops'] },
    'GW_ERR_OIDC_DOMAIN_NOT_ALLOWED',
  ],
  [
    'a look-alike suffix is another domain',
    STRICT,
    { sub: 'u1', email: 'a@evilexample.com', email_verified: true, groups: ['ops'] },
    'GW_ERR_OIDC_DOMAIN_NOT_ALLOWED',
  ],
  [
    'no allowed group',
    STRICT,
    { sub: 'u1', email: 'a@example.com', email_verified: true, groups: ['guests'] },
    'GW_ERR_OIDC_GROUP_NOT_ALLOWED',
  ],
  [
    'groups as one string',
    STRICT,
    { sub: 'u1', email: 'a@example.com', email_verified: true, groups: 'staff' },
    { userId: 'u1', email: 'a@example.com' },
  ],
  [
    'no groups claim',
    STRICT,
    { sub: 'u1', email: 'a@example.com', email_verified: true },
    'GW_ERR_OIDC_GROUP_NOT_ALLOWED',
  ],
  [
    'groups are matched exactly (case too)',
    STRICT,
    { sub: 'u1', email: 'a@example.com', email_verified: true, groups: ['Staff'] },
    'GW_ERR_OIDC_GROUP_NOT_ALLOWED',
  ],
  [
    'another groups claim',
    { ...STRICT, groupsClaim: 'roles' },
    { sub: 'u1', email: 'a@example.com', email_verified: true, roles: ['staff'], groups: [] },
    { userId: 'u1', email: 'a@example.com' },
  ],
];

t.test('claims become an identity, or the reason they may not sign in', async (t) => {
  for (const [name, policy, claims, expected] of rows) {
    if (typeof expected === 'string') t.throws(() => identityFromClaims(claims, policy), { code: expected }, name);
    else t.strictSame(identityFromClaims(claims, policy), expected, name);
  }
});

t.test('comma-separated lists', async (t) => {
  t.strictSame(listOf(' Example.com, ,other.test '), ['Example.com', 'other.test']);
  t.strictSame(listOf(' Example.com, ,other.test ', true), ['example.com', 'other.test']);
  t.strictSame(listOf(undefined), []);
});
