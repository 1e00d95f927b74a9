import { type StaticDecode, Type } from '@sinclair/typebox';
import { ConfigError, Duration, loadConfig, SECRET, Secret, TenantSubnetPool } from '@tenancy/shared';
import { isLoopbackOrigin } from './auth/loopback-origin.js';

/** The one value of ALLOW_DEV_LOGIN_ON_PUBLIC_URL that lets dev login run on a public origin. */
export const DEV_LOGIN_OVERRIDE = 'yes-i-understand';

/** The gateway's whole configuration, read once at start. Every property is an environment variable. */
export const GatewayConfigSchema = Type.Object({
  GATEWAY_HOST: Type.String({
    default: '127.0.0.1',
    description: 'Address the gateway listens on (nginx connects here)',
  }),
  GATEWAY_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'TCP port of the gateway' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'Log level (pino)' },
  ),
  PUBLIC_BASE_URL: Type.String({
    pattern: '^https?://[^/]+$',
    default: 'http://localhost:8080',
    description: 'Public origin users reach; https makes the cookie Secure with the __Host- prefix',
  }),
  COOKIE_JWT_SECRET: Secret(
    'HMAC key signing session cookies (HS256); at least 32 characters. To rotate it without signing anyone out, move the old value to COOKIE_JWT_PREVIOUS_SECRETS (docs/operations.md)',
  ),
  COOKIE_JWT_PREVIOUS_SECRETS: Type.Optional(
    Type.Transform(
      Type.String({
        // One or more secrets of at least 32 characters, separated by commas or whitespace (a file: one a line).
        pattern: '^[\\s,]*[^\\s,]{32,}(?:[\\s,]+[^\\s,]{32,})*[\\s,]*$',
        description:
          'Former COOKIE_JWT_SECRET values, comma- or newline-separated: sessions they signed are still accepted until they end (a refresh re-signs with the current key); new sessions are signed with COOKIE_JWT_SECRET only. Remove one once SESSION_TTL has passed since every replica signs with the new key',
        [SECRET]: true,
      }),
    )
      .Decode((text) => text.split(/[\s,]+/).filter(Boolean))
      .Encode((secrets) => secrets.join(',')),
  ),
  SESSION_TTL: Duration('30m', 'Sliding session window: a session unused this long expires'),
  SESSION_MAX_AGE: Duration('12h', 'Absolute cap on a session, however active'),
  AUTH_MODE: Type.Union([Type.Literal('access'), Type.Literal('token'), Type.Literal('oidc'), Type.Literal('dev')], {
    default: 'token',
    description:
      'How users sign in: Cloudflare Access, a backend with LOGIN_TOKEN, an OpenID Connect provider (oidc), or anyone (dev)',
  }),
  DEV_AUTH_ENABLED: Type.Boolean({
    default: false,
    description: 'Must be true for AUTH_MODE=dev, which trusts the login body: never in production',
  }),
  ALLOW_DEV_LOGIN_ON_PUBLIC_URL: Type.Optional(
    Type.Literal(DEV_LOGIN_OVERRIDE, {
      description: `Set to ${DEV_LOGIN_OVERRIDE} to allow AUTH_MODE=dev with a PUBLIC_BASE_URL that is not localhost, 127.0.0.0/8 or [::1]: anyone who reaches it can sign in as anyone`,
    }),
  ),
  LOGIN_TOKEN: Type.Optional(Secret('Bearer token a trusted backend presents to POST /auth/login (AUTH_MODE=token)')),
  ACCESS_TEAM_DOMAIN: Type.Optional(
    Type.String({ description: 'Cloudflare Access team domain, e.g. example.cloudflareaccess.com (AUTH_MODE=access)' }),
  ),
  ACCESS_AUD: Type.Optional(Type.String({ description: 'Audience tag of the Cloudflare Access application' })),
  ACCESS_JWKS_URL: Type.Optional(
    Type.String({ description: 'JWKS URL override; default https://<ACCESS_TEAM_DOMAIN>/cdn-cgi/access/certs' }),
  ),
  ACCESS_JWKS_COOLDOWN: Duration(
    '30s',
    'Shortest time between two fetches of the Access keys; a token naming an unknown key after that fetches them again',
  ),
  OIDC_ISSUER: Type.Optional(
    Type.String({
      pattern: '^https?://[^\\s]+$',
      description:
        'Issuer URL of the OpenID Connect provider (AUTH_MODE=oidc); its /.well-known/openid-configuration is read at the first sign-in. https, or http on a loopback address only',
    }),
  ),
  OIDC_CLIENT_ID: Type.Optional(
    Type.String({ minLength: 1, description: 'Client id the provider gave the gateway (AUTH_MODE=oidc)' }),
  ),
  OIDC_CLIENT_SECRET: Type.Optional(
    Secret(
      'Client secret, sent with HTTP Basic to the token endpoint; unset: a public client (PKCE only); OIDC_CLIENT_SECRET_FILE accepted',
      16,
    ),
  ),
  OIDC_SCOPES: Type.String({
    default: 'openid,email,profile',
    pattern: '(^|[\\s,])openid([\\s,]|$)',
    description: 'Scopes asked for, separated by commas or spaces; must include openid',
  }),
  OIDC_USER_CLAIM: Type.String({
    default: 'sub',
    minLength: 1,
    description:
      'Claim that becomes the user id; sub is stable and unique per provider, email changes and can be reused',
  }),
  OIDC_ALLOWED_DOMAINS: Type.Optional(
    Type.String({
      description: 'Comma-separated email domains allowed to sign in (a verified email is then required); unset: any',
    }),
  ),
  OIDC_ALLOWED_GROUPS: Type.Optional(
    Type.String({
      description: 'Comma-separated groups, one of which the user must be in (see OIDC_GROUPS_CLAIM); unset: any',
    }),
  ),
  OIDC_GROUPS_CLAIM: Type.String({
    default: 'groups',
    minLength: 1,
    description: 'Claim holding the user’s groups (an array of strings, or one string)',
  }),
  OIDC_PROVIDER_NAME: Type.Optional(
    Type.String({
      maxLength: 100,
      description: 'Shown on the sign-in page as "Sign in with <name>"; unset: "your organisation"',
    }),
  ),
  OIDC_JWKS_COOLDOWN: Duration(
    '30s',
    'Shortest time between two fetches of the provider’s signing keys; an ID token naming an unknown key after that fetches them again',
  ),
  REDIS_URL: Type.String({
    default: 'redis://127.0.0.1:6379',
    minLength: 1,
    // Holds Redis's password when it has one: kept out of logs, and read from a file on a swarm.
    description: 'Redis holding session revocations (redis://:PASSWORD@host:port); REDIS_URL_FILE accepted',
    [SECRET]: true,
  }),
  REDIS_TIMEOUT: Duration('500ms', 'Longest wait for Redis before a request fails closed with 503'),
  SUPERVISOR_URL: Type.String({ default: 'http://127.0.0.1:4010', description: 'Base URL of the supervisor API' }),
  SUPERVISOR_TOKEN: Secret('Bearer token of the supervisor internal API'),
  WARMUP_TIMEOUT: Duration('45s', 'Longest a request waits for a sleeping container to wake'),
  ACTIVITY_FLUSH_INTERVAL: Duration('5s', 'How often activity is reported to the supervisor'),
  UPSTREAM_TIMEOUT: Duration('60s', 'Longest wait for a tenant to start answering a request (then 504)'),
  TENANT_SUBNET_POOL: TenantSubnetPool(
    'Address pool of the tenant networks (as the supervisor has it): connections from it are refused',
  ),
  ROUTE_CACHE_TTL: Duration('5s', 'How long a tenant endpoint is reused before asking the supervisor again'),
  TENANT_ROUTING: Type.Union([Type.Literal('path'), Type.Literal('subdomain')], {
    default: 'path',
    description:
      'Where tenants are served: path (on the platform origin, behind the session cookie) or subdomain (each at <label>.TENANT_DOMAIN, an origin of its own; see docs/origins.md)',
  }),
  TENANT_DOMAIN: Type.Optional(
    Type.String({
      pattern: '^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$',
      description:
        'Domain under which each tenant gets its host, e.g. apps.example.com (wildcard DNS and certificate for *.apps.example.com); localhost works locally (TENANT_ROUTING=subdomain)',
    }),
  ),
  TENANT_LABEL_KEY: Type.Optional(
    Secret(
      'HMAC key deriving each tenant host name from its user id (TENANT_ROUTING=subdomain); changing it moves every tenant to a new address',
    ),
  ),
  TOKEN_CACHE_SIZE: Type.Integer({
    minimum: 100,
    default: 10_000,
    description: 'Verified session tokens kept in memory',
  }),
});

export type GatewayConfig = StaticDecode<typeof GatewayConfigSchema>;

/** Reads and validates the configuration; throws a ConfigError listing every problem. */
export function loadGatewayConfig(env: Readonly<Record<string, string | undefined>>): Readonly<GatewayConfig> {
  const config = loadConfig(GatewayConfigSchema, env);
  const problems: string[] = [];
  if (config.AUTH_MODE === 'dev' && !config.DEV_AUTH_ENABLED) {
    problems.push('AUTH_MODE=dev trusts whatever the client sends: set DEV_AUTH_ENABLED=true to allow it');
  }
  // Dev login signs anyone in as anyone: only on an origin no one else can reach, unless the
  // operator says, in so many words, that they mean it.
  if (
    config.AUTH_MODE === 'dev' &&
    !isLoopbackOrigin(config.PUBLIC_BASE_URL) &&
    config.ALLOW_DEV_LOGIN_ON_PUBLIC_URL !== DEV_LOGIN_OVERRIDE
  ) {
    problems.push(
      `AUTH_MODE=dev lets anyone sign in as anyone, and PUBLIC_BASE_URL=${config.PUBLIC_BASE_URL} is not a loopback address (localhost, 127.0.0.0/8, [::1]): use AUTH_MODE=token or access, or set ALLOW_DEV_LOGIN_ON_PUBLIC_URL=${DEV_LOGIN_OVERRIDE}`,
    );
  }
  if (config.AUTH_MODE === 'token' && !config.LOGIN_TOKEN) problems.push('AUTH_MODE=token needs LOGIN_TOKEN');
  if (
    config.AUTH_MODE === 'access' &&
    (!config.ACCESS_AUD || (!config.ACCESS_TEAM_DOMAIN && !config.ACCESS_JWKS_URL))
  ) {
    problems.push('AUTH_MODE=access needs ACCESS_AUD and ACCESS_TEAM_DOMAIN (or ACCESS_JWKS_URL)');
  }
  if (config.TENANT_ROUTING === 'subdomain') {
    if (!config.TENANT_DOMAIN) problems.push('TENANT_ROUTING=subdomain needs TENANT_DOMAIN');
    if (!config.TENANT_LABEL_KEY) problems.push('TENANT_ROUTING=subdomain needs TENANT_LABEL_KEY');
    // A platform host inside the tenant domain would share its wildcard (DNS, certificate,
    // nginx server) with the tenants: keep the two apart.
    const platformHost = new URL(config.PUBLIC_BASE_URL).hostname;
    if (config.TENANT_DOMAIN && platformHost.endsWith(`.${config.TENANT_DOMAIN}`)) {
      problems.push(
        `PUBLIC_BASE_URL (${platformHost}) must not be a host under TENANT_DOMAIN (${config.TENANT_DOMAIN})`,
      );
    }
  }
  if (config.AUTH_MODE === 'oidc') problems.push(...oidcProblems(config));
  if (config.SESSION_MAX_AGE < config.SESSION_TTL) problems.push('SESSION_MAX_AGE must be at least SESSION_TTL');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** What AUTH_MODE=oidc needs that the schema alone cannot say. */
function oidcProblems(config: GatewayConfig): string[] {
  if (!config.OIDC_ISSUER || !config.OIDC_CLIENT_ID) return ['AUTH_MODE=oidc needs OIDC_ISSUER and OIDC_CLIENT_ID'];
  // The discovery document names every endpoint and the signing keys: plain http would let
  // anyone on the path swap them. Only this machine's own addresses (tests, a local provider).
  if (config.OIDC_ISSUER.startsWith('http://') && !isLoopbackOrigin(config.OIDC_ISSUER))
    return [`OIDC_ISSUER=${config.OIDC_ISSUER} must be https (http is accepted on loopback addresses only)`];
  return [];
}
