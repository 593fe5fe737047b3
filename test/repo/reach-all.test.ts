import { describe, expect, it } from 'vitest';
import type { CommitInfo } from '../../src/repo/commit-walk.js';
import { allReachAny } from '../../src/repo/reach-all.js';

/** A linear history c0 <- c1 <- … <- c{n-1}, plus a side root s0 <- s1, read through a counting reader. */
function graph(n: number) {
  const parents = new Map<string, string[]>();
  for (let i = 0; i < n; i++) parents.set(`c${i}`, i === 0 ? [] : [`c${i - 1}`]);
  parents.set('s0', []);
  parents.set('s1', ['s0']);
  parents.set('m', [`c${n - 1}`, 's1']); // a merge of both lines
  let reads = 0;
  const reader = {
    async get(oid: string): Promise<CommitInfo> {
      reads++;
      const p = parents.get(oid);
      if (!p) throw new Error(`no ${oid}`);
      return { oid, tree: '', parents: p, time: 0 };
    },
  };
  return { reader, reads: () => reads };
}

describe('allReachAny', () => {
  it('answers whether every start reaches a target', async () => {
    const { reader } = graph(10);
    expect(await allReachAny(reader, ['c9', 'c5'], new Set(['c2']))).toBe(true);
    expect(await allReachAny(reader, ['c9', 'c1'], new Set(['c2']))).toBe(false); // c1 is older than c2
    expect(await allReachAny(reader, ['s1'], new Set(['c0']))).toBe(false);
    expect(await allReachAny(reader, ['m'], new Set(['s0']))).toBe(true); // through the second parent
    expect(await allReachAny(reader, [], new Set(['c0']))).toBe(true);
    expect(await allReachAny(reader, ['c3'], new Set(['c3']))).toBe(true);
  });

  it('does about one walk of the history however many starts there are', async () => {
    const n = 2000;
    const g = graph(n);
    const starts = Array.from({ length: n - 1 }, (_, i) => `c${n - 1 - i}`); // every commit above the root
    expect(await allReachAny(g.reader, starts, new Set(['c0']))).toBe(true);
    // one walk per start would read ~n²/2 = 2,000,000 commits
    expect(g.reads()).toBeLessThan(2 * n);
  });
});
