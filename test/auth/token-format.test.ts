import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BASE62, encodeBase62, randomBase62 } from '../../src/auth/base62.js';
import {
  generateSecret,
  isTokenId,
  looksLikeSecret,
  newTokenId,
  parseSecret,
  SECRET_LENGTH,
  SECRET_RANDOM_BITS,
} from '../../src/auth/token-format.js';

describe('token ids', () => {
  it('are tok_ plus 16 base62 characters, and distinct', () => {
    const ids = new Set(Array.from({ length: 500 }, () => newTokenId()));
    expect(ids.size).toBe(500);
    for (const id of ids) {
      expect(id).toMatch(/^tok_[0-9A-Za-z]{16}$/);
      expect(isTokenId(id)).toBe(true);
    }
    expect(isTokenId('tok_short')).toBe(false);
  });
});

describe('secrets', () => {
  it('round-trip: kind and id come back out of the secret', () => {
    for (const kind of ['workspace', 'repo'] as const) {
      const id = newTokenId();
      const secret = generateSecret(kind, id);
      expect(parseSecret(secret)).toEqual({ kind, id });
      expect(looksLikeSecret(secret)).toBe(true);
    }
  });

  it('carry a kind-revealing prefix', () => {
    expect(generateSecret('workspace', newTokenId()).startsWith('ggw_')).toBe(true);
    expect(generateSecret('repo', newTokenId()).startsWith('ggr_')).toBe(true);
  });

  it('have at least 160 random bits, fit bcrypt, and need no URL escaping', () => {
    expect(SECRET_RANDOM_BITS).toBeGreaterThanOrEqual(160);
    const secret = generateSecret('repo', newTokenId());
    expect(secret).toHaveLength(SECRET_LENGTH);
    expect(Buffer.byteLength(secret)).toBeLessThanOrEqual(72); // bcrypt ignores bytes past 72
    expect(encodeURIComponent(secret)).toBe(secret);
    // the random part really differs between two secrets for the same id
    const id = newTokenId();
    expect(generateSecret('repo', id)).not.toBe(generateSecret('repo', id));
  });

  it('random characters are spread over the whole alphabet', () => {
    const sample = randomBase62(62 * 200);
    const counts = new Map<string, number>();
    for (const c of sample) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    for (const n of counts.values()) expect(n).toBeGreaterThan(100); // expected 200 each
  });

  it('reject every single-character typo (checksum), without a database', () => {
    const secret = generateSecret('repo', newTokenId());
    const alphabet = BASE62 + '_-.';
    let tried = 0;
    for (let i = 0; i < secret.length; i++) {
      for (const c of alphabet) {
        if (c === secret[i]) continue;
        const typo = secret.slice(0, i) + c + secret.slice(i + 1);
        expect(parseSecret(typo), `position ${i} -> ${c}`).toBeNull();
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(secret.length * 60);
  });

  it('reject swapped adjacent characters, dropped and extra characters', () => {
    const secret = generateSecret('workspace', newTokenId());
    for (let i = 4; i < secret.length - 1; i++) {
      if (secret[i] === secret[i + 1]) continue;
      const swapped = secret.slice(0, i) + secret[i + 1] + secret[i] + secret.slice(i + 2);
      expect(parseSecret(swapped), `swap at ${i}`).toBeNull();
    }
    expect(parseSecret(secret.slice(0, -1))).toBeNull();
    expect(parseSecret(secret + 'a')).toBeNull();
    expect(parseSecret(' ' + secret)).toBeNull();
  });

  it('reject a kind prefix changed after the fact (the checksum covers it)', () => {
    const secret = generateSecret('repo', newTokenId());
    expect(parseSecret('ggw_' + secret.slice(4))).toBeNull();
  });

  it('refuse to embed something that is not a token id', () => {
    expect(() => generateSecret('repo', 'not-an-id')).toThrow();
  });

  it('looksLikeSecret checks shape only; parseSecret also the checksum', () => {
    const secret = generateSecret('repo', newTokenId());
    const badChecksum = secret.slice(0, -1) + (secret.endsWith('a') ? 'b' : 'a');
    expect(looksLikeSecret(badChecksum)).toBe(true);
    expect(parseSecret(badChecksum)).toBeNull();
    expect(looksLikeSecret(newTokenId())).toBe(false);
    expect(looksLikeSecret('ghp_' + secret.slice(4))).toBe(false);
  });
});

describe('checksum building blocks', () => {
  it('crc32 matches the standard check value', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
  });

  it('encodeBase62 pads to a fixed width and refuses overflow', () => {
    expect(encodeBase62(0, 6)).toBe('000000');
    expect(encodeBase62(61, 2)).toBe('0z');
    expect(encodeBase62(0xffffffff, 6)).toHaveLength(6);
    expect(() => encodeBase62(62 ** 2, 2)).toThrow(RangeError);
  });
});
