// Commit graph walks for fetches: "reachable from these but not from those", walked newest
// first and stopped once only uninteresting commits remain (C Git's limit_list), so an
// incremental fetch touches the new commits, not the whole history.
import { GitgateError } from '../errors.js';
import { commitTime, parseCommit } from './objects/commit.js';
import type { ObjectDatabase } from './object-database.js';
import type { WalkIds } from './walk-ids.js';

export interface CommitInfo {
  oid: string;
  tree: string;
  parents: string[];
  time: number;
}

/** Reads commits once per walk; shallow commits are seen as parentless (grafts). */
export class CommitReader {
  private cache = new Map<string, CommitInfo>();

  constructor(
    private readonly store: ObjectDatabase,
    private readonly shallow: ReadonlySet<string> = new Set(),
    /** Counts the reads of a long walk (its packs then keep their ids in memory). */
    private readonly ids?: WalkIds,
  ) {}

  async get(oid: string): Promise<CommitInfo> {
    const cached = this.cache.get(oid);
    if (cached) return cached;
    await this.ids?.read();
    const obj = await this.store.read(oid);
    if (!obj) throw new GitgateError('OBJECT_NOT_FOUND', { oid });
    if (obj.type !== 'commit') throw new GitgateError('PROTOCOL', { detail: `${oid} is a ${obj.type}, not a commit` });
    const c = parseCommit(obj.content);
    const info: CommitInfo = {
      oid,
      tree: c.tree,
      parents: this.shallow.has(oid) ? [] : c.parents,
      time: commitTime(obj.content),
    };
    this.cache.set(oid, info);
    return info;
  }

  /** Parents as stored, ignoring grafts (to deepen past a shallow boundary). */
  async realParents(oid: string): Promise<string[]> {
    const obj = await this.store.read(oid);
    if (!obj || obj.type !== 'commit') return [];
    return parseCommit(obj.content).parents;
  }
}

/** Max-heap of commits by commit time. */
export class DateQueue<T extends { time: number } = CommitInfo> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  push(c: T): void {
    const a = this.items;
    a.push(c);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.time >= a[i]!.time) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  pop(): T | undefined {
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

export interface CommitRange {
  /** Commits to send, newest first. */
  commits: CommitInfo[];
  /** Uninteresting commits adjacent to sent ones: their trees are on the client. */
  boundary: CommitInfo[];
}

/**
 * Commits reachable from `include` and not from `exclude`. Missing excluded commits are
 * ignored (the client may name commits we never had).
 */
export async function commitRange(reader: CommitReader, include: string[], exclude: string[]): Promise<CommitRange> {
  const uninteresting = new Set<string>();
  const seen = new Set<string>();
  const popped = new Map<string, CommitInfo>();
  const queue = new DateQueue();
  let interestingQueued = 0;

  const enqueue = (c: CommitInfo, bad: boolean) => {
    seen.add(c.oid);
    if (bad) uninteresting.add(c.oid);
    else interestingQueued++;
    queue.push(c);
  };
  // Propagates through commits already walked, like C Git's mark_parents_uninteresting.
  const markUninteresting = (start: string) => {
    const stack = [start];
    while (stack.length) {
      const oid = stack.pop()!;
      if (uninteresting.has(oid)) continue;
      uninteresting.add(oid);
      const done = popped.get(oid);
      if (done) stack.push(...done.parents);
      else if (seen.has(oid)) interestingQueued--;
    }
  };

  for (const oid of exclude) {
    const c = await reader.get(oid).catch(() => null);
    if (c && !seen.has(c.oid)) enqueue(c, true);
  }
  for (const oid of include) {
    const c = await reader.get(oid);
    if (!seen.has(c.oid)) enqueue(c, false);
  }

  const order: CommitInfo[] = [];
  while (queue.size && interestingQueued > 0) {
    const c = queue.pop()!;
    const bad = uninteresting.has(c.oid);
    if (!bad) interestingQueued--;
    popped.set(c.oid, c);
    order.push(c);
    for (const p of c.parents) {
      if (seen.has(p)) {
        if (bad) markUninteresting(p);
        continue;
      }
      enqueue(await reader.get(p), bad);
    }
  }

  const commits = order.filter((c) => !uninteresting.has(c.oid));
  const boundary: CommitInfo[] = [];
  const boundarySeen = new Set<string>();
  for (const c of commits) {
    for (const p of c.parents) {
      if (uninteresting.has(p) && !boundarySeen.has(p)) {
        boundarySeen.add(p);
        boundary.push(await reader.get(p));
      }
    }
  }
  return { commits, boundary };
}

