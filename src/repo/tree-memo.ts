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
// on the same line: a child), else the last tree scanned at the same path. Newest-first order
// interleaves branches (git.git: maint, topics based on old releases), so the last tree at a
// path is often from another line. Entries in identical runs are not even parsed: their
// bounds are the old tree's (which was checked when it was scanned).
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

export class TreeMemo {
  /** Trees scanned, by hex id, least recently used first. */
  private readonly byId = new Map<string, Seen>();
  /** Id of the last tree scanned at each path. */
  private readonly byPath = new Map<string, string>();
  private bytes = 0;
  /** Per picked entry (may be new): its start, kind, id offset, and the offset of the old same-named subtree's id or -1. */
  private starts = new Int32Array(64);
  private kinds = new Uint8Array(64);
  private oids = new Int32Array(64);
  private pairs = new Int32Array(64);
  private old: Seen | null = null;
  /** The ends of the tree being compared, before they are copied into the slab. */
  private ends = new Int32Array(256);
  /** Entry ends of many trees share one buffer (a typed array each cost more than the merge). */
  private slab = new Int32Array(SLAB);
  private slabUsed = 0;

  /** `enabled` false: every entry is picked (a walk whose answer depends on more than ids: filters). */
  constructor(private readonly enabled = true) {}

  /**
   * Parse `content` (tree `oid`), compare it with an old tree and remember it. Returns how many
   * entries may be new; read them with kind(k), oidOffset(k), entryStart(k), in tree order, and
   * their old counterpart with counterpart(k). `hint`: the id of a tree scanned before at the
   * same path that is probably the closest (else the last one scanned at `path` is used).
   */
  changed(oid: string, path: string, content: Buffer, scanner: TreeScanner, hint: string | null = null): number {
    let old = hint === null || !this.enabled ? undefined : this.byId.get(hint);
    if (old) {
      this.byId.delete(hint!); // most recently used
      this.byId.set(hint!, old);
    } else if (this.enabled) {
      const last = this.byPath.get(path);
      old = last === undefined ? undefined : this.byId.get(last);
    }
    this.old = old ?? null;
    let n = 0;
    let count = 0;
    const a = content;
    const b = old?.content;
    const m = old ? old.ends.length : 0;
    let j = 0;
    for (let pos = 0; pos < a.length; ) {
      let bStart = 0;
      if (j < m) {
        bStart = j === 0 ? 0 : old!.ends[j - 1]!;
        const length = old!.ends[j]! - bStart;
        if (pos + length <= a.length && a.compare(b!, bStart, bStart + length, pos, pos + length) === 0) {
          // Identical bytes from an entry start in both trees parse as the same entries: the
          // run of identical entries (already handled) is found with a few compares, unparsed.
          const run = sameRun(a, pos, old!, j);
          this.reserve(n + run, count);
          for (let r = 0; r < run; r++) this.ends[n++] = old!.ends[j + r]! - bStart + pos;
          pos = this.ends[n - 1]!;
          j += run;
          continue;
        }
      }
      const nul = scanner.entry(a, pos);
      const kind = scanner.lastKind;
      let c = -1; // past the old tree's end: not in it
      if (j < m) {
        c = compareNames(a, pos, nul, kind === TREE_ENTRY_TREE, b!, bStart, old!.ends[j]! - 21, isTreeEntry(b!, bStart));
        if (c > 0) {
          j++; // removed since
          continue;
        }
      }
      this.reserve(n + 1, count + 1);
      this.ends[n++] = nul + 21;
      this.starts[count] = pos;
      this.kinds[count] = kind;
      this.oids[count] = nul + 1;
      this.pairs[count++] = c === 0 && kind === TREE_ENTRY_TREE && isTreeEntry(b!, bStart) ? old!.ends[j]! - 20 : -1;
      if (c === 0) j++;
      pos = nul + 21;
    }
    if (this.enabled) this.remember(oid, path, content, n);
    return count;
  }

  kind(k: number): number {
    return this.kinds[k]!;
  }

  /** Offset of the k-th picked entry's id in the content. */
  oidOffset(k: number): number {
    return this.oids[k]!;
  }

  /** Offset of the k-th picked entry's mode (its mode and name run to oidOffset - 1). */
  entryStart(k: number): number {
    return this.starts[k]!;
  }

  /** The old tree's subtree of the same name as the k-th entry (when both are trees and differ), as hex, or null. */
  counterpart(k: number): string | null {
    const at = this.old ? this.pairs[k]! : -1;
    return at < 0 ? null : this.old!.content.toString('hex', at, at + 20);
  }

  private reserve(entries: number, picked: number): void {
    if (entries > this.ends.length) {
      const ends = new Int32Array(Math.max(entries, this.ends.length * 2));
      ends.set(this.ends);
      this.ends = ends;
    }
    if (picked > this.kinds.length) {
      const size = Math.max(picked, this.kinds.length * 2);
      const grow = <T extends Int32Array | Uint8Array>(from: T, to: T): T => (to.set(from), to);
      this.starts = grow(this.starts, new Int32Array(size));
      this.kinds = grow(this.kinds, new Uint8Array(size));
      this.oids = grow(this.oids, new Int32Array(size));
      this.pairs = grow(this.pairs, new Int32Array(size));
    }
  }

  private remember(oid: string, path: string, content: Buffer, n: number): void {
    if (content.length > MAX_BYTES / 4) return;
    let ends: Int32Array;
    if (n > SLAB / 8) ends = new Int32Array(n);
    else {
      if (this.slabUsed + n > SLAB) {
        this.slab = new Int32Array(SLAB);
        this.slabUsed = 0;
      }
      ends = this.slab.subarray(this.slabUsed, (this.slabUsed += n));
    }
    ends.set(this.ends.subarray(0, n));
    const prior = this.byId.get(oid);
    if (prior) this.bytes -= prior.content.length;
    this.byId.delete(oid);
    this.byId.set(oid, { content, ends });
    this.bytes += content.length;
    this.byPath.set(path, oid);
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
 * How many entries of `old` from entry j on are byte-identical to `a` from offset `pos` (entry
 * j is). Both start at an entry start, so identical bytes parse as identical entries.
 */
function sameRun(a: Buffer, pos: number, old: Seen, j: number): number {
  const b = old.content;
  const max = old.ends.length - j;
  const shift = pos - (j === 0 ? 0 : old.ends[j - 1]!);
  // entries j .. j+lo-1 are known identical; are the bytes of entries j+lo .. j+k-1 too?
  const more = (lo: number, k: number) => {
    const from = old.ends[j + lo - 1]!;
    const to = old.ends[j + k - 1]!;
    return to + shift <= a.length && a.compare(b, from, to, from + shift, to + shift) === 0;
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
