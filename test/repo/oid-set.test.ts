import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OidSet } from '../../src/repo/oid-set.js';
import { TREE_ENTRY_BLOB, TREE_ENTRY_GITLINK, TREE_ENTRY_TREE, TreeScanner } from '../../src/repo/objects/tree-scanner.js';
import { parseTree } from '../../src/repo/objects/tree.js';

const oid = (i: number) => createHash('sha1').update(String(i)).digest();

describe('OidSet', () => {
  it('agrees with a Set of hex strings while it grows', () => {
    const set = new OidSet(4);
    const ref = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = oid(i % 15_000);
      expect(set.add(id)).toBe(!ref.has(id.toString('hex')));
      ref.add(id.toString('hex'));
    }
    expect(set.size).toBe(ref.size);
    for (let i = 0; i < 16_000; i++) expect(set.hasHex(oid(i).toString('hex'))).toBe(i < 15_000);
    expect(new Set(set.hexes())).toEqual(ref);
  });

  it('reads ids at an offset and refuses what is not an id', () => {
    const set = new OidSet();
    const buf = Buffer.concat([randomBytes(7), oid(1), randomBytes(3)]);
    expect(set.add(buf, 7)).toBe(true);
    expect(set.has(oid(1))).toBe(true);
    expect(set.addHex(oid(1).toString('hex'))).toBe(false);
    expect(set.hasHex('xyz')).toBe(false);
    expect(set.hasHex(oid(1).toString('hex').toUpperCase())).toBe(false);
    expect(() => set.addHex('1234')).toThrow();
  });
});

describe('TreeScanner', () => {
  const entry = (mode: string, name: string, id: Buffer) => Buffer.concat([Buffer.from(`${mode} ${name}\0`, 'latin1'), id]);

  it('finds the kinds and ids parseTree finds', () => {
    const modes = ['100644', '100755', '120000', '40000', '160000', '040000', '644'];
    const content = Buffer.concat(Array.from({ length: 300 }, (_, i) => entry(modes[i % modes.length]!, `n${i}`, oid(i))));
    const scanner = new TreeScanner();
    const n = scanner.scan(content);
    const parsed = parseTree(content);
    expect(n).toBe(parsed.length);
    parsed.forEach((e, i) => {
      // git goes by the mode's value: a zero-padded '040000' is a directory too
      const type = parseInt(e.mode, 8) & 0o170000;
      const kind = type === 0o040000 ? TREE_ENTRY_TREE : type === 0o160000 ? TREE_ENTRY_GITLINK : TREE_ENTRY_BLOB;
      expect(scanner.kind(i)).toBe(kind);
      expect(content.toString('hex', scanner.oidOffset(i), scanner.oidOffset(i) + 20)).toBe(e.oid);
    });
    expect(scanner.scan(Buffer.alloc(0))).toBe(0);
  });

  it('rejects what parseTree rejects', () => {
    const bad = [entry('10064x', 'a', oid(1)), entry('100644', 'a', oid(1)).subarray(0, 20), Buffer.from(' a\0'), Buffer.from('100644 a')];
    for (const b of bad) {
      expect(() => parseTree(b)).toThrow();
      expect(() => new TreeScanner().scan(b)).toThrow();
    }
  });
});
