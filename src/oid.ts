// Object ids: the one place that says what an id looks like (40 lowercase hex digits, SHA-1,
// the only object format gitgate stores), the all-zero id that stands for "no object" in ref
// updates and the wire protocol, and the short form shown to people. A leaf: every layer
// (pack, repo, protocol, audit, events) may import it.

/** Hex digits in an object id. */
export const OID_HEX_LENGTH = 40;

/** Regex source of one id, for patterns that embed ids (pack file names, protocol lines). */
export const OID_SOURCE = '[0-9a-f]{40}';

/** A whole string that is one id. */
export const OID_PATTERN = new RegExp(`^${OID_SOURCE}$`);

/** One id in either case: what callers may type and what C Git's hex parser accepts in packed-refs; lowercase before comparing. */
export const OID_ANY_CASE_PATTERN = new RegExp(`^${OID_SOURCE}$`, 'i');

/** "No object": a ref's old value when it is created, its new value when it is deleted. */
export const ZERO_OID = '0'.repeat(OID_HEX_LENGTH);

export function isOid(s: string): boolean {
  return OID_PATTERN.test(s);
}

export function isZeroOid(oid: string | null | undefined): boolean {
  return oid === ZERO_OID;
}

/** The id, or null when `s` is not one (lowercase only, as git writes them). */
export function parseOid(s: string): string | null {
  return isOid(s) ? s : null;
}

/** null for the zero id (or null): the form ref stores and audit records use for "none". */
export function oidOrNull(oid: string | null | undefined): string | null {
  return oid === null || oid === undefined || oid === ZERO_OID ? null : oid;
}

/** The zero id for null: the wire form of "none". */
export function oidOrZero(oid: string | null | undefined): string {
  return oid ?? ZERO_OID;
}

/** The abbreviated id shown in messages (git's default 7 digits). */
export function shortOid(oid: string, digits = 7): string {
  return oid.slice(0, digits);
}
