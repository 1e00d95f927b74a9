import type { TenantSummary } from './ports.js';

/** Longest the supervisor waits for a tenant's summary before stopping it anyway. */
const SUMMARY_TIMEOUT_MS = 1_000;
/** Largest summary body read: the real one is about a hundred bytes. */
const SUMMARY_MAX_BYTES = 4_096;

/**
 * Reads a running tenant's usage summary (GET /summary, with its secret header), so aggregates
 * stay current even where the tenant cannot reach the supervisor (the default: tenant networks
 * have no route to it). The answer comes from tenant code and is untrusted: anything that is not
 * a well-formed summary is ignored, and a redirect is refused, never followed. Never throws;
 * returns undefined when there is nothing usable.
 */
export async function readTenantSummary(endpointUrl: string, secret: string): Promise<TenantSummary | undefined> {
  try {
    const res = await fetch(new URL('/summary', endpointUrl), {
      headers: { 'x-tenancy-tenant-secret': secret },
      // Tenant code must not make the supervisor fetch another address (and hand it the secret).
      redirect: 'error',
      signal: AbortSignal.timeout(SUMMARY_TIMEOUT_MS),
    });
    const body = await res.arrayBuffer();
    if (!res.ok || body.byteLength > SUMMARY_MAX_BYTES) return undefined;
    return parseSummary(JSON.parse(Buffer.from(body).toString('utf8')));
  } catch {
    return undefined;
  }
}

/** A summary when `value` is one (non-negative safe integers, lastActivity a time or null). */
export function parseSummary(value: unknown): TenantSummary | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const count = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!count(v.messages) || !count(v.replies) || !count(v.tokensUsed) || !count(v.bytesStored)) return undefined;
  if (v.lastActivity !== null && !count(v.lastActivity)) return undefined;
  return {
    messages: v.messages as number,
    replies: v.replies as number,
    tokensUsed: v.tokensUsed as number,
    bytesStored: v.bytesStored as number,
    lastActivity: v.lastActivity as number | null,
  };
}
