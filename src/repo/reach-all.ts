// Whether every start commit reaches one of the targets (C Git's ok_to_give_up question).
// One walk per start would be O(starts × history): a request with many wants could pin the
// CPU. Commits found to reach a target join the targets, so later walks stop where earlier
// ones succeeded and the total work is about one walk of the history.
import type { CommitReader } from './commit-walk.js';
import { nextTurn } from '../event-loop.js';

const YIELD_EVERY = 1024;

export async function allReachAny(reader: Pick<CommitReader, 'get'>, starts: Iterable<string>, targets: ReadonlySet<string>): Promise<boolean> {
  const reaching = new Set(targets);
  let steps = 0;
  for (const start of starts) {
    if (reaching.has(start)) continue;
    const from = new Map<string, string | null>([[start, null]]);
    const stack = [start];
    let hit: string | null = null;
    while (stack.length) {
      if (++steps % YIELD_EVERY === 0) await nextTurn();
      const oid = stack.pop()!;
      if (reaching.has(oid)) {
        hit = oid;
        break;
      }
      const c = await reader.get(oid).catch(() => null);
      if (!c) continue;
      for (const p of c.parents) {
        if (from.has(p)) continue;
        from.set(p, oid);
        stack.push(p);
      }
    }
    if (hit === null) return false;
    // every commit on the path from start to the hit reaches a target
    for (let at: string | null = hit; at !== null; at = from.get(at) ?? null) reaching.add(at);
  }
  return true;
}
