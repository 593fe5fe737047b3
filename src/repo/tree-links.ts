// The tree half of push verification: the links of a tree (offsets of the ids it names), by a
// fast path that also vouches the tree has no fsck finding at all, or by plain parsing once
// the full check has accepted it.
import type { SpecialBlobs } from './fsck/index.js';

const FILE = 1;
const DIR = 2;
const GITLINK = 3;

/** The kind of a canonical tree mode at buf[pos, end): 100644, 100755, 120000, 40000, 160000; 0 for any other. */
function modeKind(buf: Buffer, pos: number, end: number): number {
  const n = end - pos;
  if (n === 5) return buf[pos] === 0x34 && buf[pos + 1] === 0x30 && buf[pos + 2] === 0x30 && buf[pos + 3] === 0x30 && buf[pos + 4] === 0x30 ? DIR : 0;
  if (n !== 6 || buf[pos] !== 0x31) return 0;
  const b1 = buf[pos + 1];
  const b2 = buf[pos + 2];
  const r = (buf[pos + 3]! << 16) | (buf[pos + 4]! << 8) | buf[pos + 5]!;
  const ZEROS = 0x303030;
  if (b1 === 0x30 && b2 === 0x30) return r === 0x363434 || r === 0x373535 ? FILE : 0; // 100644, 100755
  if (b1 === 0x32 && b2 === 0x30) return r === ZEROS ? FILE : 0; // 120000
  if (b1 === 0x36 && b2 === 0x30) return r === ZEROS ? GITLINK : 0; // 160000
  return 0;
}

/**
 * Fast path of the tree check for the usual tree: canonical modes, plain ASCII names that
 * cannot be an alias of .git, .gitmodules, .mailmap and the like on any file system (no '~',
 * '\\', '/'; a leading '.' only where dotName allows it), no name longer than largePathname
 * allows, no null ids, strictly sorted, no name twice. Such a tree has no fsck finding at all,
 * so the offsets of its links (ids in `buf`, gitlinks skipped) are returned, and the ids of
 * its .gitmodules and .gitattributes go to `found` as fsckTree puts them there (without
 * `found`, a tree holding one takes the full check); anything else returns null and gets the
 * full check. Most pushed objects are trees, and this is several times faster; it makes no
 * string per entry.
 */
export function plainTreeLinks(buf: Buffer, maxNameLength = 4096, found?: SpecialBlobs): number[] | null {
  const links: number[] = [];
  if (buf.length > 0 && (buf.length < 23 || buf[buf.length - 21] !== 0)) return null;
  const starts: number[] = [];
  const ends: number[] = [];
  const dirs: boolean[] = [];
  const n = buf.length;
  for (let pos = 0; pos < n; ) {
    // byte loops rather than indexOf: modes and names are short, indexOf is a native call
    let space = pos;
    while (space < n && buf[space] !== 0x20) space++;
    if (space === pos || space === n) return null;
    const kind = modeKind(buf, pos, space);
    if (kind === 0) return null;
    const start = space + 1;
    let nul = start;
    for (; nul < n; nul++) {
      const c = buf[nul]!;
      if (c === 0) break;
      if (c >= 0x80 || c === 0x2f || c === 0x5c || c === 0x7e) return null; // non-ASCII, '/', '\\', '~'
    }
    if (nul === start || nul + 21 > n || nul - start > maxNameLength) return null;
    let zero = true;
    for (let i = nul + 1; i < nul + 21; i++) if (buf[i] !== 0) zero = false;
    if (zero) return null;
    // aliases of .git & co start with '.' or hold '~' (HFS-ignored code points are non-ASCII)
    if (buf[start] === 0x2e) {
      const special = dotName(buf.toString('latin1', start, nul));
      if (special === SLOW) return null;
      if (special !== PLAIN) {
        const symlink = kind === FILE && buf[pos + 1] === 0x32; // 120000
        if (symlink || !found) return null; // the *Symlink findings, or nowhere to note the blob
        if (special === GITMODULES) found.gitmodules.add(buf.toString('hex', nul + 1, nul + 21));
        else if (special === GITATTRIBUTES) found.gitattributes.add(buf.toString('hex', nul + 1, nul + 21));
      }
    }
    const dir = kind === DIR;
    const k = starts.length;
    if (k > 0 && compareEntries(buf, starts[k - 1]!, ends[k - 1]!, dirs[k - 1]!, start, nul, dir) >= 0) return null;
    // Strictly sorted, so the only possible duplicate is a file and a directory of one name:
    // the file sorts first ('a' < 'a-b' < 'a/'), and every entry between them starts with the
    // name followed by a byte below '/'.
    if (dir && fileNamedBefore(buf, starts, ends, dirs, start, nul)) return null;
    starts.push(start);
    ends.push(nul);
    dirs.push(dir);
    if (kind !== GITLINK) links.push(nul + 1);
    pos = nul + 21;
  }
  return links;
}

const PLAIN = 0;
const SLOW = 1;
const GITMODULES = 2;
const GITATTRIBUTES = 3;
const QUIET = 4; // .gitignore, .mailmap: a finding only as a symlink

/** Names fsckTree looks at (is_hfs_dot* and is_ntfs_dot* for ASCII names without '~' or '\\'). */
const SPECIAL_NAMES = ['git', 'gitmodules', 'gitattributes', 'gitignore', 'mailmap'];

/**
 * What fsckTree makes of an ASCII name starting with '.' (no '~', '\\', '/'): PLAIN when it is no
 * alias of a special name (NTFS drops trailing spaces and dots and reads ':' as a stream
 * separator, case is ignored), the kind of the canonical spellings .gitmodules,
 * .gitattributes, .gitignore and .mailmap, SLOW for '.', '..', .git and every other alias.
 */
function dotName(name: string): number {
  if (name === '.gitmodules') return GITMODULES;
  if (name === '.gitattributes') return GITATTRIBUTES;
  if (name === '.gitignore' || name === '.mailmap') return QUIET;
  if (/^\.*$/.test(name)) return SLOW;
  const lower = name.toLowerCase();
  for (const special of SPECIAL_NAMES) {
    if (lower.startsWith(special, 1) && /^[ .]*(:|$)/.test(lower.slice(special.length + 1))) return SLOW;
  }
  return PLAIN;
}

/**
 * Links of a tree that the full check accepted (perhaps with warnings): offsets of its ids,
 * gitlinks skipped, read from the bytes; null when it does not parse (referencedOids decides).
 */
export function treeLinks(buf: Buffer): number[] | null {
  const links: number[] = [];
  for (let pos = 0; pos < buf.length; ) {
    let mode = 0;
    let p = pos;
    for (; p < buf.length && buf[p] !== 0x20; p++) {
      const c = buf[p]!;
      if (c < 0x30 || c > 0x37) return null;
      mode = mode * 8 + (c - 0x30);
    }
    if (p === pos || p >= buf.length) return null;
    const nul = buf.indexOf(0, p + 1);
    if (nul < 0 || nul + 21 > buf.length) return null;
    if (mode !== 0o160000) links.push(nul + 1);
    pos = nul + 21;
  }
  return links;
}

/** Is there a file entry named buf[start, end) among the earlier entries (see plainTreeLinks)? */
function fileNamedBefore(buf: Buffer, starts: number[], ends: number[], dirs: boolean[], start: number, end: number): boolean {
  const len = end - start;
  for (let k = starts.length - 1; k >= 0; k--) {
    const s = starts[k]!;
    const n = ends[k]! - s;
    if (n < len || buf.compare(buf, start, end, s, s + len) !== 0) return false;
    if (n === len) return !dirs[k];
    if (buf[s + len]! >= 0x2f) return false;
  }
  return false;
}

/** Git's tree order (base_name_compare): bytes, with a directory's name followed by '/'. */
function compareEntries(buf: Buffer, aStart: number, aEnd: number, aDir: boolean, bStart: number, bEnd: number, bDir: boolean): number {
  const aLen = aEnd - aStart;
  const bLen = bEnd - bStart;
  const len = Math.min(aLen, bLen);
  // a byte loop: names are short, and Buffer#compare is a native call per entry
  for (let i = 0; i < len; i++) {
    const d = buf[aStart + i]! - buf[bStart + i]!;
    if (d !== 0) return d;
  }
  const ca = aLen > len ? buf[aStart + len]! : aDir ? 0x2f : 0;
  const cb = bLen > len ? buf[bStart + len]! : bDir ? 0x2f : 0;
  return ca - cb;
}
