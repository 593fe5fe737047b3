// Consecutive commits' trees at the same path differ in a few entries. A walk that has scanned
// a tree at some path has handled every entry of it (sent it, found it sent, or queued it), so
// in the next tree it scans at that path, the entries byte-identical to that one's need no
// membership test: only the changed middle is looked up. The common head and tail are found
// by comparing bytes (a few native compares a tree), not entry by entry. On git.git's full
// clone this skips most of the tens of millions of hash lookups (each a cache miss).
import type { TreeScanner } from './objects/tree-scanner.js';

interface Seen {
  content: Buffer;
  /** Offset just past each entry. */
  ends: Int32Array;
}

/** Trees held at most (their bytes are shared with the pack cache or were read anyway). */
const MAX_BYTES = 32 * 1024 * 1024;
/**
 * Trees kept per path, the most recent first. Newest-first order interleaves branches (git.git:
 * maint, topics based on old releases), so the last tree at a path is often from another line:
 * with one kept, 26M of 59M entries still needed a lookup on git.git's full clone; the closest of
 * a few is usually the parent's.
 */
const PER_PATH = 4;

export class TreeMemo {
  private readonly byPath = new Map<string, Seen[]>();
  private bytes = 0;

  /**
   * The entries of `content` (just scanned by `scanner`) that may be new: [from, to). Entries
   * outside it are identical to entries of a tree scanned before at `path` (any tree the walk
   * scanned would do; the same path is where the similar ones are). Then remembers `content`.
   */
  changed(path: string, content: Buffer, scanner: TreeScanner, n: number): [number, number] {
    const ends = new Int32Array(n);
    for (let i = 0; i < n; i++) ends[i] = scanner.oidOffset(i) + 20;
    let kept = this.byPath.get(path);
    let from = 0;
    let to = n;
    for (const old of kept ?? []) {
      if (to - from <= 1) break;
      const head = commonHead(content, ends, old.content);
      const tail = Math.max(head, commonTail(content, ends, old));
      if (tail - head < to - from) [from, to] = [head, tail];
    }
    if (!kept) {
      if (this.bytes + content.length > MAX_BYTES) return [from, to];
      this.byPath.set(path, (kept = []));
    }
    kept.unshift({ content, ends });
    this.bytes += content.length;
    while (kept.length > PER_PATH || (this.bytes > MAX_BYTES && kept.length > 1)) this.bytes -= kept.pop()!.content.length;
    return [from, to];
  }
}

/** Number of leading entries whose bytes (and offsets) are the same in `old`. */
function commonHead(content: Buffer, ends: Int32Array, old: Buffer): number {
  // same bytes up to the end of entry k-1 (entries parse the same from offset 0): monotone in k
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const k = (lo + hi + 1) >>> 1;
    const end = ends[k - 1]!;
    if (end <= old.length && content.compare(old, 0, end, 0, end) === 0) lo = k;
    else hi = k - 1;
  }
  return lo;
}

/** First entry from which all bytes to the end are the same as `old`'s, starting at one of its entries. */
function commonTail(content: Buffer, ends: Int32Array, old: Seen): number {
  const n = ends.length;
  const shift = content.length - old.content.length;
  const startOf = (i: number) => (i === 0 ? 0 : ends[i - 1]!);
  const same = (i: number) => {
    const s = startOf(i);
    return s - shift >= 0 && content.compare(old.content, s - shift, old.content.length, s, content.length) === 0;
  };
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (same(mid)) hi = mid;
    else lo = mid + 1;
  }
  // Identical bytes parse as identical entries only from an entry boundary of the old tree too.
  for (let i = lo; i < n; i++) if (isBoundary(old, startOf(i) - shift)) return i;
  return n;
}

function isBoundary(old: Seen, offset: number): boolean {
  if (offset === 0) return true;
  let lo = 0;
  let hi = old.ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (old.ends[mid]! < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo < old.ends.length && old.ends[lo] === offset;
}
