// Geometric repacking over node fs and memfs: the progression, what the new pack holds (every
// object once, deltas kept, loose objects packed), what it leaves (nothing temporary, old packs
// and loose files gone, .keep packs untouched), aborts, and readers that hold old packs.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashObject } from '../../src/pack/types.js';
import { initBareRepo } from '../../src/repo/init.js';
import { ingestPack } from '../../src/repo/pack-ingest.js';
import { LooseObjects, listLoose } from '../../src/repo/loose.js';
import { geometricSplit } from '../../src/repo/geometric.js';
import { repack } from '../../src/repo/repack.js';
import { workerStarts } from '../../src/repo/repack-runner.js';
import { Repository } from '../../src/repo/repository.js';
import type { Storage } from '../../src/repo/storage.js';
import { commitFiles, git as gitAsync, gitOk, tmpDir } from '../helpers/git.js';
import { fastImportCommits, leftovers, packRevs } from '../helpers/push.js';
import { type TestServer, useTestServer } from '../helpers/server.js';
import { exportTree } from '../helpers/storage.js';
import { STORAGE_KINDS, makeCommit, makeStorage, type TestStorage } from './helpers.js';

describe('geometricSplit', () => {
  it.each([
    [[], 0, 0],
    [[100], 0, 0],
    [[1, 2, 4, 8], 0, 0], // already a progression
    [[1, 1, 4, 8], 0, 2], // the two smallest roll up into 2, then 4 and 8 follow
    [[1, 1, 1, 8], 0, 3],
    [[3, 3, 3, 1000], 0, 3],
    [[1, 1, 2, 3, 5, 8, 100], 0, 6], // rolling the small ones up makes 20, still < 2 * 100? no: 20 < 200 keeps 100
    [[5, 1000], 3, 1], // loose objects weigh in: 5 < 2 * 3
    [[7, 1000], 3, 0],
    [[4, 4], 0, 2],
    [[4, 8], 0, 0],
  ])('%j with %i loose objects rolls up %i packs', (counts, extra, expected) => {
    expect(geometricSplit(counts, 2, extra)).toBe(expected);
  });

  it('leaves a geometric progression behind', () => {
    let packs = [1];
    for (let push = 0; push < 500; push++) {
      packs = [...packs, 1 + (push % 7)].sort((a, b) => a - b);
      const split = geometricSplit(packs, 2);
      if (split >= 2) packs = [packs.slice(0, split).reduce((a, b) => a + b, 0), ...packs.slice(split)].sort((a, b) => a - b);
      for (let i = 1; i < packs.length; i++) expect(packs[i]!).toBeGreaterThanOrEqual(2 * packs[i - 1]! - 0);
    }
    expect(packs.length).toBeLessThanOrEqual(Math.ceil(Math.log2(packs.reduce((a, b) => a + b, 0))) + 1);
  });
});

/** C Git's view of a repository: run git against it (memfs repositories are exported first). */
async function onDisk(storage: Storage, gitdir: string): Promise<string> {
  if (storage.kind === 'fs') return gitdir;
  const out = path.join(tmpDir('gitgate-repack-export-'), 'r.git');
  await exportTree(storage, gitdir, out);
  return out;
}

async function cgitFsck(storage: Storage, gitdir: string): Promise<void> {
  await gitOk(['--git-dir', await onDisk(storage, gitdir), 'fsck', '--full', '--strict', '--no-dangling']);
}

async function packNames(storage: Storage, gitdir: string): Promise<string[]> {
  return (await storage.readdir(`${gitdir}/objects/pack`)).filter((f) => f.endsWith('.pack')).sort();
}

describe.each(STORAGE_KINDS)('repack on %s', (kind) => {
  let ts: TestStorage;
  let storage: Storage;
  let gitdir: string;
  let repo: Repository;
  let src: string;
  let commits: string[];

  /** Like n pushes: one thin pack per commit, each completed with bases from the repository. */
  async function pushEach(from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) {
      const revs = i === 0 ? [commits[0]!] : [commits[i]!, `^${commits[i - 1]}`];
      const pack = await packRevs(src, revs, { thin: true });
      await ingestPack(repo, (async function* () {
        yield pack;
      })());
      const old = i === 0 ? null : commits[i - 1]!;
      const [r] = await repo.refs.update([{ name: 'refs/heads/main', oldOid: old, newOid: commits[i]! }]);
      expect(r!.ok).toBe(true);
    }
  }

  /** Objects reachable from the first `n` commits (what pushEach(0, n) stored). */
  async function allObjects(n = commits.length): Promise<string[]> {
    return (await gitOk(['rev-list', '--objects', commits[n - 1]!], { cwd: src })).trim().split('\n').map((l) => l.slice(0, 40));
  }

  async function expectReadable(oids: string[]): Promise<void> {
    for (const oid of oids) {
      const obj = await repo.objects.read(oid);
      expect(obj, oid).not.toBeNull();
      expect(hashObject(obj!.type, obj!.content).toString('hex')).toBe(oid);
    }
  }

  beforeAll(async () => {
    src = path.join(tmpDir(), 'src');
    await gitOk(['init', '-q', '-b', 'main', src]);
    await fastImportCommits(src, 'refs/heads/main', 40, { files: 4 });
    commits = (await gitOk(['rev-list', '--reverse', 'main'], { cwd: src })).trim().split('\n');
  });

  beforeEach(async () => {
    ts = makeStorage(kind);
    storage = ts.storage;
    gitdir = `${storage.root}/r.git`;
    await initBareRepo(storage, gitdir, 'main');
    repo = new Repository(storage, 'r', gitdir, { maintenance: { enabled: false } });
  });
  afterEach(async () => {
    await repo.close();
    ts.cleanup();
  });

  it('rolls small packs up into a geometric progression and keeps every object readable', async () => {
    await pushEach(0, 40);
    expect((await packNames(storage, gitdir)).length).toBe(40);
    const result = await repack(repo);
    expect(result.rolledUp.length).toBeGreaterThan(1);
    expect(result.pack).toMatch(/^pack-[0-9a-f]{40}$/);
    const counts = (await repo.objects.packInfos()).map((p) => p.count).sort((a, b) => a - b);
    for (let i = 1; i < counts.length; i++) expect(counts[i]!).toBeGreaterThanOrEqual(2 * counts[i - 1]!);
    expect(await packNames(storage, gitdir)).toHaveLength(counts.length);
    expect((await storage.readdir(`${gitdir}/objects/pack`)).filter((f) => !/^pack-[0-9a-f]{40}\.(pack|idx|bitmap|rev)$/.test(f))).toEqual([]);
    await expectReadable(await allObjects());
    await cgitFsck(storage, gitdir);
    // another run finds nothing to do
    const again = await repack(repo);
    expect(again).toEqual({ pack: null, rolledUp: [], objects: 0, looseRemoved: 0 });
  });

  it('keeps packs few after many pushes, each object once, deltas reused', async () => {
    for (let i = 0; i < 40; i += 1) {
      await pushEach(i, i + 1);
      await repack(repo, { inline: true }); // the algorithm under test; the worker has its own tests (e2e/maintenance)
      const n = (await packNames(storage, gitdir)).length;
      expect(n).toBeLessThanOrEqual(Math.ceil(Math.log2(4 * (i + 1))) + 1);
    }
    const full = await repack(repo, { all: true });
    expect(await packNames(storage, gitdir)).toEqual([`${full.pack}.pack`]);
    const objects = await allObjects();
    expect(full.objects).toBe(objects.length); // thin-pack bases appended by each push are not duplicated
    await expectReadable(objects);
    const dir = await onDisk(storage, gitdir);
    const verify = await gitOk(['verify-pack', '-v', path.join(dir, 'objects/pack', `${full.pack}.idx`)]);
    expect(verify).toMatch(/^chain length = 1: \d+ objects?$/m); // the pushes' deltas survived
    await cgitFsck(storage, gitdir);
  });

  it('starts no worker process when there is nothing, or little, to roll up', async () => {
    await pushEach(0, 1);
    const before = workerStarts.repack;
    expect(await repack(repo)).toEqual({ pack: null, rolledUp: [], objects: 0, looseRemoved: 0 });
    expect(workerStarts.repack).toBe(before);
    // two pushes' packs: rolled up here
    await pushEach(1, 3);
    expect((await repack(repo)).rolledUp.length).toBeGreaterThan(0);
    expect(workerStarts.repack).toBe(before);
    await expectReadable(await allObjects(3));
    // a full repack, on disk, in a worker (memfs: here)
    await pushEach(3, 4);
    expect((await repack(repo, { all: true })).rolledUp.length).toBeGreaterThan(0);
    expect(workerStarts.repack).toBe(before + (kind === 'fs' ? 1 : 0));
    await expectReadable(await allObjects(4));
    await cgitFsck(storage, gitdir);
  });

  it('packs loose objects and deletes their files, and drops loose copies of packed objects', async () => {
    await pushEach(0, 3);
    const c1 = await makeCommit(storage, gitdir, 'loose one', [commits[2]!]);
    const c2 = await makeCommit(storage, gitdir, 'loose two', [c1]);
    await repo.refs.update([{ name: 'refs/heads/loose', oldOid: null, newOid: c2 }]);
    // a loose copy of an object some pack holds
    const packed = commits[1]!;
    const obj = (await repo.objects.read(packed))!;
    await new LooseObjects(storage, gitdir).write(obj.type, obj.content);
    const before = await listLoose(storage, `${gitdir}/objects`);
    expect(before.length).toBeGreaterThanOrEqual(4);

    const result = await repack(repo, { looseThreshold: 1 });
    expect(result.looseRemoved).toBe(before.length);
    expect(await listLoose(storage, `${gitdir}/objects`)).toEqual([]);
    await expectReadable([c1, c2, packed, ...(await allObjects(3))]);
    await cgitFsck(storage, gitdir);
  });

  it('leaves loose objects alone below the threshold when no pack needs rolling up', async () => {
    await pushEach(0, 1);
    const c = await makeCommit(storage, gitdir, 'loose', [commits[0]!]);
    await repo.refs.update([{ name: 'refs/heads/x', oldOid: null, newOid: c }]);
    const packs = await packNames(storage, gitdir);
    const result = await repack(repo);
    expect(result.pack).toBeNull();
    expect(await packNames(storage, gitdir)).toEqual(packs);
    expect((await listLoose(storage, `${gitdir}/objects`)).length).toBe(2); // commit + empty tree
  });

  it('never touches a pack with a .keep file', async () => {
    await pushEach(0, 6);
    const [kept] = (await repo.objects.packInfos()).sort((a, b) => a.count - b.count);
    await storage.writeFile(`${gitdir}/objects/pack/${kept!.name}.keep`, '');
    await repack(repo, { all: true });
    const names = await packNames(storage, gitdir);
    expect(names).toContain(`${kept!.name}.pack`);
    expect(names).toHaveLength(2);
    await expectReadable(await allObjects(6));
    await cgitFsck(storage, gitdir);
  });

  it('leaves nothing behind when aborted, before or while writing', async () => {
    await pushEach(0, 12);
    const before = await storage.readdir(`${gitdir}/objects/pack`);
    expect(await repack(repo, { signal: { aborted: true } })).toMatchObject({ pack: null, rolledUp: [] });
    let calls = 0;
    const signal = {
      get aborted() {
        return ++calls > 8; // a few entries in
      },
    };
    expect(await repack(repo, { signal, all: true })).toMatchObject({ pack: null, rolledUp: [] });
    expect(calls).toBeGreaterThan(8);
    expect((await storage.readdir(`${gitdir}/objects/pack`)).sort()).toEqual(before.sort());
    await expectReadable(await allObjects(12));
    await cgitFsck(storage, gitdir);
  });

  it('keeps a replaced pack open for a reader that holds it, and closes it when the reader is done', async () => {
    await pushEach(0, 8);
    const release = repo.objects.pin();
    const loc = await repo.objects.locate(commits[0]!);
    expect(loc).not.toBeNull();
    const result = await repack(repo, { all: true });
    expect(result.rolledUp.length).toBe(8);
    expect(repo.objects.usage.retired).toBe(8);
    // the old pack's file is gone from the directory, but the reader still reads it
    const obj = await loc!.pack.readAt(loc!.offset);
    expect(hashObject(obj.type, obj.content).toString('hex')).toBe(commits[0]);
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect(repo.objects.usage.retired).toBe(0);
    await expect(loc!.pack.readAt(loc!.offset + 1)).rejects.toThrow();
  });

  it('hands replaced files to `defer` and keeps them out of the object store until deleted', async () => {
    await pushEach(0, 4);
    let deferred: { files: string[]; packs: string[] } | null = null;
    const result = await repack(repo, { all: true, defer: (files, packs) => (deferred = { files, packs }) });
    expect(deferred!.packs).toEqual(result.rolledUp);
    expect(await packNames(storage, gitdir)).toHaveLength(5); // still on disk, for C Git readers
    await repo.objects.rescan();
    expect((await repo.objects.packInfos()).map((p) => p.name)).toEqual([result.pack]);
    await cgitFsck(storage, gitdir); // duplicates are fine for git
    for (const f of deferred!.files) await storage.unlink(f);
    repo.objects.unignore(deferred!.packs);
    expect(await packNames(storage, gitdir)).toEqual([`${result.pack}.pack`]);
  });
});

describe.each(STORAGE_KINDS)('repacking under a cloning reader (%s storage)', (kind) => {
  let s: TestServer;
  useTestServer(kind, (started) => (s = started));

  it('clones keep succeeding while pushes and repacks replace packs under them', async () => {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    const url = s.gitUrl(id, s.admin);
    const repo = s.ctx.manager.get(id);
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', url, w]);
    let pushing = true;
    const failures: string[] = [];
    let clones = 0;
    const cloner = (async () => {
      while (pushing) {
        const dir = path.join(tmpDir(), 'c');
        const r = await gitAsync(['clone', '-q', '--no-checkout', url, dir]);
        if (r.code !== 0) failures.push(r.stderr);
        clones++;
        fs.rmSync(dir, { recursive: true, force: true });
      }
    })();
    const repacker = (async () => {
      while (pushing) {
        await repack(repo, { all: clones % 2 === 0 });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    for (let i = 0; i < 25; i++) {
      await commitFiles(w, { [`f${i % 5}.txt`]: `${i}\n`.repeat(50) }, `push ${i}`);
      await gitOk(['push', '-q', 'origin', 'main'], { cwd: w });
    }
    pushing = false;
    await Promise.all([cloner, repacker]);
    expect(failures).toEqual([]);
    expect(clones).toBeGreaterThan(2);
    await repo.maintenance.idle();
    expect(repo.objects.usage).toMatchObject({ active: 0, retired: 0 });
    expect((await repo.objects.packInfos()).length).toBeLessThanOrEqual(6);
    expect(await leftovers(s, id)).toEqual([]);
    const c = path.join(tmpDir(), 'final');
    await gitOk(['clone', '-q', url, c]);
    expect((await gitOk(['rev-list', '--count', 'HEAD'], { cwd: c })).trim()).toBe('26');
    await s.fsck(id);
  }, 180_000); // 25 pushes beside endless clones: ~40 s alone, more beside other test files
});
