// TreeMemo: which entries of a tree can differ from the trees last scanned at its path.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TreeScanner } from '../../src/repo/objects/tree-scanner.js';
import { TreeMemo } from '../../src/repo/tree-memo.js';

const id = (s: string) => createHash('sha1').update(s).digest();
const entry = (name: string, oid: Buffer, mode = '100644') => Buffer.concat([Buffer.from(`${mode} ${name}\0`, 'latin1'), oid]);

let trees = 0;
/** The entries picked for a lookup. */
function changed(memo: TreeMemo, path: string, content: Buffer): number[] {
  const scanner = new TreeScanner();
  const count = memo.changed(`tree${trees++}`, path, content, scanner);
  // entry numbers, from where the picked entries start
  const starts: number[] = [];
  for (let pos = 0; pos < content.length; pos = scanner.entry(content, pos) + 21) starts.push(pos);
  return Array.from({ length: count }, (_, k) => starts.indexOf(memo.entryStart(k)));
}
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('TreeMemo', () => {
  it('narrows to the entries that changed since the last tree at the same path', () => {
    const names = Array.from({ length: 50 }, (_, i) => `f${String(i).padStart(2, '0')}`);
    const v1 = Buffer.concat(names.map((n) => entry(n, id(n))));
    const v2 = Buffer.concat(names.map((n, i) => entry(n, id(i === 20 ? 'new' : n))));
    const v3 = Buffer.concat([...names.slice(0, 31), 'f30a', ...names.slice(31)].map((n) => entry(n, id(n === 'f30a' || n === 'f20' ? 'x' : n))));
    const memo = new TreeMemo();
    expect(changed(memo, '', v1)).toEqual(range(0, 50)); // first at this path: everything
    expect(changed(memo, '/40000 sub', v1)).toEqual(range(0, 50)); // another path
    expect(changed(memo, '', v2)).toEqual([20]);
    expect(changed(memo, '', v3)).toEqual([20, 31]); // f20 changed again, f30a added
    expect(changed(memo, '', v3.subarray(0, v3.length - 31))).toEqual([]); // the last one removed
  });

  it('does not take bytes that match at an offset inside an old entry for the same entries', () => {
    // new: "c" -> id "100644 bcdefghijklmn" (20 bytes), "d" -> Y; old: "a" -> id ending in
    // "100644 c\0", then "bcdefghijklmn100644 d" -> Y. The new tree's bytes are the old one's
    // tail, but the id of "c" is no id of the old tree.
    const y = id('y');
    const q1 = Buffer.from('100644 bcdefghijklmn', 'latin1');
    const fresh = Buffer.concat([entry('c', q1), entry('d', y)]);
    const idX = Buffer.concat([id('x').subarray(0, 11), Buffer.from('100644 c\0', 'latin1')]);
    const old = Buffer.concat([entry('a', idX), entry('bcdefghijklmn100644 d', y)]);
    expect(old.subarray(old.length - fresh.length).equals(fresh)).toBe(true);
    const memo = new TreeMemo();
    changed(memo, '', old);
    expect(changed(memo, '', fresh)).toEqual([0, 1]);
  });
});
