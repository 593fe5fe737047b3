import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initBareRepo } from '../../src/repo/init.js';
import { LooseObjects } from '../../src/repo/loose.js';
import { serializeTag } from '../../src/repo/objects/tag.js';
import { ZERO_OID } from '../../src/oid.js';
import { RefStore } from '../../src/repo/refs.js';
import type { RefUpdateResult } from '../../src/repo/ref-database.js';
import type { FileHandleLike, Storage } from '../../src/repo/storage.js';
import { isGitgateError } from '../../src/errors.js';
import { STORAGE_KINDS, age, git, gitRaw, makeCommit, makeStorage, walkFiles, type TestStorage } from './helpers.js';

const MAIN = 'refs/heads/main';

describe.each(STORAGE_KINDS)('RefStore on %s', (kind) => {
  const onFs = kind === 'fs';
  let ts: TestStorage;
  let storage: Storage;
  let gitdir: string;
  let refs: RefStore;
  let c1: string, c2: string, c3: string;
  /** Lock files a test planted on purpose (another process's); all others must be gone after every test. */
  let foreignLocks: Set<string>;

  beforeEach(async () => {
    ts = makeStorage(kind);
    storage = ts.storage;
    gitdir = `${storage.root}/r.git`;
    await initBareRepo(storage, gitdir, 'main');
    refs = new RefStore(storage, gitdir);
    c1 = await makeCommit(storage, gitdir, 'one');
    c2 = await makeCommit(storage, gitdir, 'two', [c1]);
    c3 = await makeCommit(storage, gitdir, 'three', [c2]);
    foreignLocks = new Set();
  });

  afterEach(async () => {
    try {
      const locks = (await walkFiles(storage, gitdir)).filter((f) => f.endsWith('.lock') && !foreignLocks.has(f));
      expect(locks, 'lock files left behind').toEqual([]);
    } finally {
      ts.cleanup();
    }
  });

  const file = (rel: string) => `${gitdir}/${rel}`;
  const readRef = async (rel: string) => (await storage.readFileOrNull(file(rel)))?.toString('utf8') ?? null;
  const cgit = (...args: string[]) => git(['--git-dir', gitdir, ...args]);
  const fsckOk = () => gitRaw(['--git-dir', gitdir, 'fsck', '--full', '--strict', '--no-dangling']);
  const create = (name: string, oid: string) => refs.update([{ name, oldOid: null, newOid: oid }]);
  const ok = (name: string): RefUpdateResult => ({ name, ok: true });
  const plant = async (rel: string, content = '') => {
    await storage.mkdir(file(rel).replace(/\/[^/]+$/, ''));
    await storage.writeFile(file(rel), content);
    if (rel.endsWith('.lock')) foreignLocks.add(file(rel));
  };
  const forEachRef = () => cgit('for-each-ref', '--format=%(objectname) %(refname)');
  const listed = async (prefix?: string) => (await refs.list(prefix)).map((r) => `${r.oid} ${r.name}`).join('\n');

  describe('create, update, delete', () => {
    it('creates a ref as "<oid>\\n" and resolves it directly and through HEAD', async () => {
      expect(await create(MAIN, c1)).toEqual([ok(MAIN)]);
      expect(await readRef(MAIN)).toBe(`${c1}\n`);
      expect(await refs.resolve(MAIN)).toBe(c1);
      expect(await refs.resolve('HEAD')).toBe(c1);
      if (onFs) {
        expect(cgit('rev-parse', 'HEAD')).toBe(c1);
        expect(fsckOk().stderr).toBe('');
      }
    });

    it('creates missing directories for nested names', async () => {
      expect(await create('refs/heads/feature/deep/x', c2)).toEqual([ok('refs/heads/feature/deep/x')]);
      expect(await create('refs/tags/release/v1', c1)).toEqual([ok('refs/tags/release/v1')]);
      expect(await refs.resolve('refs/heads/feature/deep/x')).toBe(c2);
      if (onFs) expect(forEachRef()).toBe(`${c2} refs/heads/feature/deep/x\n${c1} refs/tags/release/v1`);
    });

    it('refuses to update or delete a ref that is missing', async () => {
      for (const newOid of [c2, null]) {
        const [r] = await refs.update([{ name: MAIN, oldOid: c1, newOid }]);
        expect(r).toMatchObject({ ok: false, code: 'missing', reason: `cannot lock ref '${MAIN}': reference is missing but expected ${c1}` });
      }
      expect(await refs.resolve(MAIN)).toBeNull();
      expect(await storage.exists(file(MAIN))).toBe(false);
    });

    it('deletes refs (null or zero new value) and prunes emptied directories below refs/heads', async () => {
      await create('refs/heads/topic/a', c1);
      await create('refs/heads/topic/b', c2);
      await create('refs/heads/topic/deeper/c', c3);
      expect(await refs.update([{ name: 'refs/heads/topic/a', oldOid: c1, newOid: null }])).toEqual([ok('refs/heads/topic/a')]);
      expect(await storage.exists(file('refs/heads/topic/a'))).toBe(false);
      expect(await refs.resolve('refs/heads/topic/a')).toBeNull();
      expect(await storage.exists(file('refs/heads/topic'))).toBe(true); // b still lives there

      const [wrong] = await refs.update([{ name: 'refs/heads/topic/b', oldOid: c1, newOid: null }]);
      expect(wrong).toMatchObject({ ok: false, code: 'stale' });
      expect(await refs.resolve('refs/heads/topic/b')).toBe(c2);

      await refs.update([{ name: 'refs/heads/topic/deeper/c', oldOid: c3, newOid: ZERO_OID }]);
      expect(await storage.exists(file('refs/heads/topic/deeper'))).toBe(false);
      await refs.update([{ name: 'refs/heads/topic/b', oldOid: c2, newOid: null }]);
      expect(await storage.exists(file('refs/heads/topic'))).toBe(false);
      expect((await storage.stat(file('refs/heads')))?.isDirectory()).toBe(true); // never pruned
      expect(await refs.list()).toEqual([]);
    });

    it('treats deleting an absent ref that must be absent as a no-op success', async () => {
      expect(await refs.update([{ name: 'refs/heads/ghost', oldOid: null, newOid: null }])).toEqual([ok('refs/heads/ghost')]);
      expect(await storage.exists(file('refs/heads/ghost'))).toBe(false);
    });

    it('rejects funny names and malformed ids per ref, without touching files outside refs/', async () => {
      const results = await refs.update([
        { name: 'refs/heads/a..b', oldOid: null, newOid: c1 },
        { name: 'HEAD', oldOid: null, newOid: c1 },
        { name: 'refs/heads/x.lock', oldOid: null, newOid: c1 },
        { name: 'refs/../config', oldOid: null, newOid: c1 },
        { name: 'refs/heads/bad-id', oldOid: null, newOid: 'xyz' },
        { name: 'refs/heads/upper', oldOid: null, newOid: c1.toUpperCase() },
        { name: 'refs/heads/good', oldOid: null, newOid: c1 },
      ]);
      expect(results.map((r) => (r.ok ? 'ok' : r.reason))).toEqual([
        'funny refname',
        'funny refname',
        'funny refname',
        'funny refname',
        "invalid object name 'xyz'",
        `invalid object name '${c1.toUpperCase()}'`,
        'ok',
      ]);
      expect((await readRef('config'))?.startsWith('[core]')).toBe(true);
      expect(await refs.list()).toEqual([{ name: 'refs/heads/good', oid: c1 }]);
    });
  });

  describe('directory/file conflicts', () => {

    it('allows the name once the conflicting ref is deleted', async () => {
      await create('refs/heads/x/y', c1);
      await refs.update([{ name: 'refs/heads/x/y', oldOid: c1, newOid: null }]);
      expect(await create('refs/heads/x', c2)).toEqual([ok('refs/heads/x')]);
      await refs.update([{ name: 'refs/heads/x', oldOid: c2, newOid: null }]);
      expect(await create('refs/heads/x/z', c3)).toEqual([ok('refs/heads/x/z')]);
      if (onFs) expect(forEachRef()).toBe(`${c3} refs/heads/x/z`);
    });

    it('replaces a leftover empty directory tree with the new ref', async () => {
      await storage.mkdir(file('refs/heads/z/empty/deeper'));
      expect(await create('refs/heads/z', c1)).toEqual([ok('refs/heads/z')]);
      expect(await readRef('refs/heads/z')).toBe(`${c1}\n`);
    });

    it('counts any file in the way as a conflict, never deleting it', async () => {
      await plant('refs/heads/w/stray.lock', 'someone else');
      const [r] = await create('refs/heads/w', c1);
      expect(r).toMatchObject({ ok: false, code: 'conflict' });
      expect(await readRef('refs/heads/w/stray.lock')).toBe('someone else');
    });

    it('refuses conflicts with packed refs in both directions', async () => {
      await plant('packed-refs', `# pack-refs with: peeled fully-peeled sorted \n${c1} refs/heads/p\n${c1} refs/heads/q/r\n`);
      const results = await refs.update([
        { name: 'refs/heads/p/q', oldOid: null, newOid: c2 },
        { name: 'refs/heads/q', oldOid: null, newOid: c2 },
      ]);
      expect(results.map((r) => !r.ok && r.reason)).toEqual([
        "cannot lock ref 'refs/heads/p/q': 'refs/heads/p' exists; cannot create 'refs/heads/p/q'",
        "cannot lock ref 'refs/heads/q': 'refs/heads/q/r' exists; cannot create 'refs/heads/q'",
      ]);
    });

    it('refuses a name and its sub-name in one batch', async () => {
      for (const atomic of [false, true]) {
        const results = await refs.update(
          [
            { name: 'refs/heads/n', oldOid: null, newOid: c1 },
            { name: 'refs/heads/n/m', oldOid: null, newOid: c1 },
          ],
          { atomic },
        );
        const reason = "cannot process 'refs/heads/n' and 'refs/heads/n/m' at the same time";
        expect(results).toEqual([
          { name: 'refs/heads/n', ok: false, code: 'conflict', reason },
          { name: 'refs/heads/n/m', ok: false, code: 'conflict', reason },
        ]);
      }
      expect(await refs.list()).toEqual([]);
      expect(await storage.exists(file('refs/heads/n'))).toBe(false);
    });
  });

  describe('packed-refs', () => {
    let tag1: string, tag2: string, packedText: string;

    beforeEach(async () => {
      const loose = new LooseObjects(storage, gitdir);
      const tagger = 'Ada Author <ada@example.com> 1700000000 +0100';
      tag1 = await loose.write('tag', serializeTag({ object: c1, type: 'commit', tag: 'v1', tagger, message: 'one\n' }));
      tag2 = await loose.write('tag', serializeTag({ object: c2, type: 'commit', tag: 'v2', tagger, message: 'two\n' }));
      packedText = [
        '# pack-refs with: peeled fully-peeled sorted ',
        `${c1} refs/heads/main`,
        `${c2} refs/heads/packed-only`,
        `${tag1} refs/tags/v1`,
        `^${c1}`,
        `${tag2} refs/tags/v2`,
        `^${c2}`,
        '',
      ].join('\n');
      await plant('packed-refs', packedText);
    });

    it('reads packed refs, with loose refs overriding them', async () => {
      expect(await refs.resolve('refs/heads/packed-only')).toBe(c2);
      expect(await refs.resolve('HEAD')).toBe(c1);
      const all = `${c1} refs/heads/main\n${c2} refs/heads/packed-only\n${tag1} refs/tags/v1\n${tag2} refs/tags/v2`;
      expect(await listed()).toBe(all);
      if (onFs) {
        expect(forEachRef()).toBe(all);
        expect(fsckOk().status).toBe(0);
      }
      await plant(MAIN, `${c3}\n`);
      expect(await refs.resolve(MAIN)).toBe(c3);
      expect((await refs.list('refs/heads/')).map((r) => r.oid)).toEqual([c3, c2]);
    });

    it('updates a packed ref by writing a loose one, checking against the packed value', async () => {
      const [stale] = await refs.update([{ name: 'refs/heads/packed-only', oldOid: c1, newOid: c3 }]);
      expect(stale).toMatchObject({ ok: false, reason: `cannot lock ref 'refs/heads/packed-only': is at ${c2} but expected ${c1}` });
      expect(await refs.update([{ name: 'refs/heads/packed-only', oldOid: c2, newOid: c3 }])).toEqual([ok('refs/heads/packed-only')]);
      expect(await readRef('refs/heads/packed-only')).toBe(`${c3}\n`);
      expect(await readRef('packed-refs')).toBe(packedText);
      if (onFs) expect(cgit('rev-parse', 'refs/heads/packed-only')).toBe(c3);
    });

    it('deletes a packed ref by rewriting packed-refs without it and its peeled line', async () => {
      expect(await refs.update([{ name: 'refs/tags/v1', oldOid: tag1, newOid: null }])).toEqual([ok('refs/tags/v1')]);
      expect(await readRef('packed-refs')).toBe(
        ['# pack-refs with: peeled fully-peeled sorted ', `${c1} refs/heads/main`, `${c2} refs/heads/packed-only`, `${tag2} refs/tags/v2`, `^${c2}`, ''].join(
          '\n',
        ),
      );
      expect(await refs.resolve('refs/tags/v1')).toBeNull();
      if (onFs) {
        expect(cgit('show-ref')).toBe(`${c1} refs/heads/main\n${c2} refs/heads/packed-only\n${tag2} refs/tags/v2`);
        expect(cgit('rev-parse', 'refs/tags/v2^{}')).toBe(c2);
        expect(fsckOk().status).toBe(0);
      }
    });

    it('deletes a ref that is both loose and packed without the packed value resurfacing', async () => {
      await refs.update([{ name: MAIN, oldOid: c1, newOid: c3 }]); // now loose c3 over packed c1
      expect(await refs.update([{ name: MAIN, oldOid: c3, newOid: null }])).toEqual([ok(MAIN)]);
      expect(await refs.resolve(MAIN)).toBeNull();
      expect(await storage.exists(file(MAIN))).toBe(false);
      expect(await readRef('packed-refs')).not.toContain('refs/heads/main');
      if (onFs) expect(gitRaw(['--git-dir', gitdir, 'rev-parse', '--verify', '-q', MAIN]).status).not.toBe(0);
    });

    it('deletes several packed refs in one rewrite, keeping the others byte for byte', async () => {
      const results = await refs.update([
        { name: 'refs/heads/packed-only', oldOid: c2, newOid: null },
        { name: 'refs/tags/v2', oldOid: tag2, newOid: null },
      ]);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(await readRef('packed-refs')).toBe(['# pack-refs with: peeled fully-peeled sorted ', `${c1} refs/heads/main`, `${tag1} refs/tags/v1`, `^${c1}`, ''].join('\n'));
    });

    it('cannot delete a packed ref while packed-refs.lock is held; atomic batches then fail whole', async () => {
      await plant('packed-refs.lock', 'gc at work');
      const [r] = await refs.update([{ name: 'refs/tags/v1', oldOid: tag1, newOid: null }]);
      expect(r).toMatchObject({ ok: false, code: 'locked' });
      expect(!r!.ok && r!.reason).toMatch(/packed-refs\.lock': File exists/);
      const atomic = await refs.update(
        [
          { name: 'refs/heads/new', oldOid: null, newOid: c3 },
          { name: 'refs/tags/v2', oldOid: tag2, newOid: null },
        ],
        { atomic: true },
      );
      expect(atomic.map((x) => !x.ok && x.code)).toEqual(['atomic', 'locked']);
      expect(await readRef('packed-refs')).toBe(packedText);
      expect(await refs.resolve('refs/heads/new')).toBeNull();
    });

    it('throws CORRUPT_REPO on a packed-refs line it cannot parse', async () => {
      await plant('packed-refs', 'this is not a packed ref\n');
      const err = await refs.resolve('refs/heads/x').catch((e: unknown) => e);
      expect(isGitgateError(err, 'CORRUPT_REPO')).toBe(true);
    });
  });

  describe('atomic transactions', () => {
    beforeEach(async () => {
      await create(MAIN, c1);
    });

    it('applies every ref when all succeed', async () => {
      const results = await refs.update(
        [
          { name: MAIN, oldOid: c1, newOid: c2 },
          { name: 'refs/heads/b', oldOid: null, newOid: c3 },
          { name: 'refs/tags/t', oldOid: ZERO_OID, newOid: c1 },
        ],
        { atomic: true },
      );
      expect(results.every((r) => r.ok)).toBe(true);
      expect(await listed()).toBe(`${c3} refs/heads/b\n${c2} ${MAIN}\n${c1} refs/tags/t`);
      if (onFs) expect(forEachRef()).toBe(await listed());
    });
  });

  describe('lock files', () => {
    beforeEach(async () => {
      await create(MAIN, c1);
    });

    it("refuses a ref whose lock is fresh, leaving the other writer's lock alone", async () => {
      await plant(`${MAIN}.lock`, 'in progress');
      const results = await refs.update([
        { name: MAIN, oldOid: c1, newOid: c2 },
        { name: 'refs/heads/other', oldOid: null, newOid: c2 },
      ]);
      expect(results[0]).toEqual({
        name: MAIN,
        ok: false,
        code: 'locked',
        reason: `cannot lock ref '${MAIN}': Unable to create '${MAIN}.lock': File exists.`,
      });
      expect(results[1]).toEqual(ok('refs/heads/other'));
      expect(await readRef(`${MAIN}.lock`)).toBe('in progress');
      expect(await refs.resolve(MAIN)).toBe(c1);
    });

    it('breaks a lock older than ten minutes (a crashed writer) and proceeds', async () => {
      await plant(`${MAIN}.lock`, 'crashed');
      await age(storage, file(`${MAIN}.lock`), 11 * 60 * 1000);
      foreignLocks.clear(); // it must be gone afterwards
      expect(await refs.update([{ name: MAIN, oldOid: c1, newOid: c2 }])).toEqual([ok(MAIN)]);
      expect(await refs.resolve(MAIN)).toBe(c2);
    });

    it('keeps a lock that is nine minutes old', async () => {
      await plant(`${MAIN}.lock`, 'slow writer');
      await age(storage, file(`${MAIN}.lock`), 9 * 60 * 1000);
      const [r] = await refs.update([{ name: MAIN, oldOid: c1, newOid: c2 }]);
      expect(r).toMatchObject({ ok: false, code: 'locked' });
    });

    it('removes its lock when the rename fails, reporting the ref as failed', async () => {
      const failing = new RefStore(
        withFault(storage, 'rename', (args) => String(args[1]).endsWith(MAIN)),
        gitdir,
      );
      const results = await failing.update([
        { name: MAIN, oldOid: c1, newOid: c2 },
        { name: 'refs/heads/side', oldOid: null, newOid: c2 },
      ]);
      expect(results[0]).toEqual({ name: MAIN, ok: false, code: 'error', reason: `failed to update ref '${MAIN}': EIO` });
      expect(results[1]).toEqual(ok('refs/heads/side'));
      expect(await refs.resolve(MAIN)).toBe(c1);
    });

    it('removes its lock when writing the new value fails', async () => {
      const failing = new RefStore(withFailingSync(storage), gitdir);
      const [r] = await failing.update([{ name: MAIN, oldOid: c1, newOid: c2 }]);
      expect(r).toMatchObject({ ok: false, code: 'error' });
      expect(await refs.resolve(MAIN)).toBe(c1);
    });
  });

  describe('list', () => {
    it('sorts bytewise like git, filters by prefix, and ignores lock files', async () => {
      // U+1F600 sorts after U+FF01 in UTF-8 bytes but before it in UTF-16 code units
      const names = ['refs/heads/z', 'refs/heads/x-1', 'refs/heads/x/1', 'refs/heads/x.1', 'refs/heads/\u{1F600}', 'refs/heads/\uFF01', 'refs/heads/ä', 'refs/heads/Z', 'refs/tags/t1'];
      // refs/heads/Z beside refs/heads/z can no longer be created here (one file on case-insensitive
      // file systems), but one C Git made still lists
      for (const n of names) await (n === 'refs/heads/Z' ? plant(n, `${c1}\n`) : create(n, c1));
      await plant('refs/heads/ghost.lock', `${c2}\n`);
      const expected = ['refs/heads/Z', 'refs/heads/x-1', 'refs/heads/x.1', 'refs/heads/x/1', 'refs/heads/z', 'refs/heads/ä', 'refs/heads/\uFF01', 'refs/heads/\u{1F600}', 'refs/tags/t1'];
      expect((await refs.list()).map((r) => r.name)).toEqual(expected);
      expect((await refs.list('refs/tags/')).map((r) => r.name)).toEqual(['refs/tags/t1']);
      expect((await refs.list('refs/heads/x')).map((r) => r.name)).toEqual(['refs/heads/x-1', 'refs/heads/x.1', 'refs/heads/x/1']);
      expect(await refs.list('refs/remotes/')).toEqual([]);
      if (onFs) expect(cgit('for-each-ref', '--format=%(refname)')).toBe(expected.join('\n'));
    });

    it('skips a broken loose ref (and its packed value) while resolve reports it as corrupt', async () => {
      await create(MAIN, c1);
      await plant('packed-refs', `${c2} refs/heads/broken\n`);
      await plant('refs/heads/broken', 'garbage\n');
      expect(await refs.list()).toEqual([{ name: MAIN, oid: c1 }]);
      const err = await refs.resolve('refs/heads/broken').catch((e: unknown) => e);
      expect(isGitgateError(err, 'CORRUPT_REPO')).toBe(true);
      const [r] = await refs.update([{ name: 'refs/heads/broken', oldOid: c2, newOid: c3 }]);
      expect(r).toMatchObject({ ok: false, code: 'error' });
    });
  });

  describe('symbolic refs', () => {
    it('writes "ref: <target>\\n" and reads it back; resolve follows it once the target exists', async () => {
      await refs.setSymbolic('HEAD', 'refs/heads/dev');
      expect(await readRef('HEAD')).toBe('ref: refs/heads/dev\n');
      expect(await refs.readSymbolic('HEAD')).toBe('refs/heads/dev');
      expect(await refs.resolve('HEAD')).toBeNull();
      await create('refs/heads/dev', c3);
      expect(await refs.resolve('HEAD')).toBe(c3);
      expect(await refs.readSymbolic('refs/heads/dev')).toBeNull();
      if (onFs) expect(cgit('symbolic-ref', 'HEAD')).toBe('refs/heads/dev');
    });

    it('refuses bad targets and a held HEAD.lock', async () => {
      for (const target of ['heads/x', 'refs/heads/a..b', 'HEAD', 'refs/heads/']) {
        const err = await refs.setSymbolic('HEAD', target).catch((e: unknown) => e);
        expect(isGitgateError(err, 'BAD_REF_NAME'), target).toBe(true);
      }
      await plant('HEAD.lock', '');
      const err = await refs.setSymbolic('HEAD', 'refs/heads/x').catch((e: unknown) => e);
      expect(isGitgateError(err, 'REF_LOCKED')).toBe(true);
      expect(await readRef('HEAD')).toBe('ref: refs/heads/main\n');
    });

    it('resolves a detached HEAD and rejects names outside refs/', async () => {
      await plant('HEAD', `${c2}\n`);
      expect(await refs.resolve('HEAD')).toBe(c2);
      expect(await refs.readSymbolic('HEAD')).toBeNull();
      for (const name of ['../config', 'config', 'refs/heads/../../config', 'ORIG_HEAD']) {
        const err = await refs.resolve(name).catch((e: unknown) => e);
        expect(isGitgateError(err, 'BAD_REF_NAME'), name).toBe(true);
      }
    });

    it('detects symbolic ref loops', async () => {
      await plant('refs/heads/l1', 'ref: refs/heads/l2\n');
      await plant('refs/heads/l2', 'ref: refs/heads/l1\n');
      const err = await refs.resolve('refs/heads/l1').catch((e: unknown) => e);
      expect(isGitgateError(err, 'CORRUPT_REPO')).toBe(true);
    });
  });
});

describe('RefStore interplay with C Git (fs)', () => {
  let ts: TestStorage;
  let gitdir: string;
  const cgit = (...args: string[]) => git(['--git-dir', gitdir, ...args]);

  beforeEach(async () => {
    ts = makeStorage('fs');
    gitdir = `${ts.storage.root}/interop.git`;
    await initBareRepo(ts.storage, gitdir, 'main');
  });
  afterEach(() => ts.cleanup());

  it('reads refs C Git wrote and packed, and C Git reads our updates on top', async () => {
    const c1 = await makeCommit(ts.storage, gitdir, 'one');
    const c2 = await makeCommit(ts.storage, gitdir, 'two', [c1]);
    cgit('update-ref', 'refs/heads/main', c1);
    cgit('update-ref', 'refs/heads/feature/x', c2);
    cgit('tag', '-a', '-m', 'annotated', 'v1', c1);
    cgit('pack-refs', '--all');
    expect(await ts.storage.exists(`${gitdir}/refs/heads/main`)).toBe(false); // really packed
    const refs = new RefStore(ts.storage, gitdir);
    expect(await refs.list()).toEqual(
      cgit('for-each-ref', '--format=%(refname) %(objectname)')
        .split('\n')
        .map((l) => ({ name: l.split(' ')[0], oid: l.split(' ')[1] })),
    );
    const tag = cgit('rev-parse', 'refs/tags/v1');
    const results = await refs.update([
      { name: 'refs/heads/main', oldOid: c1, newOid: c2 },
      { name: 'refs/tags/v1', oldOid: tag, newOid: null },
      { name: 'refs/heads/feature/x', oldOid: c2, newOid: null },
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(cgit('show-ref')).toBe(`${c2} refs/heads/main`);
    expect(gitRaw(['--git-dir', gitdir, 'fsck', '--full', '--strict']).status).toBe(0);
    cgit('pack-refs', '--all'); // C Git can still rewrite the packed-refs we rewrote
    expect(await refs.resolve('HEAD')).toBe(c2);
  });

  it('holds a lock that C Git honours while an update is in flight', async () => {
    const c1 = await makeCommit(ts.storage, gitdir, 'one');
    const c2 = await makeCommit(ts.storage, gitdir, 'two', [c1]);
    await new RefStore(ts.storage, gitdir).update([{ name: 'refs/heads/main', oldOid: null, newOid: c1 }]);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const reached = new Promise<void>((r) => (arrived = r));
    const paused = new Proxy(ts.storage, {
      get(target, prop, receiver) {
        if (prop !== 'rename') return Reflect.get(target, prop, receiver);
        return async (from: string, to: string) => {
          arrived();
          await gate;
          return target.rename(from, to);
        };
      },
    });
    const pending = new RefStore(paused, gitdir).update([{ name: 'refs/heads/main', oldOid: c1, newOid: c2 }]);
    await reached; // our refs/heads/main.lock exists now, holding c2
    const r = gitRaw(['--git-dir', gitdir, 'update-ref', 'refs/heads/main', c2, c1]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/refs\/heads\/main\.lock': File exists/);
    release();
    expect(await pending).toEqual([{ name: 'refs/heads/main', ok: true }]);
    expect(cgit('rev-parse', 'refs/heads/main')).toBe(c2);
  });
});

/** A storage whose `method` rejects with EIO when `when(args)` holds. */
function withFault(storage: Storage, method: 'rename', when: (args: unknown[]) => boolean): Storage {
  return new Proxy(storage, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== method || typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        when(args) ? Promise.reject(Object.assign(new Error('EIO: injected'), { code: 'EIO' })) : value.apply(target, args);
    },
  });
}

/** A storage whose file handles fail to fsync. */
function withFailingSync(storage: Storage): Storage {
  return new Proxy(storage, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== 'open') return value;
      return async (p: string, flags: string): Promise<FileHandleLike> => {
        const fh = await target.open(p, flags);
        return {
          read: fh.read.bind(fh),
          write: fh.write.bind(fh),
          stat: fh.stat.bind(fh),
          close: fh.close.bind(fh),
          sync: () => Promise.reject(Object.assign(new Error('EIO: injected'), { code: 'EIO' })),
        };
      };
    },
  });
}
