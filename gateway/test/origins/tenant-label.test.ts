import t from 'tap';
import { LABEL_LENGTH, tenantLabel } from '../../src/origins/tenant-label.js';
import { createTenantOrigins } from '../../src/origins/tenant-origins.js';

const KEY = 'k'.repeat(32);

t.test('a label is 26 base32 characters, stable, and differs per user and per key', async (t) => {
  const label = tenantLabel(KEY, 'alice');
  t.match(label, /^[a-z2-7]{26}$/);
  t.equal(label.length, LABEL_LENGTH);
  t.equal(tenantLabel(KEY, 'alice'), label, 'the same user, the same host');
  t.not(tenantLabel(KEY, 'bob'), label, 'another user, another host');
  t.not(tenantLabel('j'.repeat(32), 'alice'), label, 'another key, another host');
  // The known value: a change of the derivation would move every tenant to a new address.
  t.equal(label, 'l2odv7lmrauwxngba6gw73jtp7');
});

t.test('a label reveals nothing of the user id, whatever the id holds', async (t) => {
  for (const userId of ['alice', 'ALICE', 'a.b@example.com', 'x'.repeat(300), 'ünïcode', '']) {
    const label = tenantLabel(KEY, userId);
    t.match(label, /^[a-z2-7]{26}$/, JSON.stringify(userId));
    if (userId.length > 3) t.notOk(label.includes(userId.toLowerCase().slice(0, 4)), 'no part of the id');
  }
  const labels = new Set(Array.from({ length: 10_000 }, (_, i) => tenantLabel(KEY, `user-${i}`)));
  t.equal(labels.size, 10_000, 'no two of 10,000 users share a host');
});

t.test('hosts: the platform outside TENANT_DOMAIN, tenants one label under it, nothing else', async (t) => {
  const origins = createTenantOrigins({
    TENANT_ROUTING: 'subdomain',
    TENANT_DOMAIN: 'apps.example.com',
    TENANT_LABEL_KEY: KEY,
    PUBLIC_BASE_URL: 'https://example.com',
  });
  if (!origins) throw new Error('subdomain mode');
  const label = origins.labelOf('alice');
  const rows: [string | undefined, unknown][] = [
    ['example.com', { kind: 'platform' }],
    ['127.0.0.1:3000', { kind: 'platform' }],
    ['api:3000', { kind: 'platform' }],
    [undefined, { kind: 'platform' }],
    [`${label}.apps.example.com`, { kind: 'tenant', label }],
    [`${label.toUpperCase()}.APPS.example.com:8443`, { kind: 'tenant', label }],
    ['short.apps.example.com', { kind: 'unknown' }],
    [`x.${label}.apps.example.com`, { kind: 'unknown' }],
    [`${label}1.apps.example.com`, { kind: 'unknown' }],
    ['apps.example.com', { kind: 'platform' }],
    [`${label}.apps.example.com.evil.net`, { kind: 'platform' }],
  ];
  for (const [host, kind] of rows) {
    t.strictSame(origins.classify(host), kind, String(host));
    const tenant = (kind as { kind: string }).kind === 'tenant';
    const platform = (kind as { kind: string }).kind === 'platform';
    t.equal(origins.tenantHosts.test(host ?? ''), tenant, `${host}: tenant routes`);
    t.equal(origins.platformHosts.test(host ?? ''), platform, `${host}: platform routes`);
  }
  t.equal(origins.originOf(label), `https://${label}.apps.example.com`);
  t.equal(
    createTenantOrigins({
      TENANT_ROUTING: 'subdomain',
      TENANT_DOMAIN: 'localhost',
      TENANT_LABEL_KEY: KEY,
      PUBLIC_BASE_URL: 'http://localhost:8080',
    })?.originOf(label),
    `http://${label}.localhost:8080`,
    'with the platform’s scheme and port',
  );
  t.equal(
    createTenantOrigins({ TENANT_ROUTING: 'path', PUBLIC_BASE_URL: 'http://localhost:8080' }),
    undefined,
    'path mode has none',
  );
});
