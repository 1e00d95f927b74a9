import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TObject } from '@sinclair/typebox';
import { describeConfig } from '@tenancy/shared';
import t from 'tap';
import { parse } from 'yaml';
import { GatewayConfigSchema } from '../../gateway/src/config.js';
import { SupervisorConfigSchema } from '../../supervisor/src/config.js';
import { composeCommand } from './compose.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Least privilege in compose.yaml: each service gets exactly the variables it reads, and every
 * secret reaches only the services that hold it (docs/security.md, "Who holds which credential").
 * Compose itself renders the file (`config`) with a representative .env: the one setup.sh writes
 * (.env.example with every secret set), plus an operator's variable no service reads.
 */

/** Variables of a config schema: what that service reads, and so all it may be given. */
const schemaVariables = (schema: TObject) => describeConfig(schema).map((variable) => variable.name);

/**
 * Settings compose.yaml deliberately does not pass: the compose stack runs on one host with the
 * Docker runtime; the Swarm runtime's settings belong to a deployment on a swarm.
 */
const NOT_FOR_COMPOSE = new Set(['TENANT_RUNTIME', 'SWARM_NODE_ENGINES', 'SWARM_NODE_TLS_DIR']);

/** Every service of compose.yaml, with the environment it may have. */
const ALLOWED_VARIABLES: Record<string, string[]> = {
  api: schemaVariables(GatewayConfigSchema).filter((name) => !NOT_FOR_COMPOSE.has(name)),
  supervisor: schemaVariables(SupervisorConfigSchema).filter((name) => !NOT_FOR_COMPOSE.has(name)),
  // nginx: the variables its template uses (scripts/render-nginx.ts).
  gateway: [
    'GATEWAY_UPSTREAMS',
    'NGINX_ACCESS_LOG',
    'NGINX_CLIENT_ZONE',
    'NGINX_LISTEN',
    'NGINX_TENANT_HOSTS',
    'TRUSTED_PROXIES',
    'TRUSTED_PROXIES_GEO',
  ],
  // redis-cli in the health check authenticates with it.
  redis: ['REDISCLI_AUTH'],
  cloudflared: ['TUNNEL_TOKEN'],
  'tenant-base-build': [],
};

/** Each secret of the .env, and the services that may see its value anywhere in their definition. */
const SECRET_HOLDERS: Record<string, string[]> = {
  ADMIN_TOKEN: ['supervisor'],
  SUPERVISOR_TOKEN: ['api', 'supervisor'],
  TENANT_NAMESPACE_KEY: ['supervisor'],
  TENANT_ENV: ['supervisor'],
  COOKIE_JWT_SECRET: ['api'],
  COOKIE_JWT_PREVIOUS_SECRETS: ['api'],
  TENANT_LABEL_KEY: ['api'],
  LOGIN_TOKEN: ['api'],
  OIDC_CLIENT_SECRET: ['api'],
  // In the api's REDIS_URL, and in Redis's own command line and health check.
  REDIS_PASSWORD: ['api', 'redis'],
  // compose.yaml makes the api's own from REDIS_PASSWORD (FIXED_BY_COMPOSE): one in .env reaches
  // nobody. (The Swarm stack passes it as a secret file, REDIS_URL_FILE.)
  REDIS_URL: [],
  TUNNEL_TOKEN: ['cloudflared'],
  // Nobody's: an operator's own variable in .env must not reach any service.
  OPERATOR_OWN_SECRET: [],
};

/** Values compose.yaml sets itself instead of taking them from .env. */
const FIXED_BY_COMPOSE: Record<string, string[]> = {
  api: ['GATEWAY_HOST', 'GATEWAY_PORT', 'REDIS_URL', 'SUPERVISOR_URL'],
  supervisor: ['SUPERVISOR_HOST', 'SUPERVISOR_PORT', 'DATABASE_PATH', 'BACKUP_DIR'],
};

interface RenderedService {
  environment?: Record<string, string | number | boolean | null>;
  env_file?: unknown;
}

t.test('compose gives each service exactly its variables, and each secret only to its holders', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tenancy-compose-env-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  // .env.example as setup.sh copies it; then every variable a service reads gets a distinctive
  // value and every secret an unguessable one, so a value found in a service's definition can
  // only have come from that variable.
  const env = new Map<string, string>();
  for (const match of readFileSync(join(ROOT, '.env.example'), 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)) {
    env.set(match[1] ?? '', match[2] ?? '');
  }
  for (const name of [...schemaVariables(GatewayConfigSchema), ...schemaVariables(SupervisorConfigSchema)]) {
    env.set(name, `value-of-${name}`);
  }
  const secrets: Record<string, string> = {};
  for (const name of Object.keys(SECRET_HOLDERS)) {
    secrets[name] = `secret-${name.toLowerCase()}-${randomBytes(12).toString('hex')}`;
    env.set(name, secrets[name]);
  }
  // As the operator writes it: model keys for the tenants, as JSON.
  secrets.TENANT_ENV = `{"LLM_API_KEY": "sk-${randomBytes(12).toString('hex')}"}`;
  env.set('TENANT_ENV', secrets.TENANT_ENV);
  env.set('DOCKER_GID', '999');
  // A bind source too (the tenant disks), which must be an absolute path.
  env.set('TENANT_DISK_DIR', '/value-of-TENANT_DISK_DIR');
  env.set('STACK_LABEL', 'dev.tenancy.stack=compose-env-test');
  const envFile = join(dir, '.env');
  writeFileSync(envFile, `${[...env].map(([name, value]) => `${name}=${value}`).join('\n')}\n`);

  const compose = await composeCommand();
  const { stdout } = await run(
    compose[0] ?? 'docker',
    [
      ...compose.slice(1),
      '--env-file',
      envFile,
      '-p',
      'composeenv',
      '--profile',
      'prod',
      '--profile',
      'build-only',
      'config',
    ],
    // TENANCY_ENV_FILE as setup.sh exports it, should a service read the file (env_file) again.
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', TENANCY_ENV_FILE: envFile } },
  );
  const services = (parse(stdout) as { services: Record<string, RenderedService> }).services;
  t.strictSame(Object.keys(services).sort(), Object.keys(ALLOWED_VARIABLES).sort(), 'every service is in the table');

  for (const [name, service] of Object.entries(services)) {
    t.equal(service.env_file, undefined, `${name} reads no env_file`);
    t.strictSame(
      Object.keys(service.environment ?? {}).sort(),
      [...(ALLOWED_VARIABLES[name] ?? [])].sort(),
      `${name} gets exactly the variables it reads`,
    );
  }

  // What reaches the api and the supervisor is the operator's value, not an empty string: a
  // misspelt ${NAME} would leave that service on its default without a word.
  for (const name of ['api', 'supervisor']) {
    const environment = services[name]?.environment ?? {};
    const fixed = FIXED_BY_COMPOSE[name] ?? [];
    const wrong = Object.entries(environment).filter(
      ([variable, value]) => !fixed.includes(variable) && String(value).replaceAll('$$', '$') !== env.get(variable),
    );
    t.strictSame(wrong, [], `${name} gets the .env value of every variable it does not fix`);
  }

  // Anywhere in a service's definition (environment, command, labels, health check).
  const holders = Object.fromEntries(
    Object.entries(secrets).map(([secret, value]) => [
      secret,
      Object.entries(services)
        .filter(([, service]) => leaves(service).some((text) => text.replaceAll('$$', '$').includes(value)))
        .map(([name]) => name)
        .sort(),
    ]),
  );
  t.strictSame(holders, SECRET_HOLDERS, 'each secret reaches only its holders');

  // A secret a schema adds has to be placed in the table above.
  const schemaSecrets = [...describeConfig(GatewayConfigSchema), ...describeConfig(SupervisorConfigSchema)]
    .filter((variable) => variable.secret)
    .map((variable) => variable.name);
  t.strictSame(
    schemaSecrets.filter((name) => !(name in SECRET_HOLDERS)),
    [],
    'every secret of a config schema has its holders listed',
  );
});

/** Every string and number in a rendered definition, keys included. */
function leaves(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(leaves);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) => [key, ...leaves(child)]);
  }
  return value === null || value === undefined ? [] : [String(value)];
}
