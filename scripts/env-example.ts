/**
 * Prints the .env.example section of each service from its config schema, so the file and the
 * code cannot drift: `npx tsx --conditions=tenancy-source scripts/env-example.ts > .env.example`.
 * The config tests fail when .env.example lists a different set of variables.
 */

import type { TObject } from '@sinclair/typebox';
import { describeConfig } from '@tenancy/shared';
import { GatewayConfigSchema } from '../gateway/src/config.js';
import { SupervisorConfigSchema } from '../supervisor/src/config.js';

const sections: [string, TObject][] = [
  ['supervisor', SupervisorConfigSchema],
  ['gateway', GatewayConfigSchema],
];

/**
 * Variables only compose.yaml and setup.sh read (no service schema has them): name, default,
 * meaning. compose.yaml hands each service the variables of its own schema from the same file
 * (e2e/test/compose-env.test.ts holds it to that).
 */
const COMPOSE_VARIABLES: [string, string, string][] = [
  ['COMPOSE_PROJECT_NAME', 'tenancy', 'Compose project: prefixes container, network and volume names'],
  ['EDGE_BIND', '127.0.0.1', 'Host address nginx is published on; 0.0.0.0 serves other machines directly'],
  ['EDGE_PORT', '8080', "Host port nginx is published on: the platform's public address"],
  ['ADMIN_PORT', '4010', 'Port of the supervisor admin API, published on 127.0.0.1 only'],
  ['API_REPLICAS', '1', 'Gateway replicas behind nginx (run ./setup.sh again after changing it)'],
  ['REDIS_PASSWORD', '', "Password of the stack's Redis (secret; setup.sh generates it)"],
  ['TUNNEL_TOKEN', '', 'Cloudflare Tunnel token for the prod profile (secret)'],
  ['TUNNEL_SUBNET', '10.200.255.248/29', 'Subnet of the tunnel network: the only peers nginx lets name the client'],
  ['TENANCY_IMAGES', '', 'Where images come from: local (built offline from this host) or upstream; setup.sh decides'],
  ['API_IMAGE', 'tenancy/gateway:local', 'Image of the gateway (api service)'],
  ['SUPERVISOR_IMAGE', 'tenancy/supervisor:local', 'Image of the supervisor'],
  ['NGINX_IMAGE', 'nginx:1.27-alpine', 'Image of nginx (tenancy/nginx:local when built offline)'],
  ['REDIS_IMAGE', 'redis:7-alpine', 'Image of Redis (tenancy/redis:local when built offline)'],
  ['CLOUDFLARED_IMAGE', 'cloudflare/cloudflared:latest', 'Image of cloudflared (prod profile)'],
  ['DOCKER_SOCKET', '/var/run/docker.sock', 'Docker socket given to the supervisor (setup.sh keeps it current)'],
  ['DOCKER_GID', '', 'Group id owning the Docker socket, given to the supervisor (setup.sh keeps it current)'],
  ['STACK_LABEL', 'dev.tenancy.stack=tenancy', 'Label (key=value) on every container, network and volume of the stack'],
  [
    'NODE_BASE_IMAGE',
    'tenancy/node-base:local',
    'Local Node base image the offline builds start from (scripts/build-images.sh)',
  ],
];

/**
 * Variables of the default tenant app (tenant-image/src/config.ts, hand-written without a schema
 * to keep the image small): name, default, meaning. The supervisor sets PORT, TENANT_SECRET and
 * the summary pair per tenant; the rest reach every tenant through TENANT_ENV.
 * scripts/test/env-example.test.ts checks this list against what that file reads.
 */
export const TENANT_APP_VARIABLES: [string, string, string][] = [
  ['PORT', '8080', 'Port the app listens on (the supervisor sets it from TENANT_PORT)'],
  ['TENANT_SECRET', '', 'Value of the secret header the gateway adds (the supervisor derives one per tenant)'],
  ['FILES_DIR', '/data/files', "Root of the user's files area, on its own volume"],
  ['HISTORY_DIR', '/data/history', 'Folder of the history database, on its own volume'],
  ['HISTORY_MAX_MESSAGES', '10000', 'Most chat messages kept; older ones are pruned with each exchange'],
  ['FILE_MAX_BYTES', '10485760', 'Largest file accepted'],
  ['FILES_QUOTA_BYTES', '1073741824', 'Most bytes all files may take together'],
  ['SHUTDOWN_GRACE', '8', 'Seconds in-flight requests get after SIGTERM'],
  ['LOG_LEVEL', 'info', 'Log level (pino)'],
  [
    'LLM_BASE_URL',
    '',
    'OpenAI-compatible API (with its version path) that answers the chat; unset: the local responder',
  ],
  ['LLM_MODEL', '', 'Model name (required with LLM_BASE_URL)'],
  ['LLM_API_KEY', '', 'Bearer key of the model API (secret: it reaches every tenant container)'],
  ['LLM_TIMEOUT', '120', 'Seconds a whole answer may take'],
  ['SUMMARY_URL', '', 'Where to push the usage summary (the supervisor sets it when TENANT_SUMMARY_URL is set)'],
  ['SUMMARY_TOKEN', '', "The tenant's own summary token (set with SUMMARY_URL)"],
  ['SUMMARY_INTERVAL', '60', 'Seconds between summary pushes (only when the figures changed)'],
];

/** The text of .env.example. A variable read by several services is listed once, where it first appears. */
/** Variables read outside the services' configuration: by the admin CLI, tests and benchmarks. */
const OUTSIDE_CONFIGURATION: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, string, string]>]> = [
  [
    'admin CLI (tenancy-admin)',
    [['ADMIN_TOKEN_FILE', '', 'A file holding the admin token, read instead of ADMIN_TOKEN']],
  ],
  [
    'the process environment',
    [['PATH', '', 'Where node, docker and nginx are found (the scripts and tests pass it on to what they start)']],
  ],
  [
    'test runs (scripts/test.sh sets them; a focused run may give them)',
    [
      ['TENANCY_TEST_RUN', '', "This run's id: every Docker object a test makes is labelled with it"],
      ['TEST_REDIS_URL', '', "The run's shared Redis (default: scripts/test.sh starts its own on 127.0.0.1)"],
      ['TENANCY_SERVICES', '', 'compiled: tests and benchmarks start the services from dist/ instead of the sources'],
    ],
  ],
  [
    'tests and benchmarks only (see the header of the file that reads each)',
    [
      ['CHROMIUM_PATH', '/usr/bin/chromium', 'The browser of the page tests (test-support/src/chromium.ts)'],
      ['DISK_HELPER_LOCAL_IMAGE', 'tenancy/disk-helper:local', 'Tag of the locally built disk helper image'],
      ['BENCH_CONNECTIONS', '50', 'Concurrent connections of the proxy benchmark (gateway/bench/proxy.ts)'],
      ['BASELINE_IMAGE', '', 'An image to compare idle cost with (supervisor/bench/idle.ts)'],
      ['BASELINE_COUNT', '', 'How many baseline containers (default: as many as tenants)'],
      [
        'IDLE_SETTLE',
        '60',
        'Seconds the idle benchmark waits after the last tenant answered (supervisor/bench/idle.ts)',
      ],
      [
        'STORM_BEFORE',
        '',
        '0: the wake storm benchmark skips its run without the start queue (supervisor/bench/storm.ts)',
      ],
      ['DENSITY_SETTLE', '60', 'Seconds the density benchmark lets started tenants settle'],
      ['DENSITY_WINDOW', '20', 'Seconds of each density measurement window'],
      ['DENSITY_ROUNDS', '3', 'Rounds of the density benchmark'],
      ['DENSITY_SECONDS', '10', 'Seconds of each density round'],
    ],
  ],
];

export function renderEnvExample(): string {
  const seen = new Set<string>();
  const lines = [
    '# Tenancy configuration. Copy to .env (./setup.sh does it and generates the secrets).',
    '# Generated from the config schemas by scripts/env-example.ts; edit the schemas, not this file.',
    '# Durations accept ms, s, m, h, d (a bare number is seconds). Secrets also accept <NAME>_FILE,',
    '# a file holding the value: for example ADMIN_TOKEN_FILE=/run/secrets/admin_token. compose.yaml',
    '# gives each service only the variables it reads: with compose, name a _FILE variable (and mount',
    "# its file) in that service's section instead of here.",
  ];
  for (const [service, schema] of sections) {
    lines.push('', `# ---- ${service} ----`);
    for (const variable of describeConfig(schema)) {
      if (seen.has(variable.name)) continue;
      seen.add(variable.name);
      lines.push(`# ${variable.description}${variable.secret ? ' (secret)' : ''}`);
      const value = variable.default === undefined ? '' : String(variable.default);
      lines.push(`${variable.required || variable.default !== undefined ? '' : '# '}${variable.name}=${value}`);
    }
  }
  lines.push('', '# ---- compose stack (compose.yaml, setup.sh) ----');
  for (const [name, value, description] of COMPOSE_VARIABLES) {
    lines.push(`# ${description}`, `${name}=${value}`);
  }
  lines.push(
    '# Docker engine the supervisor, setup.sh and the scripts use (default: the local unix socket)',
    '# DOCKER_HOST=unix:///var/run/docker.sock',
  );
  lines.push(
    '',
    '# ---- tenant app (inside each tenant container; not read from this file) ----',
    '# Give every tenant one of these through TENANT_ENV, e.g. TENANT_ENV={"LLM_BASE_URL":"...","LLM_MODEL":"..."}',
  );
  for (const [name, value, description] of TENANT_APP_VARIABLES) {
    lines.push(`# ${description}`, `#   ${name}=${value}`);
  }
  for (const [heading, variables] of OUTSIDE_CONFIGURATION) {
    lines.push('', `# ---- ${heading} ----`);
    for (const [name, value, description] of variables) lines.push(`# ${description}`, `#   ${name}=${value}`);
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(renderEnvExample());
