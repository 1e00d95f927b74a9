import { createHmac } from 'node:crypto';

/** Characters of a label: RFC 4648 base32, lowercase (DNS names are case-insensitive). */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** Length of every label: 26 base32 characters carry 130 bits of the HMAC. */
export const LABEL_LENGTH = 26;

/** A label as it may appear in a host name. */
export const LABEL_PATTERN = `[a-z2-7]{${LABEL_LENGTH}}`;

/**
 * The host label of a user's tenant: HMAC-SHA256 of the user id under TENANT_LABEL_KEY, base32,
 * 26 characters. Stable (the same user always gets the same host, so bookmarks keep working),
 * unique in practice (130 bits: a collision is not expected before ~2^65 users), and it reveals
 * nothing about the user id to whoever sees the host name (DNS logs, certificate transparency
 * does not see it at all: the certificate is a wildcard). Without the key nobody can compute a
 * user's host, which keeps host names from being guessed from user ids.
 */
export function tenantLabel(key: string, userId: string): string {
  const digest = createHmac('sha256', key).update(`tenant-label:${userId}`).digest();
  let label = '';
  let bits = 0;
  let value = 0;
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && label.length < LABEL_LENGTH) {
      label += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (label.length === LABEL_LENGTH) break;
    value &= (1 << bits) - 1;
  }
  return label;
}
