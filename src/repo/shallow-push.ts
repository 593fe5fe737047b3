// Pushes from shallow clones, as C Git's receive-pack with receive.shallowUpdate=false
// (shallow.c's assign_shallow_commits_to_refs): a new ref value whose history, walked down from
// the tip without entering what our refs already hold, ends at one of the client's shallow
// commits that the push brought ("theirs") or that no ref of ours reaches ("ours", e.g. left
// behind by a force-push) would need that boundary recorded here: the update is refused.
import { CommitReader } from './commit-walk.js';
import { peelToCommit } from './ancestry.js';
import type { ObjectDatabase } from './object-database.js';
import { nextTurn } from '../event-loop.js';

const YIELD_EVERY = 1024;

export interface ShallowPush {
  /** The client's shallow commits that were in the repository before the push. */
  ours: string[];
  /** The client's shallow commits that arrived with the push. */
  theirs: string[];
  /** Our ref values before the update (HEAD and tags included; tags are peeled here). */
  refTips: string[];
}

/** The new tips (of `tips`) whose update would make the repository shallow. */
export async function tipsNeedingShallowUpdate(store: ObjectDatabase, push: ShallowPush, tips: string[]): Promise<Set<string>> {
  const refused = new Set<string>();
  if (push.ours.length === 0 && push.theirs.length === 0) return refused;
  const reader = new CommitReader(store);
  const refCommits = new Set<string>();
  for (const tip of push.refTips) {
    const c = await peelToCommit(store, tip);
    if (c) refCommits.add(c);
  }
  const boundary = new Set([...push.ours, ...push.theirs]);
  const theirs = new Set(push.theirs);
  const ourVerdict = new Map<string, boolean>(); // ours commit -> unreachable from our refs
  let steps = 0;
  for (const tip of new Set(tips)) {
    const start = await peelToCommit(store, tip);
    if (!start) continue;
    const reached: string[] = [];
    const seen = new Set<string>([start]);
    const stack = [start];
    while (stack.length) {
      if (++steps % YIELD_EVERY === 0) await nextTurn();
      const oid = stack.pop()!;
      if (refCommits.has(oid)) continue; // our history: nothing new below
      if (boundary.has(oid)) {
        reached.push(oid);
        continue;
      }
      const c = await reader.get(oid).catch(() => null);
      for (const p of c?.parents ?? []) {
        if (seen.has(p)) continue;
        seen.add(p);
        stack.push(p);
      }
    }
    for (const oid of reached) {
      if (theirs.has(oid)) {
        refused.add(tip);
        break;
      }
      if (!ourVerdict.has(oid)) await judgeOurs(reader, refCommits, push.ours.filter((o) => !ourVerdict.has(o)), ourVerdict);
      if (ourVerdict.get(oid)) {
        refused.add(tip);
        break;
      }
    }
  }
  return refused;
}

/** Records for each of `ours` whether no ref reaches it: one walk of our history, stopped once all are found. */
async function judgeOurs(reader: CommitReader, refCommits: ReadonlySet<string>, ours: string[], verdict: Map<string, boolean>): Promise<void> {
  const missing = new Set(ours);
  const seen = new Set<string>(refCommits);
  const stack = [...refCommits];
  let steps = 0;
  while (stack.length && missing.size) {
    if (++steps % YIELD_EVERY === 0) await nextTurn();
    const oid = stack.pop()!;
    missing.delete(oid);
    const c = await reader.get(oid).catch(() => null);
    for (const p of c?.parents ?? []) {
      if (seen.has(p)) continue;
      seen.add(p);
      stack.push(p);
    }
  }
  for (const oid of ours) verdict.set(oid, missing.has(oid));
}
