import { createHash, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Personal API keys: `tny_` + id (12) + secret (43) + checksum (6), all base62, 65 characters.
 *
 * - The prefix and fixed shape (`tny_[0-9A-Za-z]{61}`) let secret scanners and people recognise
 *   a key, as GitHub's `ghp_` tokens do.
 * - `id` is the key's public lookup id: listed, used to revoke it, and it finds the key's row
 *   without scanning. It says nothing about the secret.
 * - `secret` is 43 random base62 characters: 62^43 > 2^256.
 * - `checksum` is the CRC32 of everything before it, base62: a mistyped or truncated key, or a
 *   random string shaped like one, is refused without any lookup.
 *
 * Stored as SHA-256 of the whole key, not bcrypt or scrypt: a slow hash makes guessing
 * low-entropy passwords expensive, and a 256-bit random secret cannot be guessed whatever the
 * hash costs. A slow hash would only add ~100 ms of CPU to every key verification, which anyone
 * holding a key-shaped string could use to load the supervisor. A leaked database still does not
 * give the keys away: SHA-256 cannot be reversed, and the preimage has 256 bits.
 */
export const API_KEY_PREFIX = 'tny_';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_LENGTH = 12;
const SECRET_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
const SHAPE = new RegExp(
  `^${API_KEY_PREFIX}([0-9A-Za-z]{${ID_LENGTH}})[0-9A-Za-z]{${SECRET_LENGTH}}([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`,
);
/** A lookup id as it appears in URLs. */
export const API_KEY_ID_PATTERN = `^[0-9A-Za-z]{${ID_LENGTH}}$`;

/** `length` uniformly random base62 characters (randomInt rejects bias itself). */
function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

/** A non-negative integer in base62, left-padded with zeros to `length`. */
function toBase62(value: number, length: number): string {
  let out = '';
  let rest = value;
  while (rest > 0) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(length, '0');
}

/** The checksum of a key's body (prefix, id and secret). */
export function checksumOf(body: string): string {
  return toBase62(crc32(body), CHECKSUM_LENGTH);
}

/** A new key with its lookup id and the hash to store. The key itself is shown once, never stored. */
export function mintApiKey(): { id: string; key: string; hash: string } {
  const id = randomBase62(ID_LENGTH);
  const body = `${API_KEY_PREFIX}${id}${randomBase62(SECRET_LENGTH)}`;
  const key = `${body}${checksumOf(body)}`;
  return { id, key, hash: hashApiKey(key) };
}

/**
 * The lookup id of a well-formed key whose checksum holds; undefined for anything else, which
 * is then refused without asking anyone.
 */
export function apiKeyId(key: string): string | undefined {
  const match = SHAPE.exec(key);
  if (!match) return undefined;
  const body = key.slice(0, -CHECKSUM_LENGTH);
  return checksumOf(body) === match[2] ? match[1] : undefined;
}

/** True when a string starts like an API key: such a bearer credential is ours, not the tenant's. */
export function looksLikeApiKey(credential: string): boolean {
  return credential.startsWith(API_KEY_PREFIX);
}

/** Hex SHA-256 of the whole key: what the supervisor stores and compares. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
