/**
 * The tenant app's configuration, from the environment the supervisor gives its container.
 * Hand-written rather than a schema library: a dozen variables, and the image stays small.
 */
export interface TenantConfig {
  /** TCP port (PORT, default 8080). */
  port: number;
  /** Value the platform sends in x-tenancy-tenant-secret (TENANT_SECRET, required). */
  secret: string;
  /** Root of the user's files volume (FILES_DIR, default /data/files). */
  filesDir: string;
  /** Folder of the history database, on its own volume (HISTORY_DIR, default /data/history). */
  historyDir: string;
  /** Largest file accepted, bytes (FILE_MAX_BYTES, default 10 MiB). */
  fileMaxBytes: number;
  /** Most bytes all files may take together (FILES_QUOTA_BYTES, default 1 GiB). */
  filesQuotaBytes: number;
  /** Time in-flight requests get after SIGTERM, ms (SHUTDOWN_GRACE in seconds, default 8). */
  shutdownGraceMs: number;
  /** pino level (LOG_LEVEL, default info). */
  logLevel: string;
}

export function loadTenantConfig(env: Readonly<Record<string, string | undefined>>): TenantConfig {
  const problems: string[] = [];
  const integer = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      problems.push(`${name} must be an integer ≥ ${min} (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    return value;
  };
  const secret = env.TENANT_SECRET ?? '';
  if (secret.length < 16) problems.push('TENANT_SECRET is required (at least 16 characters): the platform sets it');
  const config: TenantConfig = {
    port: integer('PORT', 8080, 1),
    secret,
    filesDir: env.FILES_DIR || '/data/files',
    historyDir: env.HISTORY_DIR || '/data/history',
    fileMaxBytes: integer('FILE_MAX_BYTES', 10 * 1024 * 1024, 1),
    filesQuotaBytes: integer('FILES_QUOTA_BYTES', 1024 * 1024 * 1024, 1),
    shutdownGraceMs: integer('SHUTDOWN_GRACE', 8, 0) * 1000,
    logLevel: env.LOG_LEVEL || 'info',
  };
  if (problems.length > 0) throw new Error(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return config;
}
