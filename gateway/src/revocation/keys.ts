import { createHash } from 'node:crypto';

/** Redis names of the revocation state, shared by every gateway replica. */
export const REVOCATION_CHANNEL = 'tenancy:revocations';
export const sessionKey = (sid: string) => `tenancy:revoked:sid:${sid}`;
export const userKey = (userId: string) => `tenancy:revoked:user:${userHash(userId)}`;
/** A revoked personal API key, by its lookup id (base62: no `:` in it). */
export const apiKeyKey = (keyId: string) => `tenancy:revoked:key:${keyId}`;
export const REVOCATION_KEY_PATTERN = 'tenancy:revoked:*';

/** User ids may hold anything; keys and messages carry a digest instead. */
export function userHash(userId: string): string {
  return createHash('sha256').update(userId).digest('hex').slice(0, 32);
}

/** A message on the revocation channel. */
export type RevocationMessage =
  | { kind: 'session'; sid: string }
  | { kind: 'user'; user: string; before: number }
  | { kind: 'key'; keyId: string };
