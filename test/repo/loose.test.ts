import zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initBareRepo } from '../../src/repo/init.js';
import { LooseObjects } from '../../src/repo/loose.js';
import { hashObject, type ObjectType } from '../../src/pack/types.js';
import { serializeCommit } from '../../src/repo/objects/commit.js';
import { serializeTag } from '../../src/repo/objects/tag.js';
import { serializeTree } from '../../src/repo/objects/tree.js';
import type { Storage } from '../../src/repo/storage.js';
import { isGitgateError } from '../../src/errors.js';
import { EMPTY_TREE, STORAGE_KINDS, git, gitRaw, makeStorage, walkFiles, type TestStorage } from './helpers.js';

/** One object of each type, linked: blob <- tree <- commit <- tag. */
async function writeSet(loose: LooseObjects) {
  const blob = await loose.write('blob', Buffer.from('hello\n'));
  const tree = await loose.write('tree', serializeTree([{ mode: '100644', name: 'hello.txt', oid: blob }]));
  const ident = 'Ada Author <ada@example.com> 1700000000 +0100';
  const commit = await loose.write('commit', serializeCommit({ tree, parents: [], author: ident, committer: ident, message: 'init\n' }));
  const tag = await loose.write('tag', serializeTag({ object: commit, type: 'commit', tag: 'v1', tagger: ident, message: 'v1\n' }));
  return { blob, tree, commit, tag };
}

describe.each(STORAGE_KINDS)('LooseObjects on %s', (kind) => {
  let ts: TestStorage;
  let storage: Storage;
  let gitdir: string;
  let loose: LooseObjects;

  beforeEach(async () => {
    ts = makeStorage(kind);
    storage = ts.storage;
    gitdir = `${storage.root}/objs.git`;
    await initBareRepo(storage, gitdir, 'main');
    loose = new LooseObjects(storage, gitdir);
  });
  afterEach(() => ts.cleanup());

  it('round-trips every object type', async () => {
    const samples: [ObjectType, Buffer][] = [
      ['blob', Buffer.from('some text\n')],
      ['blob', Buffer.alloc(0)],
      ['blob', Buffer.from([0, 1, 2, 255, 0])],
      ['tree', Buffer.alloc(0)],
      ['blob', Buffer.alloc(300_000, 'x')],
    ];
    for (const [type, content] of samples) {
      const oid = await loose.write(type, content);
      expect(oid).toBe(hashObject(type, content).toString('hex'));
      expect(await loose.has(oid)).toBe(true);
      const back = await loose.read(oid, { verify: true });
      expect(back?.type).toBe(type);
      expect(back?.content.equals(content)).toBe(true);
    }
    expect(hashObject('tree', Buffer.alloc(0)).toString('hex')).toBe(EMPTY_TREE);
  });

  it('stores objects at objects/xx/yyyy and leaves no temporary files', async () => {
    const { blob, tree, commit, tag } = await writeSet(loose);
    const files = (await walkFiles(storage, `${gitdir}/objects`)).map((f) => f.slice(`${gitdir}/objects/`.length)).sort();
    expect(files).toEqual([blob, tree, commit, tag].map((o) => `${o.slice(0, 2)}/${o.slice(2)}`).sort());
  });

  it('does not rewrite an object that is already present', async () => {
    const oid = await loose.write('blob', Buffer.from('same'));
    // any attempt to write again would call open/rename
    const guarded = new LooseObjects(
      new Proxy(storage, {
        get: (t, p, r) => (p === 'rename' || p === 'open' ? () => Promise.reject(new Error(`unexpected ${String(p)}`)) : Reflect.get(t, p, r)),
      }),
      gitdir,
    );
    expect(await guarded.write('blob', Buffer.from('same'))).toBe(oid);
  });

  it('reports absence as null/false, including for malformed ids', async () => {
    expect(await loose.read('a'.repeat(40))).toBeNull();
    expect(await loose.has('a'.repeat(40))).toBe(false);
    expect(await loose.read('../../config')).toBeNull();
    expect(await loose.has('ABCDEF'.padEnd(40, '0'))).toBe(false);
  });

  it('throws CORRUPT_REPO on data that does not inflate, a bad header or a wrong size', async () => {
    const oid = 'ab'.padEnd(40, 'c');
    const file = loose.pathOf(oid);
    await storage.mkdir(`${gitdir}/objects/ab`);
    const cases: Buffer[] = [
      Buffer.from('not zlib at all'),
      zlib.deflateSync(Buffer.from('blob 5\0hi')), // size mismatch
      zlib.deflateSync(Buffer.from('bolb 2\0hi')), // unknown type
      zlib.deflateSync(Buffer.from('blob 02\0hi')), // zero-padded size
      zlib.deflateSync(Buffer.from('blob 2hi')), // no NUL
    ];
    for (const data of cases) {
      await storage.writeFile(file, data);
      const err = await loose.read(oid).catch((e: unknown) => e);
      expect(isGitgateError(err, 'CORRUPT_REPO'), data.toString('latin1')).toBe(true);
    }
  });

  it('verifies the hash only when asked', async () => {
    const oid = await loose.write('blob', Buffer.from('original'));
    await storage.writeFile(loose.pathOf(oid), zlib.deflateSync(Buffer.from('blob 8\0tampered')));
    expect((await loose.read(oid))?.content.toString()).toBe('tampered');
    const err = await loose.read(oid, { verify: true }).catch((e: unknown) => e);
    expect(isGitgateError(err, 'CORRUPT_REPO')).toBe(true);
  });

  it('removes its temporary file when the write fails', async () => {
    const failing = new LooseObjects(
      new Proxy(storage, {
        get: (t, p, r) => (p === 'rename' ? () => Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })) : Reflect.get(t, p, r)),
      }),
      gitdir,
    );
    await expect(failing.write('blob', Buffer.from('doomed'))).rejects.toThrow('EIO');
    expect(await walkFiles(storage, `${gitdir}/objects`)).toEqual([]);
  });
});

describe('LooseObjects with C Git (fs)', () => {
  let ts: TestStorage;
  let gitdir: string;
  let loose: LooseObjects;

  beforeEach(async () => {
    ts = makeStorage('fs');
    gitdir = `${ts.storage.root}/objs.git`;
    await initBareRepo(ts.storage, gitdir, 'main');
    loose = new LooseObjects(ts.storage, gitdir);
  });
  afterEach(() => ts.cleanup());

  it('writes objects C Git reads, and reads objects C Git wrote', async () => {
    const { blob, tree, commit, tag } = await writeSet(loose);
    const g = (...args: string[]) => git(['--git-dir', gitdir, ...args]);
    expect(g('cat-file', '-p', blob)).toBe('hello');
    expect(g('cat-file', '-t', tree)).toBe('tree');
    expect(g('ls-tree', tree)).toBe(`100644 blob ${blob}\thello.txt`);
    expect(g('cat-file', '-p', commit)).toContain(`tree ${tree}\n`);
    expect(g('cat-file', '-t', tag)).toBe('tag');
    expect(g('rev-parse', `${tag}^{commit}`)).toBe(commit);
    expect(gitRaw(['--git-dir', gitdir, 'fsck', '--full', '--strict']).status).toBe(0);

    const content = Buffer.from('written by C Git\n');
    const gitOid = git(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: content });
    expect(gitOid).toBe(hashObject('blob', content).toString('hex'));
    const back = await loose.read(gitOid, { verify: true });
    expect(back).toEqual({ type: 'blob', content });
  });
});
