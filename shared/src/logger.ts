import type { LoggerOptions } from 'pino';

/**
 * Paths pino removes from every log line: credentials must never reach the log, whichever
 * object they hide in. Fastify logs requests as `req`, our own code uses `headers`.
 */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["cf-access-jwt-assertion"]',
  'req.headers["x-tenancy-tenant-secret"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-tenancy-tenant-secret"]',
  'token',
  'secret',
  'password',
];

/**
 * Paths polled by health checks and metrics scrapers every few seconds: both services skip
 * their per-request log lines, which would bury the requests that matter.
 */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics']);

/** Logger options both services start from: JSON lines, one `service` field, secrets redacted. */
export function loggerOptions(service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label }) },
  };
}
