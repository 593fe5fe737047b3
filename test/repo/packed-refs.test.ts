// packed-refs as gitgate reads it: parsed once per version of the file, re-read as soon as
// C Git rewrites it (pack-refs, a deletion), peeled values taken from its '^' lines as far as
// its header's traits promise, names in C Git's (bytewise) order.
import crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initBareRepo } from '../../src/repo/init.js';
import { compareRefNames, packedPeel, parsePackedRefs } from '../../src/repo/packed-refs.js';
import { RefStore } from '../../src/repo/refs.js';
import { git, makeCommit, makeStorage, type TestStorage } from './helpers.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

describe('parsePackedRefs', () => {
  it('keeps peeled values and what the traits promise about refs without one', () => {
    const text = `# pack-refs with: peeled fully-peeled sorted \n${A} refs/heads/main\n${B} refs/tags/v1\n^${C}\n${A} refs/tags/v2\n`;
    const full = parsePackedRefs(text);
    expect(full.names).toEqual(['refs/heads/main', 'refs/tags/v1', 'refs/tags/v2']);
    expect(packedPeel(full, 'refs/tags/v1')).toBe(C);
    expect(packedPeel(full, 'refs/tags/v2')).toBeNull(); // known: not a tag
    expect(packedPeel(full, 'refs/heads/main')).toBeNull();
    const tagsOnly = parsePackedRefs(text.replace(' fully-peeled', ''));
    expect(packedPeel(tagsOnly, 'refs/tags/v2')).toBeNull();
    expect(packedPeel(tagsOnly, 'refs/heads/main')).toBeUndefined(); // not known: peel it
    const none = parsePackedRefs(text.replace(/^#.*\n/, ''));
    expect(packedPeel(none, 'refs/tags/v2')).toBeUndefined();
    expect(packedPeel(none, 'refs/tags/v1')).toBe(C);
  });

  it('sorts a file another writer left unsorted, and refuses malformed lines', () => {
    const p = parsePackedRefs(`${A} refs/tags/b\n${B} refs/tags/a\n`);
    expect(p.names).toEqual(['refs/tags/a', 'refs/tags/b']);
    expect(() => parsePackedRefs(`${A} refs/tags/a\n^zz\n`)).toThrow(/packed-refs/);
    expect(() => parsePackedRefs(`^${A}\n`)).toThrow(/packed-refs/);
  });

  it('orders names bytewise (UTF-8), as git does', () => {
    const chars = ['a', 'Z', '/', '-', 'é', '\u{e000}', '\u{ffef}', '\u{1f600}', '\u{10000}'];
    for (let i = 0; i < 500; i++) {
      const pick = (n: number) => Array.from({ length: n }, () => chars[crypto.randomInt(chars.length)]).join('');
      const a = pick(1 + crypto.randomInt(4));
      const b = pick(1 + crypto.randomInt(4));
      expect(Math.sign(compareRefNames(a, b)), `${a} vs ${b}`).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
  });
});

describe('RefStore and packed-refs rewritten by C Git (fs)', () => {
  let ts: TestStorage;
  let gitdir: string;
  const cgit = (...args: string[]) => git(['--git-dir', gitdir, ...args]);
  beforeEach(async () => {
    ts = makeStorage('fs');
    gitdir = `${ts.storage.root}/packed.git`;
    await initBareRepo(ts.storage, gitdir, 'main');
  });
  afterEach(() => ts.cleanup());

  it('sees every rewrite of packed-refs by the same RefStore, peeled values included', async () => {
    const c1 = await makeCommit(ts.storage, gitdir, 'one');
    const c2 = await makeCommit(ts.storage, gitdir, 'two', [c1]);
    cgit('update-ref', 'refs/heads/main', c1);
    cgit('tag', '-a', '-m', 'one', 'v1', c1);
    cgit('pack-refs', '--all');
    const refs = new RefStore(ts.storage, gitdir);
    const tag1 = cgit('rev-parse', 'refs/tags/v1').trim();
    expect(await refs.listPeeled('refs/tags/')).toEqual([{ name: 'refs/tags/v1', oid: tag1, peeled: c1 }]);

    // C Git moves the tag and packs again: a new packed-refs file
    cgit('tag', '-f', '-a', '-m', 'two', 'v1', c2);
    cgit('update-ref', 'refs/tags/light', c2);
    cgit('pack-refs', '--all');
    const tag2 = cgit('rev-parse', 'refs/tags/v1').trim();
    expect(await refs.listPeeled('refs/tags/')).toEqual([
      { name: 'refs/tags/light', oid: c2, peeled: null },
      { name: 'refs/tags/v1', oid: tag2, peeled: c2 },
    ]);
    expect(await refs.resolve('refs/tags/light')).toBe(c2);

    // a deletion rewrites packed-refs without the ref
    cgit('update-ref', '-d', 'refs/tags/light');
    expect(await refs.resolve('refs/tags/light')).toBeNull();
    expect((await refs.list('refs/tags/')).map((r) => r.name)).toEqual(['refs/tags/v1']);
  });

  it('hands out the same listing while the refs are unchanged, and a new one as soon as any moves', async () => {
    const c1 = await makeCommit(ts.storage, gitdir, 'one');
    const c2 = await makeCommit(ts.storage, gitdir, 'two', [c1]);
    cgit('update-ref', 'refs/heads/main', c1);
    cgit('tag', '-a', '-m', 'one', 'v1', c1);
    cgit('pack-refs', '--all');
    const refs = new RefStore(ts.storage, gitdir);
    const first = await refs.listPeeled('refs/');
    expect(await refs.listPeeled('refs/')).toBe(first); // derived caches may key on it

    // a loose ref written by another process (C Git), same name as a packed one
    cgit('update-ref', 'refs/heads/main', c2);
    const second = await refs.listPeeled('refs/');
    expect(second).not.toBe(first);
    expect(second.find((r) => r.name === 'refs/heads/main')?.oid).toBe(c2);
    expect(await refs.listPeeled('refs/')).toBe(second);

    // moved back by this RefStore: a new loose value again
    expect((await refs.update([{ name: 'refs/heads/main', oldOid: c2, newOid: c1 }]))[0]!.ok).toBe(true);
    const third = await refs.listPeeled('refs/');
    expect(third.find((r) => r.name === 'refs/heads/main')?.oid).toBe(c1);

    // a new loose ref, then everything packed by C Git: the listing follows both
    cgit('update-ref', 'refs/tags/light', c2);
    expect((await refs.listPeeled('refs/tags/')).map((r) => r.name)).toEqual(['refs/tags/light', 'refs/tags/v1']);
    cgit('update-ref', 'refs/tags/light', c1);
    cgit('pack-refs', '--all');
    const packed = await refs.listPeeled('refs/tags/');
    expect(packed).toEqual([
      { name: 'refs/tags/light', oid: c1, peeled: null },
      { name: 'refs/tags/v1', oid: cgit('rev-parse', 'refs/tags/v1').trim(), peeled: c1 },
    ]);
  });
});
