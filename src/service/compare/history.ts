// Commit walks for compare, in C Git's order: `git log A..B` (revision.c limit_list: a queue
// by committer date where equal dates keep insertion order) and `git merge-base A B`
// (commit-reach.c paint_down_to_common, then redundant bases removed).
import { isAncestor } from '../../repo/ancestry.js';
import { CommitReader, type CommitInfo } from '../../repo/commit-walk.js';
import type { ObjectDatabase } from '../../repo/object-database.js';

/** Newest date first; equal dates in insertion order (git's commit_list_insert_by_date). */
class DateFifo {
  private heap: { c: CommitInfo; seq: number }[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  private before(a: { c: CommitInfo; seq: number }, b: { c: CommitInfo; seq: number }): boolean {
    return a.c.time > b.c.time || (a.c.time === b.c.time && a.seq < b.seq);
  }

  push(c: CommitInfo): void {
    const h = this.heap;
    h.push({ c, seq: this.seq++ });
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): CommitInfo | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top?.c;
  }

  peek(): CommitInfo | undefined {
    return this.heap[0]?.c;
  }
}

/** Commits a walk keeps popping after every queued one is excluded (revision.c's SLOP), so a
 * little clock skew does not list an excluded commit. */
const SLOP = 5;

/** `git rev-list include ^exclude` in `git log`'s default order (newest first), with limit_list's
 * stopping rule: go on while any queued commit is included or as new as the last one listed. */
export async function revList(store: ObjectDatabase, include: string, exclude: string): Promise<CommitInfo[]> {
  const reader = new CommitReader(store);
  const bad = new Set<string>();
  const seen = new Set<string>();
  const queuedGood = new Set<string>();
  const popped = new Map<string, CommitInfo>();
  const queue = new DateFifo();
  const markBad = (start: string) => {
    const stack = [start];
    while (stack.length) {
      const oid = stack.pop()!;
      if (bad.has(oid)) continue;
      bad.add(oid);
      queuedGood.delete(oid);
      const done = popped.get(oid);
      if (done) stack.push(...done.parents);
    }
  };
  const enqueue = async (oid: string, isBad: boolean) => {
    if (seen.has(oid)) {
      if (isBad) markBad(oid);
      return;
    }
    seen.add(oid);
    if (isBad) bad.add(oid);
    else queuedGood.add(oid);
    queue.push(await reader.get(oid));
  };
  // ^exclude is queued first, as `git log A..B` adds it (ties keep that order)
  await enqueue(exclude, true);
  await enqueue(include, false);
  const order: CommitInfo[] = [];
  let lastListed = Infinity;
  let slop = SLOP;
  while (queue.size) {
    const c = queue.pop()!;
    queuedGood.delete(c.oid);
    const isBad = bad.has(c.oid);
    popped.set(c.oid, c);
    for (const p of c.parents) await enqueue(p, isBad);
    if (isBad) {
      const next = queue.peek();
      if (!next) break;
      slop = lastListed <= next.time || queuedGood.size ? SLOP : slop - 1;
      if (slop) continue;
      break;
    }
    lastListed = c.time;
    order.push(c);
  }
  return order.filter((c) => !bad.has(c.oid));
}

const P1 = 1;
const P2 = 2;
const STALE = 4;
const RESULT = 8;

/** The merge bases of `a` and `b`, newest first (the first is what `git diff a...b` uses); [] when unrelated. */
export async function mergeBases(store: ObjectDatabase, a: string, b: string): Promise<string[]> {
  if (a === b) return [a];
  const reader = new CommitReader(store);
  const flags = new Map<string, number>();
  const queue = new DateFifo();
  const results: CommitInfo[] = [];
  const ca = await reader.get(a);
  const cb = await reader.get(b);
  // queue entries (a commit may be queued more than once) whose commit is not STALE: the walk
  // goes on while there is one (commit-reach.c queue_has_nonstale), counted, not scanned
  const queued = new Map<string, number>();
  let nonStale = 0;
  const enqueue = (c: CommitInfo) => {
    queued.set(c.oid, (queued.get(c.oid) ?? 0) + 1);
    if (!((flags.get(c.oid) ?? 0) & STALE)) nonStale++;
    queue.push(c);
  };
  flags.set(a, P1);
  flags.set(b, P2);
  enqueue(ca);
  enqueue(cb);
  while (nonStale > 0) {
    const c = queue.pop()!;
    queued.set(c.oid, queued.get(c.oid)! - 1);
    if (!((flags.get(c.oid) ?? 0) & STALE)) nonStale--;
    let f = (flags.get(c.oid) ?? 0) & (P1 | P2 | STALE);
    if (f === (P1 | P2)) {
      if (!((flags.get(c.oid) ?? 0) & RESULT)) {
        flags.set(c.oid, (flags.get(c.oid) ?? 0) | RESULT);
        results.push(c);
      }
      f |= STALE;
    }
    for (const p of c.parents) {
      const pf = flags.get(p) ?? 0;
      if ((pf & f) === f) continue;
      flags.set(p, pf | f);
      if (f & STALE && !(pf & STALE)) nonStale -= queued.get(p) ?? 0;
      enqueue(await reader.get(p));
    }
  }
  const bases = results.filter((c) => !((flags.get(c.oid) ?? 0) & STALE)).sort((x, y) => y.time - x.time);
  if (bases.length <= 1) return bases.map((c) => c.oid);
  // drop bases reachable from another base
  const out: string[] = [];
  for (const x of bases) {
    let redundant = false;
    for (const y of bases) if (y !== x && (await isAncestor(store, x.oid, y.oid))) redundant = true;
    if (!redundant) out.push(x.oid);
  }
  return out;
}

/** One page of `git log tip` in its default order (newest committer date first, ties in the
 *  order reached): the commits after the first `skip`, at most `limit`, and whether more follow. */
export async function logPage(store: ObjectDatabase, tip: string, skip: number, limit: number): Promise<{ commits: CommitInfo[]; more: boolean }> {
  const reader = new CommitReader(store);
  const seen = new Set<string>([tip]);
  const queue = new DateFifo();
  queue.push(await reader.get(tip));
  const commits: CommitInfo[] = [];
  for (let n = 0; queue.size; n++) {
    const c = queue.pop()!;
    if (n >= skip + limit) return { commits, more: true };
    if (n >= skip) commits.push(c);
    for (const p of c.parents) {
      if (seen.has(p)) continue;
      seen.add(p);
      queue.push(await reader.get(p));
    }
  }
  return { commits, more: false };
}
