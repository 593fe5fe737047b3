// "Is A an ancestor of B?" for telling fast-forwards from forced updates (a token without
// allow_force may only fast-forward). A newest-first walk back from B that stops at A and
// gives up after a bounded number of commits. Commit dates are not trusted to cut the walk
// short by default (imported or skewed histories would turn fast-forwards into "forced").
import { commitTime, parseCommit, parseTag } from './objects.js';
import type { ObjectStore } from './object-store.js';

export interface AncestryOptions {
  /** Commits read at most before answering false (default 1,000,000). */
  maxCommits?: number;
  /** How far below A's commit time the walk still descends, in seconds (default: no limit). */
  slackSeconds?: number;
}

interface Node {
  oid: string;
  time: number;
  parents: string[];
}

async function readCommit(store: ObjectStore, oid: string): Promise<Node | null> {
  const obj = await store.read(oid);
  if (!obj || obj.type !== 'commit') return null;
  return { oid, time: commitTime(obj.content), parents: parseCommit(obj.content).parents };
}

/** The commit an object peels to (annotated tags followed), or null. */
export async function peelToCommit(store: ObjectStore, oid: string, depth = 0): Promise<string | null> {
  if (depth > 20) return null;
  const obj = await store.read(oid);
  if (!obj) return null;
  if (obj.type === 'commit') return oid;
  if (obj.type === 'tag') return peelToCommit(store, parseTag(obj.content).object, depth + 1);
  return null;
}

/** True when commit `ancestor` is reachable from commit `descendant` (or equal to it). */
export async function isAncestor(store: ObjectStore, ancestor: string, descendant: string, opts: AncestryOptions = {}): Promise<boolean> {
  if (ancestor === descendant) return true;
  const target = await readCommit(store, ancestor);
  const start = await readCommit(store, descendant);
  if (!target || !start) return false;
  const floor = opts.slackSeconds === undefined ? -Infinity : target.time - opts.slackSeconds;
  let budget = opts.maxCommits ?? 1_000_000;
  const seen = new Set<string>([start.oid]);
  const heap = new MaxHeap();
  heap.push(start);
  while (heap.size > 0) {
    const c = heap.pop()!;
    if (c.oid === ancestor) return true;
    if (c.time < floor) continue; // everything below is older still (modulo skew): A cannot be there
    for (const p of c.parents) {
      if (seen.has(p)) continue;
      seen.add(p);
      if (p === ancestor) return true;
      if (--budget <= 0) return false;
      const parent = await readCommit(store, p);
      if (parent) heap.push(parent);
    }
  }
  return false;
}

/** Commits by time, newest first. */
class MaxHeap {
  private items: Node[] = [];

  get size(): number {
    return this.items.length;
  }

  push(n: Node): void {
    const a = this.items;
    a.push(n);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.time >= a[i]!.time) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  pop(): Node | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.time > a[m]!.time) m = l;
        if (r < a.length && a[r]!.time > a[m]!.time) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
