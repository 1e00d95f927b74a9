import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { errors } from '../errors.js';

/** How long a code may wait to be exchanged (ms): one redirect's worth, with room for a slow link. */
export const CODE_TTL_MS = 60_000;

/** What a code stands for: one session's entry to one tenant host. */
export interface CodeGrant {
  /** The tenant host's label the code was issued for; it is refused on any other host. */
  label: string;
  userId: string;
  /** The platform session: the tenant-origin session carries its id and login time. */
  sid: string;
  authTime: number;
  email: string | null;
  plan: string;
  /** The path on the tenant host to land on. */
  next: string;
}

/** Codes are stored under a digest: a Redis dump or MONITOR shows no code that could be used. */
const codeKey = (code: string) => `tenancy:code:${createHash('sha256').update(code).digest('hex')}`;

/**
 * One-time codes that carry a platform session to a tenant origin. The platform origin issues
 * one and redirects the browser to the tenant host with it; the tenant host redeems it
 * server-side. A code is 256 random bits, lives {@link CODE_TTL_MS} in Redis (shared by every
 * replica: the redirect may land on another one) and is taken with GETDEL, so of two
 * redemptions, even on two replicas at the same moment, exactly one gets the grant.
 */
export class ExchangeCodes {
  constructor(
    private readonly redis: Redis,
    /** Longest wait for Redis (ms), then 503. */
    private readonly timeoutMs: number,
  ) {}

  /** Stores a grant and returns its code. */
  async issue(grant: CodeGrant): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    await this.withTimeout(this.redis.set(codeKey(code), JSON.stringify(grant), 'PX', CODE_TTL_MS, 'NX'));
    return code;
  }

  /** Takes a code's grant, once: undefined when the code is unknown, used or expired. */
  async redeem(code: string): Promise<CodeGrant | undefined> {
    const text = await this.withTimeout(this.redis.getdel(codeKey(code)));
    if (text === null) return undefined;
    return JSON.parse(text) as CodeGrant;
  }

  private async withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(errors.exchangeUnavailable()), this.timeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } catch (err) {
      throw err instanceof Error && 'code' in err && err.code === errors.exchangeUnavailable.code
        ? err
        : errors.exchangeUnavailable(undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}
