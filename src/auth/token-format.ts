// Token ids and secrets.
//
//   id:     tok_ + 16 base62                       (public; safe to log and show)
//   secret: ggw_|ggr_ + <16-char id body> + <32 random base62> + <6-char base62 CRC-32>
//
// 32 random base62 characters carry ~190 bits. The CRC-32 covers everything before it, so a
// mistyped or truncated secret is rejected without touching the database (any single
// changed character, and any adjacent swap, changes the CRC), and secret scanners can
// validate matches the way they do for GitHub's ghp_ tokens. All characters are
// [0-9A-Za-z_], which never need escaping in a URL's userinfo. 58 characters stays under
// bcrypt's 72-byte input limit, so the whole secret is hashed.
import { crc32 } from 'node:zlib';
import { encodeBase62, randomBase62 } from './base62.js';

export type TokenKind = 'workspace' | 'repo';

const ID_PREFIX = 'tok_';
const ID_BODY_LENGTH = 16;
const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6; // 62^6 > 2^32
const KIND_PREFIX: Record<TokenKind, string> = { workspace: 'ggw_', repo: 'ggr_' };

export const SECRET_LENGTH = 4 + ID_BODY_LENGTH + RANDOM_LENGTH + CHECKSUM_LENGTH;
export const SECRET_RANDOM_BITS = RANDOM_LENGTH * Math.log2(62);

const ID_PATTERN = /^tok_[0-9A-Za-z]{16}$/;
const SECRET_PATTERN = /^(ggw|ggr)_([0-9A-Za-z]{16})[0-9A-Za-z]{32}([0-9A-Za-z]{6})$/;

export function newTokenId(): string {
  return ID_PREFIX + randomBase62(ID_BODY_LENGTH);
}

export function isTokenId(s: string): boolean {
  return ID_PATTERN.test(s);
}

export function generateSecret(kind: TokenKind, id: string): string {
  if (!isTokenId(id)) throw new Error(`not a token id: ${id}`);
  const body = KIND_PREFIX[kind] + id.slice(ID_PREFIX.length) + randomBase62(RANDOM_LENGTH);
  return body + checksum(body);
}

/** Kind and public id of a well-formed secret; null when malformed or the checksum fails. */
export function parseSecret(secret: string): { kind: TokenKind; id: string } | null {
  const match = SECRET_PATTERN.exec(secret);
  if (!match) return null;
  const body = secret.slice(0, secret.length - CHECKSUM_LENGTH);
  if (checksum(body) !== match[3]) return null;
  return { kind: match[1] === 'ggw' ? 'workspace' : 'repo', id: ID_PREFIX + match[2] };
}

/** Shape only (prefix, length, alphabet), checksum not checked: for telling secrets from
 *  ids and for redaction, where a mistyped secret must still be treated as a secret. */
export function looksLikeSecret(s: string): boolean {
  return SECRET_PATTERN.test(s);
}

function checksum(body: string): string {
  return encodeBase62(crc32(body), CHECKSUM_LENGTH);
}
