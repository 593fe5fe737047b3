// Consecutive trees on one line of history differ in a few entries. A walk that has scanned a
// tree has handled every entry of it (sent it, found it sent, or queued it), so in a tree it
// scans later, the entries byte-identical to entries of that one need no membership test
// (each a cache miss: git.git's full clone has 59M tree entries). Like C Git's tree diff, the
// new tree is merged with an old one in name order; runs of identical entries are found by
// comparing bytes (a few native compares a run), so only the entries that changed are looked
// up, and a changed subtree is paired with the old tree's subtree of the same name for the
// next level.
//
// Which old tree: the caller's hint (the same path in the tree of a commit walked just before
// on the same line: a child), else one of the last trees scanned at the same path. Newest-first
// order interleaves branches (git.git: maint, topics based on old releases), so the last tree
// at a path is often from another line.
//
// Only bytes are trusted: an entry is skipped when it is byte-identical to a whole entry of a
// tree scanned in this walk (runs are compared from an entry start in both trees, where the
// same bytes parse as the same entries), so a crafted tree cannot hide an object.
import { TREE_ENTRY_TREE, type TreeScanner } from './objects/tree-scanner.js';

interface Seen {
  content: Buffer;
  /** Offset just past each entry. */
  ends: Int32Array;
}

/** Tree bytes held at most (shared with the pack cache, or read anyway). */
const MAX_BYTES = 32 * 1024 * 1024;
/** Entries a slab of entry ends holds. */
const SLAB = 1 << 18;
/** Trees tried per path when there is no hint. */
const PER_PATH = 4;

export class TreeMemo {
  /** Trees scanned, by hex id, least recently used first. */
  private readonly byId = new Map<string, Seen>();
  /** Ids of the last trees scanned at each path, the most recent first. */
  private readonly byPath = new Map<string, string[]>();
  private bytes = 0;
  /** The entries picked (may be new), and per entry the offset of the old same-named subtree's id or -1. */
  private picked = new Int32Array(64);
  private pairs = new Int32Array(64);
  /** A candidate's answer, swapped with picked/pairs when it is the better one. */
  private trialPicked = new Int32Array(64);
  private trialPairs = new Int32Array(64);
  private old: Seen | null = null;
  /** Entry ends of many trees share one buffer (a typed array each cost more than the merge). */
  private slab = new Int32Array(SLAB);
  private slabUsed = 0;

  /**
   * Compare `content` (tree `oid`, just scanned by `scanner`, `n` entries) with an old tree and
   * remember it. Returns how many entries may be new; read them with index(k), in increasing
   * order, and their old counterpart with counterpart(k). `hint`: the id of a tree scanned
   * before at the same path that is probably the closest.
   */
  changed(oid: string, path: string, content: Buffer, scanner: TreeScanner, n: number, hint: string | null = null): number {
    const fresh: Seen = { content, ends: this.endsFor(n) };
    for (let i = 0; i < n; i++) fresh.ends[i] = scanner.oidOffset(i) + 20;
    if (this.picked.length < n) {
      this.picked = new Int32Array(n);
      this.pairs = new Int32Array(n);
      this.trialPicked = new Int32Array(n);
      this.trialPairs = new Int32Array(n);
    }
    const hinted = hint === null ? undefined : this.byId.get(hint);
    if (hinted) {
      this.byId.delete(hint!); // most recently used
      this.byId.set(hint!, hinted);
    }
    this.old = null;
    let count = n;
    for (const id of hinted ? [hint!] : (this.byPath.get(path) ?? [])) {
      const old = this.byId.get(id);
      if (!old) continue;
      const tried = this.merge(scanner, fresh, old);
      if (tried < count || !this.old) {
        [this.picked, this.trialPicked] = [this.trialPicked, this.picked];
        [this.pairs, this.trialPairs] = [this.trialPairs, this.pairs];
        this.old = old;
        count = tried;
      }
      if (count <= 1) break;
    }
    if (!this.old) for (let i = 0; i < n; i++) this.picked[i] = i;
    this.remember(oid, path, fresh);
    return count;
  }

  /** The entry number of the k-th entry that may be new. */
  index(k: number): number {
    return this.picked[k]!;
  }

  /** The old tree's subtree of the same name as the k-th entry (when both are trees and differ), as hex, or null. */
  counterpart(k: number): string | null {
    const at = this.old ? this.pairs[k]! : -1;
    return at < 0 ? null : this.old!.content.toString('hex', at, at + 20);
  }

  /** Into trialPicked/trialPairs: the entries of `fresh` not byte-identical to an entry of `old`, merging by name. */
  private merge(scanner: TreeScanner, fresh: Seen, old: Seen): number {
    const a = fresh.content;
    const b = old.content;
    const n = fresh.ends.length;
    const m = old.ends.length;
    let count = 0;
    let i = 0;
    let j = 0;
    while (i < n) {
      const aStart = i === 0 ? 0 : fresh.ends[i - 1]!;
      const aEnd = fresh.ends[i]!;
      let c = -1; // past the old tree's end: entry i is not in it
      if (j < m) {
        const bStart = j === 0 ? 0 : old.ends[j - 1]!;
        const bEnd = old.ends[j]!;
        if (aEnd - aStart === bEnd - bStart && a.compare(b, bStart, bEnd, aStart, aEnd) === 0) {
          const run = sameRun(fresh, i, old, j, Math.min(n - i, m - j));
          i += run;
          j += run;
          continue;
        }
        c = compareNames(a, aStart, aEnd - 21, scanner.kind(i) === TREE_ENTRY_TREE, b, bStart, bEnd - 21, isTreeEntry(b, bStart));
        if (c > 0) {
          j++; // removed since
          continue;
        }
      }
      this.trialPicked[count] = i;
      this.trialPairs[count++] = c === 0 && scanner.kind(i) === TREE_ENTRY_TREE && isTreeEntry(b, j === 0 ? 0 : old.ends[j - 1]!) ? old.ends[j]! - 20 : -1;
      if (c === 0) j++;
      i++;
    }
    return count;
  }

  private endsFor(n: number): Int32Array {
    if (n > SLAB / 8) return new Int32Array(n);
    if (this.slabUsed + n > SLAB) {
      this.slab = new Int32Array(SLAB);
      this.slabUsed = 0;
    }
    return this.slab.subarray(this.slabUsed, (this.slabUsed += n));
  }

  private remember(oid: string, path: string, seen: Seen): void {
    if (seen.content.length > MAX_BYTES / 4) return;
    const prior = this.byId.get(oid);
    if (prior) this.bytes -= prior.content.length;
    this.byId.delete(oid);
    this.byId.set(oid, seen);
    this.bytes += seen.content.length;
    let ids = this.byPath.get(path);
    if (!ids) this.byPath.set(path, (ids = []));
    ids.unshift(oid);
    if (ids.length > PER_PATH) ids.pop();
    for (const [id, old] of this.byId) {
      if (this.bytes <= MAX_BYTES) break;
      this.byId.delete(id);
      this.bytes -= old.content.length;
    }
  }
}

/** Mode "40000 " at `start` (zero-padded modes are not paired: they are only looked up). */
function isTreeEntry(buf: Buffer, start: number): boolean {
  return buf[start] === 0x34 && buf[start + 5] === 0x20 && buf[start + 1] === 0x30 && buf[start + 2] === 0x30 && buf[start + 3] === 0x30 && buf[start + 4] === 0x30;
}

/**
 * Git's tree order (base_name_compare: a tree's name sorts as if it ended in '/') of the entries
 * starting at aStart and bStart, whose names end (NUL) at aNul and bNul. An unsorted tree only
 * makes the merge find fewer identical entries: equal names never make entries count as identical.
 */
function compareNames(a: Buffer, aStart: number, aNul: number, aTree: boolean, b: Buffer, bStart: number, bNul: number, bTree: boolean): number {
  let p = aStart;
  while (a[p] !== 0x20 && p < aNul) p++;
  let q = bStart;
  while (b[q] !== 0x20 && q < bNul) q++;
  for (p++, q++; p < aNul && q < bNul; p++, q++) {
    const d = a[p]! - b[q]!;
    if (d !== 0) return d;
  }
  const ca = p < aNul ? a[p]! : aTree ? 0x2f : 0;
  const cb = q < bNul ? b[q]! : bTree ? 0x2f : 0;
  if (ca !== cb) return ca - cb;
  if (p === aNul && q === bNul) return 0; // the same name, both trees or both not
  return p === aNul ? -1 : 1; // a name holding '/' (only in a crafted tree)
}

/**
 * How many entries from fresh's i and old's j on are byte-identical (entry i and j are; at most
 * `max`). Both start at an entry start, so identical bytes parse as identical entries and end
 * where an entry of both ends.
 */
function sameRun(fresh: Seen, i: number, old: Seen, j: number, max: number): number {
  const a = fresh.content;
  const b = old.content;
  const shift = (j === 0 ? 0 : old.ends[j - 1]!) - (i === 0 ? 0 : fresh.ends[i - 1]!);
  // entries [i, i+lo) are known identical; are the bytes of entries i+lo .. i+k-1 too?
  const more = (lo: number, k: number) => {
    const from = fresh.ends[i + lo - 1]!;
    const to = fresh.ends[i + k - 1]!;
    return to + shift <= b.length && a.compare(b, from + shift, to + shift, from, to) === 0;
  };
  let lo = 1;
  let step = 1;
  while (lo + step <= max && more(lo, lo + step)) {
    lo += step;
    step *= 2;
  }
  let hi = Math.min(max, lo + step - 1);
  while (lo < hi) {
    const k = (lo + hi + 1) >>> 1;
    if (more(lo, k)) lo = k;
    else hi = k - 1;
  }
  return lo;
}
