// "Is A an ancestor of B?" for telling fast-forwards from forced updates (a token without
// allow_force may only fast-forward). A newest-first walk back from B that stops at A and
// gives up after a bounded number of commits. Commit dates are not trusted to cut the walk
// short by default (imported or skewed histories would turn fast-forwards into "forced").
import { CommitReader, DateQueue, type CommitInfo } from './commit-walk.js';
import { parseTag } from './objects/tag.js';
import type { ObjectDatabase } from './object-database.js';

export interface AncestryOptions {
  /** Commits read at most before answering false (default 1,000,000). */
  maxCommits?: number;
  /** How far below A's commit time the walk still descends, in seconds (default: no limit). */
  slackSeconds?: number;
}

/** The commit an object peels to (annotated tags followed), or null. */
export async function peelToCommit(store: ObjectDatabase, oid: string, depth = 0): Promise<string | null> {
  if (depth > 20) return null;
  const obj = await store.read(oid);
  if (!obj) return null;
  if (obj.type === 'commit') return oid;
  if (obj.type === 'tag') return peelToCommit(store, parseTag(obj.content).object, depth + 1);
  return null;
}

/** True when commit `ancestor` is reachable from commit `descendant` (or equal to it). */
export async function isAncestor(store: ObjectDatabase, ancestor: string, descendant: string, opts: AncestryOptions = {}): Promise<boolean> {
  if (ancestor === descendant) return true;
  const reader = new CommitReader(store);
  const read = (oid: string): Promise<CommitInfo | null> => reader.get(oid).catch(() => null);
  const target = await read(ancestor);
  const start = await read(descendant);
  if (!target || !start) return false;
  const floor = opts.slackSeconds === undefined ? -Infinity : target.time - opts.slackSeconds;
  let budget = opts.maxCommits ?? 1_000_000;
  const seen = new Set<string>([start.oid]);
  const queue = new DateQueue();
  queue.push(start);
  while (queue.size > 0) {
    const c = queue.pop()!;
    if (c.oid === ancestor) return true;
    if (c.time < floor) continue; // everything below is older still (modulo skew): A cannot be there
    for (const p of c.parents) {
      if (seen.has(p)) continue;
      seen.add(p);
      if (p === ancestor) return true;
      if (--budget <= 0) return false;
      const parent = await read(p);
      if (parent) queue.push(parent);
    }
  }
  return false;
}
