import { errors } from './errors.js';

/** Variables the platform sets itself; an operator's TENANT_ENV may not replace them. */
const RESERVED = new Set(['PORT', 'TENANT_SECRET', 'SUMMARY_URL', 'SUMMARY_TOKEN']);

/**
 * Parses TENANT_ENV: a JSON object of string values with environment-variable names, passed to
 * every tenant app (the model settings of the default app, for example). Empty means none.
 * Errors never echo the values, which may be keys.
 */
export function parseTenantEnv(json: string): Readonly<Record<string, string>> {
  if (json.trim() === '') return Object.freeze({});
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw errors.badRequest('TENANT_ENV is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw errors.badRequest('TENANT_ENV must be a JSON object of NAME: "value" pairs');
  }
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw errors.badRequest(`TENANT_ENV: ${JSON.stringify(name)} is not a variable name`);
    if (RESERVED.has(name)) throw errors.badRequest(`TENANT_ENV: ${name} is set by the platform`);
    if (typeof value !== 'string') throw errors.badRequest(`TENANT_ENV: ${name} must be a string`);
    env[name] = value;
  }
  return Object.freeze(env);
}
