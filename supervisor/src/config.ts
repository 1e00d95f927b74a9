import { type StaticDecode, Type } from '@sinclair/typebox';
import { ByteSize, ConfigError, Duration, loadConfig, SECRET, Secret, TenantSubnetPool } from '@tenancy/shared';

/**
 * The supervisor's whole configuration: one schema, read from the environment once at start.
 * Each property is an environment variable; `.env.example` lists them all.
 */
export const SupervisorConfigSchema = Type.Object({
  SUPERVISOR_HOST: Type.String({
    default: '127.0.0.1',
    description: 'Address the admin and internal API listen on. Keep it off tenant networks (see docs/security.md)',
  }),
  SUPERVISOR_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 4010, description: 'TCP port of the API' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'Log level (pino)' },
  ),
  ADMIN_TOKEN: Secret('Bearer token of the admin API (/v1/*); ADMIN_TOKEN_FILE accepted'),
  SUPERVISOR_TOKEN: Secret('Bearer token the gateway uses on the internal API (/internal/v1/*)'),
  TENANT_NAMESPACE_KEY: Secret(
    'HMAC key deriving Docker object names and per-tenant secrets from user ids; changing it orphans every tenant',
  ),
  DATABASE_PATH: Type.String({
    default: './data/tenancy.db',
    description: 'Central SQLite database file (users, tenants, audit, aggregates)',
  }),
  BACKUP_DIR: Type.String({
    default: './data/backups',
    description: 'Folder where POST /v1/backup (tenancy-admin backup) writes online copies of the database',
  }),
  TENANCY_INSTANCE: Type.String({
    pattern: '^[a-z][a-z0-9-]{0,23}$',
    default: 'tenancy',
    description:
      'Name of this deployment: prefixes Docker object names and labels them, so deployments can share an engine',
  }),
  TENANT_RUNTIME: Type.Union([Type.Literal('docker'), Type.Literal('swarm')], {
    default: 'docker',
    description:
      'Where tenants run: docker (containers on this host\'s engine) or swarm (services on a Docker Swarm whose manager is DOCKER_HOST; see docs/architecture.md, "Docker Swarm")',
  }),
  SWARM_NODE_ENGINES: Type.String({
    default: '',
    pattern: '^\\s*([A-Za-z0-9]+=(unix|tcp)://[^,\\s]+\\s*(,\\s*[A-Za-z0-9]+=(unix|tcp)://[^,\\s]+\\s*)*)?$',
    description:
      "Swarm mode: the engine of each other node as comma-separated NODE_ID=unix:///path or NODE_ID=tcp://host:port (always TLS, with SWARM_NODE_TLS_DIR). Peers are attached, tenants paused and volumes read there; the manager's own node is added by itself",
  }),
  SWARM_NODE_TLS_DIR: Type.String({
    default: '',
    description:
      'Swarm mode: folder with ca.pem, cert.pem and key.pem for the tcp:// engines of SWARM_NODE_ENGINES (the engines verify the client certificate, the supervisor theirs)',
  }),
  TENANT_IMAGE: Type.String({ default: 'tenancy/tenant:local', description: 'Image every tenant container runs' }),
  TENANT_PORT: Type.Integer({
    minimum: 1,
    maximum: 65535,
    default: 8080,
    description: 'Port the tenant app listens on',
  }),
  TENANT_HEALTH_PATH: Type.String({
    pattern: '^/',
    default: '/health',
    description: 'Path probed to decide a tenant is ready',
  }),
  TENANT_SUBNET_POOL: TenantSubnetPool('Address pool the per-tenant networks are cut from'),
  TENANT_SUBNET_PREFIX: Type.Integer({
    minimum: 16,
    maximum: 29,
    default: 28,
    description: 'Prefix length of each tenant network (28 = 16 addresses; a /16 pool then holds 4096 tenants)',
  }),
  TENANT_NETWORK_ATTACH: Type.String({
    default: '',
    description:
      "Comma-separated containers (gateway replicas) to connect to each tenant network, for compose deployments; empty in host mode. In swarm mode: the gateway's and supervisor's service names, whose tasks on every node are connected",
  }),
  TENANT_LABELS: Type.String({
    default: '',
    description: 'Extra labels for every Docker object of a tenant, as comma-separated key=value pairs',
  }),
  TENANT_ENV: Type.String({
    default: '',
    [SECRET]: true,
    description:
      'Extra environment for every tenant app as a JSON object, e.g. {"LLM_BASE_URL": "...", "LLM_MODEL": "..."}; it may hold keys, so it is treated as a secret',
  }),
  TENANT_SUMMARY_URL: Type.String({
    default: '',
    description:
      'Where tenants push their usage summary, if anywhere: a URL that reaches this supervisor from outside the tenant pool (connections from the pool itself are refused), e.g. a relay. Empty (the default): the supervisor reads each summary before stopping the tenant',
  }),
  PLANS: Type.String({
    default: '',
    description:
      'Plan table as JSON {"name": {"memoryMb", "cpus", "pids", "egress", "tmpMb", "diskMb"}}; merged over the built-in "free" plan (diskMb 1024)',
  }),
  TENANT_DISK_DIR: Type.String({
    pattern: '^/',
    default: '/var/lib/tenancy-disks',
    description:
      "Absolute host folder of the per-tenant filesystems (the disk quota: one ext4 image of the plan's diskMb per tenant, loop-mounted here). The same path for the supervisor, the engine and, in a container, its bind mount",
  }),
  TENANT_DISK_HELPER_IMAGE: Type.String({
    default: '',
    description:
      "Image of the short-lived privileged helper container that mounts tenant filesystems on the host (nsenter into the host's mount namespace), for a supervisor running in a container. Empty: the supervisor runs the commands itself (host mode, as root)",
  }),
  UNSAFE_TENANT_DISK_UNBOUNDED: Type.Boolean({
    default: false,
    description:
      "Run without disk quotas when the host cannot enforce them (the supervisor refuses to start otherwise): every tenant can then fill the host's disk, the central database's included. Development only",
  }),
  UNSAFE_TENANT_HOST_REACHABLE: Type.Boolean({
    default: false,
    description:
      "Run in host mode without the network filter when it cannot be installed (not root, no iptables; the supervisor refuses to start otherwise): every tenant can then reach each service listening on all of the host's addresses. Development only",
  }),
  EGRESS_DENY: Type.String({
    default: '',
    pattern: '^\\s*(\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}\\s*(,\\s*\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}\\s*)*)?$',
    description:
      'Comma-separated IPv4 blocks tenants with egress may not reach, on top of every non-public block (private, CGNAT, link-local, loopback...): your LAN if it uses public or documentation addresses',
  }),
  IDLE_TIMEOUT: Duration(
    '20m',
    'Time without activity after which a running tenant is put to sleep: paused first (see PAUSE_TIMEOUT)',
  ),
  PAUSE_TIMEOUT: Duration(
    '2h',
    'Time a tenant stays paused (frozen: memory kept, no CPU, wakes in tens of milliseconds) before it is stopped; 0 stops idle tenants at once, never pausing them',
  ),
  MEMORY_RESERVE: ByteSize(
    '1g',
    "Memory each node keeps available (the kernel's MemAvailable of the host, or of each node of a swarm): while a node has less, the paused tenants on it are stopped early, least recently active first",
  ),
  WARMUP_TIMEOUT: Duration(
    '45s',
    'Budget for a wake once it has a start slot (create, start, first healthy answer); also the longest a waiting request is held before it is told to retry',
  ),
  WAKE_CONCURRENCY: Type.Integer({
    minimum: 0,
    maximum: 256,
    default: 0,
    description:
      'Most container starts at once; further wakes wait in order in the start queue. 0: twice the CPU count. Resuming a paused tenant does not queue',
  }),
  STOP_GRACE: Duration('10s', 'Time a tenant gets between SIGTERM and SIGKILL when stopped'),
  DOCKER_TIMEOUT: Duration(
    '10s',
    'Longest a quick Docker API call (inspect, list, create, connect, pause, logs, ping) may take; a stop gets STOP_GRACE on top. An engine that does not answer in time fails the call (503 SUP_ERR_RUNTIME_UNAVAILABLE) instead of holding it. The calls of a wake are bounded by its WARMUP_TIMEOUT instead',
  ),
  DOCKER_START_TIMEOUT: Duration(
    '30s',
    'Longest starting or force-removing a container may take outside a wake (a wake is bounded by its WARMUP_TIMEOUT instead)',
  ),
  HEALTH_PROBE_INTERVAL: Duration(
    '25ms',
    'First pause between readiness probes during a wake; it doubles after each miss',
  ),
  HEALTH_PROBE_MAX_INTERVAL: Duration('250ms', 'Longest pause between readiness probes during a wake'),
  REAPER_INTERVAL: Duration(
    '5s',
    'How often idle deadlines (and due account deletions, and inactive accounts when INACTIVE_TENANT_DAYS is set) are checked',
  ),
  DELETION_GRACE: Duration(
    '7d',
    'Time between a user asking to delete their account (it is disabled at once) and its erasure: tenant, volumes, disk, user record and email; the user may restore the account until then',
  ),
  INACTIVE_TENANT_DAYS: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      'Delete the accounts of users who have not signed in (nor used an API key) for this many days: warned INACTIVE_WARNING_DAYS before in the audit log and the admin console, then disabled and erased after DELETION_GRACE like a deletion the user asked for. 0: off',
  }),
  INACTIVE_WARNING_DAYS: Type.Integer({
    minimum: 1,
    default: 7,
    description:
      'Days before INACTIVE_TENANT_DAYS that an inactive account is warned; a sign-in in between clears the warning. Less than INACTIVE_TENANT_DAYS',
  }),
  MAX_RUNNING_TENANTS: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      'Most tenants running, waking or stopping at once (paused ones do not count: MEMORY_RESERVE bounds them). 0: sized at start from the memory of the nodes tenants run on (the host; every ready and active node of a swarm), one per 96 MiB, at least 10',
  }),
  CAPACITY_POLICY: Type.Union([Type.Literal('evict'), Type.Literal('reject')], {
    default: 'evict',
    description:
      'When full: evict the least recently active tenant idle for at least EVICT_MIN_IDLE, or answer 429 (reject)',
  }),
  EVICT_MIN_IDLE: Duration('2m', 'A tenant must have been idle this long to be evicted for capacity'),
});

export type SupervisorConfig = StaticDecode<typeof SupervisorConfigSchema>;

/** Reads and validates the configuration; throws a ConfigError listing every problem. */
export function loadSupervisorConfig(env: Readonly<Record<string, string | undefined>>): Readonly<SupervisorConfig> {
  const config = loadConfig(SupervisorConfigSchema, env);
  // The warning must come before the deletion, with at least a day left to answer it.
  if (config.INACTIVE_TENANT_DAYS > 0 && config.INACTIVE_WARNING_DAYS >= config.INACTIVE_TENANT_DAYS) {
    throw new ConfigError([
      `INACTIVE_WARNING_DAYS (${config.INACTIVE_WARNING_DAYS}) must be less than INACTIVE_TENANT_DAYS (${config.INACTIVE_TENANT_DAYS})`,
    ]);
  }
  return config;
}
