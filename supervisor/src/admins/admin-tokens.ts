import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Named admin tokens: `tnya_<id>_<secret>`. The prefix lets secret scanners and people recognise
 * one; `id` (12 hex characters) finds the identity's row without scanning; `secret` is 32 random
 * bytes (base64url, 43 characters).
 *
 * Stored as SHA-256 of the whole token, not bcrypt or scrypt: a slow hash exists to make
 * guessing low-entropy passwords expensive, and a 256-bit random secret cannot be guessed
 * whatever the hash costs. A slow hash would only make every admin request cost ~100 ms of CPU,
 * which anyone who can reach the admin API could use to load the supervisor. A leaked database
 * still does not give the tokens away: SHA-256 cannot be reversed.
 */
export const ADMIN_TOKEN_PREFIX = 'tnya_';

const SHAPE = /^tnya_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** A new token with its lookup id and the hash to store. The token itself is shown once, never stored. */
export function mintAdminToken(): { id: string; token: string; hash: string } {
  const id = randomBytes(6).toString('hex');
  const token = `${ADMIN_TOKEN_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
  return { id, token, hash: hashAdminToken(token) };
}

/** The lookup id of a token shaped like a named admin token, or undefined. */
export function adminTokenId(token: string): string | undefined {
  return SHAPE.exec(token)?.[1];
}

/** Hex SHA-256 of the whole token: what the store keeps. */
export function hashAdminToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether `token` hashes to `storedHash`, compared in constant time. */
export function adminTokenMatches(token: string, storedHash: string): boolean {
  const presented = Buffer.from(hashAdminToken(token), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
