// Header-level checks shared by commits and tags: verify_headers and fsck_ident (fsck.c).
import { isOid } from '../../oid.js';
import type { Reporter } from './reporter.js';

export const LF = 0x0a;

/** verify_headers: the header ends in "\n\n" or a final LF, with no NUL; false stops the check. */
export function verifyHeaders(buf: Buffer, r: Reporter): boolean {
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) return !r.report('nulInHeader', `unterminated header: NUL at offset ${i}`);
    if (buf[i] === LF && buf[i + 1] === LF) return true;
  }
  if (buf.length > 0 && buf[buf.length - 1] === LF) return true;
  return !r.report('unterminatedHeader', 'unterminated header');
}

/** The position after `prefix` when it starts at pos, else -1. */
export function skipPrefix(buf: Buffer, pos: number, prefix: string): number {
  if (pos >= buf.length) return -1;
  return buf.toString('latin1', pos, pos + prefix.length) === prefix ? pos + prefix.length : -1;
}

/** True when a 40-digit lowercase hex id followed by LF starts at pos (stricter than git: lowercase only). */
export function oidLineAt(buf: Buffer, pos: number): boolean {
  return isOid(buf.toString('latin1', pos, pos + 40)) && buf[pos + 40] === LF;
}

/** The start of the line after pos (verify_headers guarantees an LF). */
export function nextLine(buf: Buffer, pos: number): number {
  const eol = buf.indexOf(LF, pos);
  return eol < 0 ? buf.length : eol + 1;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

const WHAT = 'invalid author/committer line - ';

/**
 * fsck_ident on "Name <email> 123 +0000\n" at pos. `next` is the following line whatever the
 * outcome; `error` is true when a finding was an error.
 */
export function fsckIdent(buf: Buffer, pos: number, r: Reporter): { error: boolean; next: number } {
  const next = nextLine(buf, pos);
  const end = next - 1; // the LF
  const fail = (id: Parameters<Reporter['report']>[0], what: string) => ({ error: r.report(id, WHAT + what), next });
  let p = pos;
  if (buf[p] === 0x3c) return fail('missingNameBeforeEmail', 'missing space before email');
  for (;; p++) {
    if (p >= end) return fail('missingEmail', 'missing email');
    if (buf[p] === 0x3e) return fail('badName', 'bad name');
    if (buf[p] === 0x3c) break;
  }
  if (buf[p - 1] !== 0x20) return fail('missingSpaceBeforeEmail', 'missing space before email');
  for (p++; ; p++) {
    if (p >= end || buf[p] === 0x3c) return fail('badEmail', 'bad email');
    if (buf[p] === 0x3e) break;
  }
  p++;
  if (buf[p] !== 0x20) return fail('missingSpaceBeforeDate', 'missing space before date');
  p++;
  while (buf[p] === 0x20 || buf[p] === 0x09) p++;
  if (!isDigit(buf[p])) return fail('badDate', 'bad date');
  if (buf[p] === 0x30 && buf[p + 1] !== 0x20) return fail('zeroPaddedDate', 'zero-padded date');
  let digits = p;
  while (digits < end && isDigit(buf[digits])) digits++;
  // time_t is signed 64-bit: git refuses what does not fit
  if (BigInt(buf.toString('latin1', p, digits)) >= 2n ** 63n) return fail('badDateOverflow', 'date causes integer overflow');
  p = digits;
  if (buf[p] !== 0x20) return fail('badDate', 'bad date');
  p++;
  const sign = buf[p];
  if ((sign !== 0x2b && sign !== 0x2d) || ![1, 2, 3, 4].every((k) => isDigit(buf[p + k])) || buf[p + 5] !== LF) {
    return fail('badTimezone', 'bad time zone');
  }
  return { error: false, next };
}
