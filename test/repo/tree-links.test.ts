// The tree fast path of push verification never vouches for a tree the full fsck check refuses,
// and finds the same links.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FSCK_POLICY, fsckObject } from '../../src/repo/fsck/index.js';
import { referencedOids } from '../../src/repo/objects/references.js';
import { plainTreeLinks, treeLinks } from '../../src/repo/tree-links.js';

const NAMES = ['a', 'b', 'B', 'a.txt', 'a-b', 'a!', 'a b', 'a0', 'src', 'README', 'Makefile', 'z', 'x y', '.git', '.gitmodules', 'git~1', 'GIT~1', '.GIT', 'gitmod~1',
  '..', '.', 'g', 'good', 'git', 'GIT', 'git.c', 'gitmodules', 'Gitignore', 'mailmap', 'gi7eba~1', 'a/b', 'a\\b', '~1234567', 'ä', 'a\u200c', '.g\u200cit', 'foo.', 'n:s', '',
  // dot names: the canonical special ones, their aliases, and plain ones (.github is no alias of .git)
  '.gitattributes', '.gitignore', '.mailmap', '.github', '.clang-format', '.GITMODULES', '.gitmodules.', '.gitmodules :x', '.git:x', '.git. ', '.Mailmap',
  '.gitattributesx', '.gitignore..', '...', '.a', '.mailmap:'];
const MODES = ['100644', '100755', '120000', '40000', '160000', '040000', '100664', '644', '140000'];

function entry(mode: string, name: string, oid: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${mode} `), Buffer.from(name, 'utf8'), Buffer.from([0]), oid]);
}

function rnd(n: number): number {
  return crypto.randomInt(n);
}

describe('plainTreeLinks', () => {
  it('agrees with fsck (no finding at all) and referencedOids on thousands of random trees', () => {
    let vouched = 0;
    for (let t = 0; t < 20000; t++) {
      const n = rnd(6);
      const parts: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const oid = rnd(20) === 0 ? Buffer.alloc(20) : crypto.randomBytes(20);
        parts.push(entry(MODES[rnd(MODES.length)]!, NAMES[rnd(NAMES.length)]!, oid));
      }
      // half of the trees get sorted as git sorts them, so plenty are valid
      if (rnd(2) === 0) {
        parts.sort((x, y) => {
          const nx = x.subarray(x.indexOf(0x20) + 1, x.indexOf(0));
          const ny = y.subarray(y.indexOf(0x20) + 1, y.indexOf(0));
          const dx = x.toString('latin1', 0, x.indexOf(0x20)).startsWith('4');
          const dy = y.toString('latin1', 0, y.indexOf(0x20)).startsWith('4');
          return Buffer.compare(Buffer.concat([nx, Buffer.from(dx ? '/' : '')]), Buffer.concat([ny, Buffer.from(dy ? '/' : '')]));
        });
      }
      const tree = Buffer.concat(parts);
      const found = { gitmodules: new Set<string>(), gitattributes: new Set<string>() };
      const fast = plainTreeLinks(tree, 4096, found);
      if (fast === null) continue;
      vouched++;
      const fsckFound = { gitmodules: new Set<string>(), gitattributes: new Set<string>() };
      expect(fsckObject('', 'tree', tree, DEFAULT_FSCK_POLICY, fsckFound), tree.toString('latin1')).toEqual([]);
      expect(found, tree.toString('latin1')).toEqual(fsckFound);
      expect(fast.map((at) => tree.toString('hex', at, at + 20))).toEqual(referencedOids('tree', tree).map((r) => r.oid));
    }
    expect(vouched).toBeGreaterThan(2000);
  });

  it('treeLinks finds what referencedOids finds, and gives up exactly where it throws', () => {
    let parsed = 0;
    for (let t = 0; t < 5000; t++) {
      const parts: Buffer[] = [];
      for (let i = rnd(6); i > 0; i--) parts.push(entry(MODES[rnd(MODES.length)]!, NAMES[rnd(NAMES.length)]!, crypto.randomBytes(20)));
      let tree = Buffer.concat(parts);
      if (rnd(4) === 0 && tree.length > 0) tree = tree.subarray(0, rnd(tree.length)); // cut anywhere
      if (rnd(8) === 0 && tree.length > 0) tree = Buffer.concat([Buffer.from([[0x20, 0x38, 0x41, 0][rnd(4)]!]), tree]);
      const fast = treeLinks(tree);
      if (fast === null) {
        expect(() => referencedOids('tree', tree), tree.toString('latin1')).toThrow();
        continue;
      }
      parsed++;
      expect(fast.map((at) => tree.toString('hex', at, at + 20))).toEqual(referencedOids('tree', tree).map((r) => r.oid));
    }
    expect(parsed).toBeGreaterThan(1000);
  });

  it('leaves suspicious trees to the full check', () => {
    const oid = crypto.randomBytes(20);
    for (const name of ['.git', 'GIT~1', '.gitmodules', 'gitmod~1', 'gi7eba~1', '.g\u200cit', 'a\\.git', '~1234567', '.mailmap']) {
      expect(plainTreeLinks(entry('100644', name, oid)), name).toBeNull();
    }
    expect(plainTreeLinks(Buffer.concat([entry('100644', 'b', oid), entry('100644', 'a', oid)]))).toBeNull(); // unsorted
    expect(plainTreeLinks(Buffer.concat([entry('100644', 'a', oid), entry('100644', 'a', oid)]))).toBeNull(); // duplicate
    // the same name as a file and a directory, apart: sorted, but a duplicate
    expect(plainTreeLinks(Buffer.concat([entry('100644', 'a', oid), entry('100644', 'a-b', oid), entry('40000', 'a', oid)]))).toBeNull();
    expect(plainTreeLinks(entry('100664', 'a', oid))).toBeNull();
    for (const mode of ['120644', '160644', '100000', '100645', '40001', '50000', '1006440', '10064']) expect(plainTreeLinks(entry(mode, 'a', oid)), mode).toBeNull();
    for (const mode of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) expect(plainTreeLinks(entry(mode, 'a', oid))).toBeNull();
    expect(plainTreeLinks(entry('040000', 'a', oid))).toBeNull();
    expect(plainTreeLinks(entry('100644', 'a', Buffer.alloc(20)))).toBeNull();
    expect(plainTreeLinks(entry('100644', 'a'.repeat(4097), oid))).toBeNull(); // largePathname
    expect(plainTreeLinks(entry('100644', 'a'.repeat(9), oid), 8)).toBeNull();
    expect(plainTreeLinks(entry('100644', 'a'.repeat(4096), oid))).not.toBeNull();
    expect(plainTreeLinks(Buffer.alloc(0))).toEqual([]);
    expect(plainTreeLinks(entry('160000', 'sub', oid))).toEqual([]); // gitlinks are not links
  });
});
