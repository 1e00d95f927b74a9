import { createHash } from 'node:crypto';
import t from 'tap';
import { apiKeyId, checksumOf, hashApiKey, looksLikeApiKey, mintApiKey } from '../../src/api-keys/key-format.js';

/** Replaces the character at `index` with another base62 character. */
function flip(key: string, index: number): string {
  const c = key[index] === 'a' ? 'b' : 'a';
  return key.slice(0, index) + c + key.slice(index + 1);
}

t.test('a minted key: tny_, 61 base62 characters, its id inside, its checksum holding, its hash SHA-256', async (t) => {
  const { id, key, hash } = mintApiKey();
  t.match(key, /^tny_[0-9A-Za-z]{61}$/);
  t.equal(key.length, 65);
  t.equal(key.slice(4, 16), id, 'the lookup id is the 12 characters after the prefix');
  t.equal(apiKeyId(key), id);
  t.equal(checksumOf(key.slice(0, -6)), key.slice(-6));
  t.equal(hash, createHash('sha256').update(key).digest('hex'));
  t.equal(hashApiKey(key), hash);
  t.ok(looksLikeApiKey(key));
});

t.test('keys are random: a thousand are all different, in id and in secret', async (t) => {
  const keys = Array.from({ length: 1_000 }, () => mintApiKey());
  t.equal(new Set(keys.map((k) => k.key)).size, 1_000);
  t.equal(new Set(keys.map((k) => k.id)).size, 1_000);
  t.equal(new Set(keys.map((k) => k.key.slice(16, 59))).size, 1_000);
});

t.test('the checksum is CRC32 in base62, left-padded to 6 characters', async (t) => {
  // CRC32 computed independently, bit by bit with the standard reflected polynomial.
  const crc = (text: string) => {
    let c = ~0;
    for (const byte of Buffer.from(text)) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    return ~c >>> 0;
  };
  const base62 = (n: number) => {
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    let out = '';
    for (let v = n; v > 0; v = Math.floor(v / 62)) out = alphabet[v % 62] + out;
    return out.padStart(6, '0');
  };
  for (const body of ['tny_', 'tny_000000000000', `tny_${'A'.repeat(55)}`, '']) {
    t.equal(checksumOf(body), base62(crc(body)), JSON.stringify(body));
  }
  t.equal(checksumOf(''), '000000', 'CRC32 of nothing is 0');
});

t.test('anything but a whole, intact key has no id (refused before any lookup)', async (t) => {
  const { key } = mintApiKey();
  const rows: [string, string][] = [
    ['a secret character changed', flip(key, 30)],
    ['an id character changed', flip(key, 5)],
    ['a checksum character changed', flip(key, 62)],
    ['truncated by one', key.slice(0, -1)],
    ['one character too many', `${key}a`],
    ['another prefix', `tnx_${key.slice(4)}`],
    ['upper-case prefix', `TNY_${key.slice(4)}`],
    ['a non-base62 character', `${key.slice(0, 20)}-${key.slice(21)}`],
    ['whitespace around it', ` ${key}`],
    ['an admin token', `tnya_${'0'.repeat(12)}_${'A'.repeat(43)}`],
    ['empty', ''],
  ];
  for (const [what, candidate] of rows) t.equal(apiKeyId(candidate), undefined, what);
});
