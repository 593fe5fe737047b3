// packed-refs, parsed once per version of the file: names sorted bytewise (so a prefix is a
// range found by binary search) and the peeled values of its '^' lines. What the header's
// traits promise is kept, as C Git's packed-backend does: "fully-peeled" means a ref without a
// '^' line peels to nothing; plain "peeled" promises that only for refs/tags/.
import { GitgateError } from '../errors.js';
import { OID_ANY_CASE_PATTERN as OID } from '../oid.js';

export interface PackedRefs {
  /** Names, sorted bytewise. */
  readonly names: readonly string[];
  readonly oids: ReadonlyMap<string, string>;
  /** Peeled values from '^' lines. */
  readonly peeled: ReadonlyMap<string, string>;
  readonly trait: 'full' | 'tags' | 'none';
}

export const EMPTY_PACKED: PackedRefs = { names: [], oids: new Map(), peeled: new Map(), trait: 'none' };

export function parsePackedRefs(text: string): PackedRefs {
  const oids = new Map<string, string>();
  const peeled = new Map<string, string>();
  const names: string[] = [];
  let trait: PackedRefs['trait'] = 'none';
  let last: string | null = null;
  let sorted = true;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (line.startsWith('# pack-refs with:')) {
        const traits = line.slice(17).split(' ');
        trait = traits.includes('fully-peeled') ? 'full' : traits.includes('peeled') ? 'tags' : 'none';
      }
      continue;
    }
    if (line.startsWith('^')) {
      const oid = line.slice(1, 41);
      if (last === null || !OID.test(oid) || line.length !== 41) throw corrupt(`unexpected line in packed-refs: ${line}`);
      peeled.set(last, oid.toLowerCase());
      continue;
    }
    const oid = line.slice(0, 40);
    if (!OID.test(oid) || line[40] !== ' ' || line.length < 42) throw corrupt(`unexpected line in packed-refs: ${line}`);
    const name = line.slice(41);
    if (!oids.has(name)) {
      if (names.length && compareRefNames(names[names.length - 1]!, name) >= 0) sorted = false;
      names.push(name);
    }
    oids.set(name, oid.toLowerCase());
    last = name;
  }
  // C Git writes the file sorted (and says so); sort anyway when another writer did not
  if (!sorted) names.sort(compareRefNames);
  return { names, oids, peeled, trait };
}

/**
 * The peeled value packed-refs knows for `name`: an object id, null when the ref is known not
 * to peel (not an annotated tag), undefined when the file does not say.
 */
export function packedPeel(packed: PackedRefs, name: string): string | null | undefined {
  const p = packed.peeled.get(name);
  if (p !== undefined) return p;
  if (packed.trait === 'full' || (packed.trait === 'tags' && name.startsWith('refs/tags/'))) return null;
  return undefined;
}

/** Index of the first name ≥ `prefix` (bytewise). */
export function lowerBound(names: readonly string[], prefix: string): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareRefNames(names[mid]!, prefix) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The names starting with `prefix`, in order: one binary search, then only those names. */
export function namesWithPrefix(packed: PackedRefs, prefix: string): readonly string[] {
  const names = packed.names;
  const from = lowerBound(names, prefix);
  let to = from;
  while (to < names.length && names[to]!.startsWith(prefix)) to++;
  return from === 0 && to === names.length ? names : names.slice(from, to);
}

/**
 * Bytewise (UTF-8) order of two strings without encoding them: UTF-16 units compare like
 * code points except that a surrogate (a character above U+FFFF) sorts after every BMP one.
 */
export function compareRefNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    if (sa === sb) return ca - cb;
    return sa ? 1 : -1;
  }
  return a.length - b.length;
}

function corrupt(detail: string): GitgateError {
  return new GitgateError('CORRUPT_REPO', { detail });
}
