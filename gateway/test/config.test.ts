import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { isLoopbackOrigin } from '../src/auth/loopback-origin.js';
import { DEV_LOGIN_OVERRIDE, loadGatewayConfig } from '../src/config.js';

const dev = {
  COOKIE_JWT_SECRET: 'c'.repeat(40),
  SUPERVISOR_TOKEN: 's'.repeat(40),
  AUTH_MODE: 'dev',
  DEV_AUTH_ENABLED: 'true',
};

t.test('which origins count as this machine only', async (t) => {
  const rows: [string, boolean][] = [
    ['http://localhost:8080', true],
    ['https://localhost', true],
    ['http://127.0.0.1:8080', true],
    ['http://127.8.9.10', true],
    ['http://[::1]:8080', true],
    ['https://tenancy.example.com', false],
    ['http://localhost.example.com', false],
    ['http://127.0.0.1.example.com', false],
    ['http://128.0.0.1', false],
    ['http://10.0.0.5:8080', false],
    ['http://0.0.0.0:8080', false],
    ['http://[::2]', false],
    ['http://[::ffff:127.0.0.1]', true],
    ['http://[::ffff:7f00:1]', true],
    ['not a url', false],
  ];
  for (const [origin, expected] of rows) t.equal(isLoopbackOrigin(origin), expected, origin);
});

t.test('dev login starts only on a loopback PUBLIC_BASE_URL, or with the loud override', async (t) => {
  const rows: [string, Record<string, string>, boolean][] = [
    ['the default (http://localhost:8080)', {}, true],
    ['http://127.0.0.1:8080', { PUBLIC_BASE_URL: 'http://127.0.0.1:8080' }, true],
    ['http://[::1]:8080', { PUBLIC_BASE_URL: 'http://[::1]:8080' }, true],
    ['an https hostname', { PUBLIC_BASE_URL: 'https://tenancy.example.com' }, false],
    ['a LAN address', { PUBLIC_BASE_URL: 'http://192.168.1.20:8080' }, false],
    [
      'an https hostname with the override',
      { PUBLIC_BASE_URL: 'https://tenancy.example.com', ALLOW_DEV_LOGIN_ON_PUBLIC_URL: DEV_LOGIN_OVERRIDE },
      true,
    ],
  ];
  for (const [name, env, starts] of rows) {
    if (starts) t.equal(loadGatewayConfig({ ...dev, ...env }).AUTH_MODE, 'dev', name);
    else
      t.throws(
        () => loadGatewayConfig({ ...dev, ...env }),
        {
          code: 'CONFIG_ERR_INVALID',
          message: /AUTH_MODE=dev lets anyone sign in as anyone.*ALLOW_DEV_LOGIN_ON_PUBLIC_URL=yes-i-understand/,
        },
        name,
      );
  }
});

t.test('the override takes one exact value and leaves other modes alone', async (t) => {
  const publicUrl = { PUBLIC_BASE_URL: 'https://tenancy.example.com' };
  for (const value of ['true', 'yes', '1', 'YES-I-UNDERSTAND']) {
    t.throws(
      () => loadGatewayConfig({ ...dev, ...publicUrl, ALLOW_DEV_LOGIN_ON_PUBLIC_URL: value }),
      { code: 'CONFIG_ERR_INVALID', message: /ALLOW_DEV_LOGIN_ON_PUBLIC_URL: Expected 'yes-i-understand'/ },
      `${value} is refused`,
    );
  }
  const token = { ...dev, ...publicUrl, AUTH_MODE: 'token', DEV_AUTH_ENABLED: 'false', LOGIN_TOKEN: 'l'.repeat(40) };
  t.equal(loadGatewayConfig(token).AUTH_MODE, 'token', 'token mode on a public origin needs no override');
});

t.test(
  'TENANT_ROUTING: path by default; subdomain needs a tenant domain and a label key apart from the platform',
  async (t) => {
    t.equal(loadGatewayConfig(dev).TENANT_ROUTING, 'path', 'path mode unless asked');
    const key = { TENANT_LABEL_KEY: 'l'.repeat(40) };
    const rows: [string, Record<string, string>, RegExp | undefined][] = [
      ['localhost tenants', { TENANT_ROUTING: 'subdomain', TENANT_DOMAIN: 'localhost', ...key }, undefined],
      [
        'apps under the platform’s domain',
        {
          TENANT_ROUTING: 'subdomain',
          TENANT_DOMAIN: 'apps.example.com',
          PUBLIC_BASE_URL: 'https://example.com',
          AUTH_MODE: 'token',
          LOGIN_TOKEN: 't'.repeat(40),
          ...key,
        },
        undefined,
      ],
      ['no domain', { TENANT_ROUTING: 'subdomain', ...key }, /TENANT_ROUTING=subdomain needs TENANT_DOMAIN/],
      ['no key', { TENANT_ROUTING: 'subdomain', TENANT_DOMAIN: 'localhost' }, /needs TENANT_LABEL_KEY/],
      [
        'a short key',
        { TENANT_ROUTING: 'subdomain', TENANT_DOMAIN: 'localhost', TENANT_LABEL_KEY: 'x' },
        /TENANT_LABEL_KEY/,
      ],
      ['a wildcard', { TENANT_ROUTING: 'subdomain', TENANT_DOMAIN: '*.apps.example.com', ...key }, /TENANT_DOMAIN/],
      ['upper case', { TENANT_ROUTING: 'subdomain', TENANT_DOMAIN: 'Apps.example.com', ...key }, /TENANT_DOMAIN/],
      [
        'the platform inside the tenant domain',
        {
          TENANT_ROUTING: 'subdomain',
          TENANT_DOMAIN: 'localhost',
          PUBLIC_BASE_URL: 'http://platform.localhost:8080',
          ALLOW_DEV_LOGIN_ON_PUBLIC_URL: DEV_LOGIN_OVERRIDE,
          ...key,
        },
        /must not be a host under TENANT_DOMAIN/,
      ],
      ['an unknown mode', { TENANT_ROUTING: 'host' }, /TENANT_ROUTING/],
    ];
    for (const [name, env, problem] of rows) {
      if (!problem) t.equal(loadGatewayConfig({ ...dev, ...env }).TENANT_ROUTING, 'subdomain', name);
      else
        t.throws(() => loadGatewayConfig({ ...dev, ...env }), { code: 'CONFIG_ERR_INVALID', message: problem }, name);
    }
  },
);

t.test('oidc mode needs an issuer and a client id; http only on loopback; the secret may be a file', async (t) => {
  const oidc = { ...dev, AUTH_MODE: 'oidc', DEV_AUTH_ENABLED: 'false' };
  const rows: [string, Record<string, string>, RegExp | undefined][] = [
    ['nothing', {}, /AUTH_MODE=oidc needs OIDC_ISSUER and OIDC_CLIENT_ID/],
    ['no client id', { OIDC_ISSUER: 'https://idp.example.com' }, /AUTH_MODE=oidc needs OIDC_ISSUER and OIDC_CLIENT_ID/],
    ['https', { OIDC_ISSUER: 'https://idp.example.com/realms/x', OIDC_CLIENT_ID: 'c' }, undefined],
    ['http on loopback', { OIDC_ISSUER: 'http://127.0.0.1:5556', OIDC_CLIENT_ID: 'c' }, undefined],
    [
      'http elsewhere',
      { OIDC_ISSUER: 'http://idp.example.com', OIDC_CLIENT_ID: 'c' },
      /OIDC_ISSUER=http:\/\/idp.example.com must be https/,
    ],
    [
      'scopes without openid',
      { OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'c', OIDC_SCOPES: 'email,profile' },
      /OIDC_SCOPES/,
    ],
    [
      'a short secret',
      { OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 'short' },
      /OIDC_CLIENT_SECRET/,
    ],
  ];
  for (const [name, env, problem] of rows) {
    if (problem)
      t.throws(() => loadGatewayConfig({ ...oidc, ...env }), { code: 'CONFIG_ERR_INVALID', message: problem }, name);
    else t.equal(loadGatewayConfig({ ...oidc, ...env }).AUTH_MODE, 'oidc', name);
  }
  const dir = mkdtempSync(join(tmpdir(), 'oidc-secret-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'secret'), 'client-secret-from-a-file-0123\n');
  const config = loadGatewayConfig({
    ...oidc,
    OIDC_ISSUER: 'https://idp.example.com',
    OIDC_CLIENT_ID: 'c',
    OIDC_CLIENT_SECRET_FILE: join(dir, 'secret'),
  });
  t.equal(config.OIDC_CLIENT_SECRET, 'client-secret-from-a-file-0123');
  t.equal(config.OIDC_SCOPES, 'openid,email,profile');
});
