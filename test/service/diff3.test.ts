// The line-level three-way merge against C Git's `git merge-file` as the oracle: the same
// clean/conflict decision, and byte-identical output when clean.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffLines, merge3, splitLines } from '../../src/service/content/diff3.js';
import { Rng } from '../fuzz/prng.js';
import { git, tmpDir } from '../helpers/git.js';

const dir = tmpDir('gitgate-diff3-');

/** `git merge-file -p ours base theirs`: the merged text, or null when it conflicts. */
async function gitMergeFile(base: string, ours: string, theirs: string): Promise<string | null> {
  const [b, o, t] = ['base', 'ours', 'theirs'].map((n) => path.join(dir, n));
  fs.writeFileSync(b!, base);
  fs.writeFileSync(o!, ours);
  fs.writeFileSync(t!, theirs);
  const r = await git(['merge-file', '-p', o!, b!, t!]);
  if (r.code < 0 || r.code > 127) throw new Error(`git merge-file failed: ${r.stderr}`);
  return r.code === 0 ? r.stdout : null;
}

async function expectLikeGit(base: string, ours: string, theirs: string): Promise<void> {
  const expected = await gitMergeFile(base, ours, theirs);
  const got = merge3(base, ours, theirs);
  expect(got.clean ? got.text : null, JSON.stringify({ base, ours, theirs })).toBe(expected);
}

const lines = (...ls: string[]) => ls.map((l) => `${l}\n`).join('');

describe('merge3 (diff3) against git merge-file', () => {
  it('splits lines keeping terminators, so a last line without newline is its own line', () => {
    expect(splitLines('')).toEqual([]);
    expect(splitLines('a\nb')).toEqual(['a\n', 'b']);
    expect(splitLines('a\r\nb\n')).toEqual(['a\r\n', 'b\n']);
  });

  it('diffs to the changed regions', () => {
    expect(diffLines([1, 2, 3, 4], [1, 9, 3, 4])).toEqual([{ aStart: 1, aEnd: 2, bStart: 1, bEnd: 2 }]);
    expect(diffLines([1, 2, 3], [1, 2, 3, 4])).toEqual([{ aStart: 3, aEnd: 3, bStart: 3, bEnd: 4 }]);
    expect(diffLines([1, 2, 3], [2, 3])).toEqual([{ aStart: 0, aEnd: 1, bStart: 0, bEnd: 0 }]);
    expect(diffLines([], [])).toEqual([]);
  });

  it('agrees on hand-picked cases: separate, touching, overlapping, identical and end-of-file changes', async () => {
    const base = lines('1', '2', '3', '4', '5', '6');
    await expectLikeGit(base, lines('1', 'X', '3', '4', '5', '6'), lines('1', '2', '3', '4', 'Y', '6')); // apart: clean
    await expectLikeGit(base, lines('1', 'X', '3', '4', '5', '6'), lines('1', '2', 'Y', '4', '5', '6')); // touching: conflict
    await expectLikeGit(base, lines('1', 'X', '3', '4', '5', '6'), lines('1', 'X', '3', '4', '5', '6')); // same change
    await expectLikeGit(base, lines('1', 'X', '3', '4', '5', '6'), lines('1', 'Z', '3', '4', '5', '6')); // same line: conflict
    await expectLikeGit(base, lines('1', '2', 'A', '3', '4', '5', '6'), lines('1', '2', '3', '4', '5', '6', 'B')); // inserts apart
    await expectLikeGit(base, lines('1', '2', 'A', '3', '4', '5', '6'), lines('1', '2', 'B', '3', '4', '5', '6')); // inserts at one place
    await expectLikeGit(base, lines('2', '3', '4', '5', '6'), lines('1', '2', '3', '4', '5', '6', '7')); // delete first, append
    await expectLikeGit(base, `${base}7`, lines('X', '2', '3', '4', '5', '6')); // no final newline on one side
    await expectLikeGit(base, '', base); // one side emptied the file
    await expectLikeGit('', lines('a'), lines('b')); // both added to an empty file
    await expectLikeGit(lines('a', 'b'), lines('a', 'b').replace(/\n/g, '\r\n'), lines('a', 'b', 'c')); // CRLF on one side
  });

  it('agrees on 120 seeded random edits of the same file, clean and conflicting', async () => {
    const outcomes = { clean: 0, conflict: 0 };
    for (let i = 0; i < 120; i++) {
      const rng = Rng.forCase(0x3d1ff, i);
      const base = Array.from({ length: rng.range(0, 30) }, (_, n) => `line ${n}\n`);
      const edit = (side: string): string => {
        const out = [...base];
        for (let e = rng.range(0, 4); e > 0; e--) {
          const at = rng.int(out.length + 1);
          const kind = rng.int(3);
          if (kind === 0 && at < out.length) out.splice(at, rng.range(1, 3)); // delete
          else if (kind === 1 && at < out.length) out.splice(at, 1, `${side} changed ${at}\n`); // modify
          else out.splice(at, 0, ...Array.from({ length: rng.range(1, 2) }, (_, k) => `${side} new ${at}.${k}\n`)); // insert
        }
        return out.join('');
      };
      const ours = edit('ours');
      const theirs = rng.chance(0.15) ? ours : edit('theirs');
      await expectLikeGit(base.join(''), ours, theirs);
      outcomes[merge3(base.join(''), ours, theirs).clean ? 'clean' : 'conflict']++;
    }
    expect(outcomes.clean).toBeGreaterThan(20);
    expect(outcomes.conflict).toBeGreaterThan(20);
  });
});
