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
  /**
   * Most chat messages kept (HISTORY_MAX_MESSAGES, default 10,000, at least 2): older ones are
   * pruned with each exchange, so the history stays inside the tenant's disk quota.
   */
  historyMaxMessages: number;
  /** Largest file accepted, bytes (FILE_MAX_BYTES, default 10 MiB). */
  fileMaxBytes: number;
  /** Most bytes all files may take together (FILES_QUOTA_BYTES, default 1 GiB). */
  filesQuotaBytes: number;
  /** Time in-flight requests get after SIGTERM, ms (SHUTDOWN_GRACE in seconds, default 8). */
  shutdownGraceMs: number;
  /** pino level (LOG_LEVEL, default info). */
  logLevel: string;
  /**
   * A model behind an OpenAI-compatible API answers the chat when LLM_BASE_URL is set (LLM_MODEL
   * required, LLM_API_KEY optional, LLM_TIMEOUT in seconds, default 120). The tenant's network
   * must allow egress to reach it (a plan with egress). Otherwise the local responder answers.
   */
  model?: { baseUrl: string; apiKey?: string; model: string; timeoutMs: number };
  /**
   * Where to push the usage summary (SUMMARY_INTERVAL seconds after a change, default 60, and at
   * shutdown; no timer runs while nothing changes):
   * SUMMARY_URL (the supervisor's POST /v1/tenants/<user>/summary), with SUMMARY_TOKEN, the
   * tenant's own token. Unset: nothing is pushed; the supervisor reads GET /summary itself.
   */
  summary?: { url: string; token: string; intervalMs: number };
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
    historyMaxMessages: integer('HISTORY_MAX_MESSAGES', 10_000, 2),
    fileMaxBytes: integer('FILE_MAX_BYTES', 10 * 1024 * 1024, 1),
    filesQuotaBytes: integer('FILES_QUOTA_BYTES', 1024 * 1024 * 1024, 1),
    shutdownGraceMs: integer('SHUTDOWN_GRACE', 8, 0) * 1000,
    logLevel: env.LOG_LEVEL || 'info',
  };
  const url = (name: string): string | undefined => {
    const raw = env[name];
    if (!raw) return undefined;
    if (!/^https?:\/\/[^\s]+$/.test(raw)) problems.push(`${name} must be an http(s) URL`);
    return raw;
  };
  const modelUrl = url('LLM_BASE_URL');
  if (modelUrl) {
    if (!env.LLM_MODEL) problems.push('LLM_MODEL is required when LLM_BASE_URL is set');
    config.model = {
      baseUrl: modelUrl,
      model: env.LLM_MODEL ?? '',
      timeoutMs: integer('LLM_TIMEOUT', 120, 1) * 1000,
      ...(env.LLM_API_KEY ? { apiKey: env.LLM_API_KEY } : {}),
    };
  }
  const summaryUrl = url('SUMMARY_URL');
  if (summaryUrl) {
    if (!env.SUMMARY_TOKEN) problems.push('SUMMARY_TOKEN is required when SUMMARY_URL is set');
    config.summary = {
      url: summaryUrl,
      token: env.SUMMARY_TOKEN ?? '',
      intervalMs: integer('SUMMARY_INTERVAL', 60, 1) * 1000,
    };
  }
  if (problems.length > 0) throw new Error(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return config;
}
