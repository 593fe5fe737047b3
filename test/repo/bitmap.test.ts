// Reachability bitmaps: the EWAH and .bitmap/.rev codecs against files C Git wrote, the object
// sets they give against C Git's rev-list over random histories (bitmaps by C Git and by
// gitgate, with pushes after them), and corrupt bitmaps ignored.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Bitset, decodeEwah, encodeEwah } from '../../src/pack/ewah.js';
import { BitmapFormatError, parseBitmap, parseRev, writeBitmap, writeRev } from '../../src/pack/bitmap-format.js';
import { PackIndex } from '../../src/pack/idx.js';
import { bitmapPool, repositoryBitmap, setBitmapWarningHandler } from '../../src/repo/bitmap-index.js';
import { bitmapAllReachAny, bitmapPlan } from '../../src/repo/bitmap-plan.js';
import { writeRepositoryBitmap } from '../../src/repo/bitmap-write.js';
import { HOLD_IDS_AFTER_LOOKUPS } from '../../src/repo/bitmap-walk.js';
import { planObjects } from '../../src/repo/reachability.js';
import { Repository } from '../../src/repo/repository.js';
import { nodeStorage } from '../../src/repo/storage.js';
import { rng } from '../pack/helpers.js';
import { exactDifference, randomHistory, revListObjects } from './bitmap-history.js';
import { bareRepo as bareRepoIn, git, gitRaw, tempDir, openBare } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
  setBitmapWarningHandler(() => undefined);
});

const bareRepo = () => bareRepoIn(cleanups);
const open = (gitdir: string): Repository => openBare(gitdir, cleanups);

function packFiles(gitdir: string, ext: string): string[] {
  const dir = path.join(gitdir, 'objects', 'pack');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .map((f) => path.join(dir, f));
}

/** The one pack's objects in pack order, with their types (C Git's view). */
function packOrder(gitdir: string): { oid: string; type: string }[] {
  const [idx] = packFiles(gitdir, '.idx');
  const shown = git(['show-index'], { input: fs.readFileSync(idx!) })
    .split('\n')
    .map((l) => l.split(' '))
    .map(([off, oid]) => ({ off: Number(off), oid: oid! }))
    .sort((a, b) => a.off - b.off);
  const types = new Map(
    git(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)'])
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  );
  return shown.map((s) => ({ oid: s.oid, type: types.get(s.oid)! }));
}

describe('EWAH', () => {
  it('round-trips random bitsets of every density, including long runs of ones', () => {
    const next = rng(7);
    for (let round = 0; round < 200; round++) {
      const size = 1 + (next() % 5000);
      const b = new Bitset(size);
      const density = next() % 4;
      for (let i = 0; i < size; i++) {
        const inRun = Math.floor(i / 300) % 2 === 1;
        if (density === 0 ? next() % 50 === 0 : density === 1 ? next() % 2 === 0 : density === 2 ? inRun : next() % 50 !== 0) b.add(i);
      }
      const enc = encodeEwah(b);
      const { bits, end } = decodeEwah(enc, 0, size);
      expect(end).toBe(enc.length);
      expect([...bits]).toEqual([...b]);
    }
  });

  it('nextSet walks the set bits from any start, and countAnd counts the shared ones below a limit, as the iterator sees them', () => {
    const next = rng(9);
    for (let round = 0; round < 100; round++) {
      const a = new Bitset(1 + (next() % 3000));
      const b = new Bitset(1 + (next() % 3000));
      for (const s of [a, b]) for (let i = 0, n = next() % 400; i < n; i++) s.add(next() % 3000);
      const from = next() % 3100;
      const walked: number[] = [];
      for (let p = a.nextSet(from); p >= 0; p = a.nextSet(p + 1)) walked.push(p);
      expect(walked).toEqual([...a].filter((p) => p >= from));
      const limit = next() % 3100;
      expect(a.countAnd(b, limit)).toBe([...a].filter((p) => p < limit && b.has(p)).length);
    }
  });

  it('refuses bits beyond the object count and truncated words', () => {
    const b = new Bitset(200);
    b.add(199);
    const enc = encodeEwah(b);
    expect(() => decodeEwah(enc, 0, 150)).toThrow(/beyond|larger/);
    expect(() => decodeEwah(enc.subarray(0, enc.length - 5), 0, 200)).toThrow(/truncated/);
  });
});

describe('bitmap files written by C Git', () => {
  it.each([
    ['name-hash cache', []],
    ['lookup table, no name-hash cache', ['-c', 'pack.writeBitmapLookupTable=true', '-c', 'pack.writeBitmapHashCache=false']],
  ])('(%s) give the type of every object and, per commit, exactly what rev-list --objects lists', (_what, config) => {
    const gitdir = bareRepo();
    randomHistory(gitdir, 1, 120);
    git(['--git-dir', gitdir, '-c', 'pack.writeReverseIndex=true', ...config, 'repack', '-adb', '-q']);
    const order = packOrder(gitdir);
    const idx = PackIndex.parse(fs.readFileSync(packFiles(gitdir, '.idx')[0]!));
    const file = parseBitmap(fs.readFileSync(packFiles(gitdir, '.bitmap')[0]!), idx.count, idx.packChecksum);
    expect(file.flags & 0x14).toBe(config.length ? 0x10 : 0x4); // the extensions C Git was asked for
    const types = { commit: file.types.commits, tree: file.types.trees, blob: file.types.blobs, tag: file.types.tags };
    order.forEach((o, pos) => expect(types[o.type as keyof typeof types].has(pos)).toBe(true));

    const rev = packFiles(gitdir, '.rev');
    expect(rev).toHaveLength(1);
    const fromRev = parseRev(fs.readFileSync(rev[0]!), idx.count, idx.packChecksum);
    expect([...fromRev].map((i) => idx.oidAt(i).toString('hex'))).toEqual(order.map((o) => o.oid));
    expect(file.entries.length).toBeGreaterThan(0);
    file.entries.forEach((e, i) => {
      const commit = idx.oidAt(e.indexPos).toString('hex');
      const expected = revListObjects(gitdir, [commit]);
      const got = new Set([...file.bitmap(i)].map((pos) => order[pos]!.oid));
      expect(got).toEqual(expected);
    });
    // what we write from it, C Git reads back the same
    const again = writeBitmap({ packChecksum: idx.packChecksum, types: file.types, entries: file.entries.map((e, i) => ({ indexPos: e.indexPos, bits: file.bitmap(i) })) });
    const reparsed = parseBitmap(again, idx.count, idx.packChecksum);
    reparsed.entries.forEach((_e, i) => expect([...reparsed.bitmap(i)]).toEqual([...file.bitmap(i)]));
  });
});

/** Random wants and haves among the commits and refs; compares bitmap, walk and rev-list. */
async function checkRandomFetches(gitdir: string, seed: number, rounds: number): Promise<void> {
  const repo = open(gitdir);
  await repo.objects.rescan();
  expect(await repositoryBitmap(repo)).not.toBeNull();
  const next = rng(seed);
  const commits = git(['--git-dir', gitdir, 'rev-list', '--all']).split('\n');
  const refs = git(['--git-dir', gitdir, 'for-each-ref', '--format=%(objectname)']).split('\n');
  const pick = (n: number, from: string[]) => [...new Set(Array.from({ length: n }, () => from[next() % from.length]!))];
  for (let round = 0; round < rounds; round++) {
    const wants = round === 0 ? refs : pick(1 + (next() % 3), next() % 2 ? refs : commits);
    const haves = round === 0 ? [] : pick(next() % 4, commits);
    const plan = await bitmapPlan(repo, wants, haves);
    expect(plan).not.toBeNull();
    const got = plan!.objects.map((o) => o.oid);
    // packs sent whole (a full clone), and entries sent by pack reuse, are not listed
    for (const pack of plan!.wholePacks ?? []) for (let i = 0; i < pack.index.count; i++) got.push(pack.index.oidAt(i).toString('hex'));
    for (const oid of plan!.reuse?.ids() ?? []) got.push(oid.toString('hex'));
    expect(new Set(got).size).toBe(got.length);
    const expected = exactDifference(gitdir, wants, haves);
    expect(new Set(got)).toEqual(expected);
    // types agree with the object store
    for (const o of plan!.objects.slice(0, 50)) expect((await repo.objects.readType(o.oid))?.type).toBe(o.type);
    // the walk sends at least these (it may send more: it does not know everything the client has)
    const walked = new Set((await planObjects(repo.objects, wants, { haves })).objects.map((o) => o.oid));
    for (const oid of got) expect(walked.has(oid)).toBe(true);
    // ok_to_give_up agrees with rev-list
    const commitWants = wants.filter((w) => git(['--git-dir', gitdir, 'cat-file', '-t', w]) === 'commit');
    if (haves.length && commitWants.length) {
      const byBitmap = await bitmapAllReachAny(repo, commitWants, haves);
      const reach = commitWants.every((w) => haves.some((h) => gitRaw(['--git-dir', gitdir, 'merge-base', '--is-ancestor', h, w]).status === 0));
      expect(byBitmap).toBe(reach);
    }
  }
}

describe('object sets from bitmaps equal the walk over random histories', () => {
  for (const seed of [11, 12, 13]) {
    it(`C Git's bitmap, then pushes on top (seed ${seed})`, async () => {
      const gitdir = bareRepo();
      const first = randomHistory(gitdir, seed, 80);
      // with a .rev file for one seed; without, the pack order comes from the .idx
      git(['--git-dir', gitdir, '-c', `pack.writeReverseIndex=${seed === 11}`, 'repack', '-adb', '-q']);
      // later pushes: packs the bitmap does not cover
      randomHistory(gitdir, seed + 100, 25, { from: first.commits.slice(-10), tagPrefix: 'late' });
      await checkRandomFetches(gitdir, seed, 12);
    });

    it(`gitgate's bitmap, read by gitgate and by C Git (seed ${seed})`, async () => {
      const gitdir = bareRepo();
      // more than 100 commits: C Git's spaced selection, not every commit
      const first = randomHistory(gitdir, seed, seed === 13 ? 260 : 90);
      git(['--git-dir', gitdir, 'repack', '-ad', '-q']);
      for (const f of packFiles(gitdir, '.bitmap')) fs.rmSync(f);
      const repo = open(gitdir);
      const written = await writeRepositoryBitmap(repo);
      expect(written).not.toBeNull();
      if (seed === 13) expect(written!.bitmaps).toBeLessThan(written!.commits);
      git(['--git-dir', gitdir, 'rev-list', '--test-bitmap', 'main']);
      const count = git(['--git-dir', gitdir, 'rev-list', '--use-bitmap-index', '--count', '--objects', '--all']);
      expect(Number(count)).toBe(revListObjects(gitdir, ['--all']).size);
      randomHistory(gitdir, seed + 200, 20, { from: first.commits.slice(-10), tagPrefix: 'late' });
      await checkRandomFetches(gitdir, seed + 1, 12);
    });
  }
});

/** A one-bit set. */
function single(bit: number): Bitset {
  const b = new Bitset(bit + 1);
  b.add(bit);
  return b;
}

/** A .bitmap parsed, edited and written again (well-formed, checksums right). */
function rewritten(buf: Buffer, edit: (f: ReturnType<typeof parseBitmap>) => void): Buffer {
  const checksum = buf.subarray(12, 32);
  const f = parseBitmap(buf, lastObjects, Buffer.from(checksum));
  edit(f);
  return writeBitmap({ packChecksum: Buffer.from(checksum), types: f.types, entries: f.entries.map((e, i) => ({ indexPos: e.indexPos, bits: f.bitmap(i) })) });
}
let lastObjects = 0;
let lastBlobIndexPos = -1;

/** Recompute a file's trailing SHA-1 after an edit. */
function resum(b: Buffer): Buffer {
  createHash('sha1').update(b.subarray(0, b.length - 20)).digest().copy(b, b.length - 20);
  return b;
}

describe('reachability walked for a set of refs', () => {
  it('is kept for the next clone (also past the loaded bitmap): after a push to a new branch, only the new commit is walked; the sets stay exact', async () => {
    const gitdir = bareRepo();
    const first = randomHistory(gitdir, 21, 300);
    git(['--git-dir', gitdir, '-c', 'pack.writeReverseIndex=true', 'repack', '-adb', '-q']);
    // refs on old commits: tips without a stored bitmap, walked down to ones with
    first.commits.slice(0, 180).forEach((c, i) => i % 12 === 0 && git(['--git-dir', gitdir, 'update-ref', `refs/heads/old-${i}`, c]));
    const repo = open(gitdir);
    await repo.objects.rescan();
    // reads of objects the bitmapped pack holds: what walking the old tips costs
    const pack = (await repositoryBitmap(repo))!.pack;
    let reads = 0;
    const read = repo.objects.read.bind(repo.objects);
    repo.objects.read = (oid: string) => (pack.has(Buffer.from(oid, 'hex')) && reads++, read(oid));
    const clone = async (): Promise<number> => {
      reads = 0;
      const refs = git(['--git-dir', gitdir, 'for-each-ref', '--format=%(objectname)']).split('\n');
      const plan = (await bitmapPlan(repo, refs, []))!;
      const got = plan.objects.map((o) => o.oid);
      for (const p of plan.wholePacks ?? []) for (let i = 0; i < p.index.count; i++) got.push(p.index.oidAt(i).toString('hex'));
      for (const oid of plan.reuse?.ids() ?? []) got.push(oid.toString('hex'));
      expect(new Set(got)).toEqual(exactDifference(gitdir, refs, []));
      return reads;
    };
    expect(await clone()).toBeGreaterThan(5);
    // a push to a new branch (a commit the bitmap does not cover): walking it stops at the old objects
    const tip = first.commits.at(-1)!;
    const pushed = git(['--git-dir', gitdir, 'commit-tree', '-p', tip, '-m', 'pushed', `${tip}^{tree}`]);
    git(['--git-dir', gitdir, 'update-ref', 'refs/heads/pushed', pushed]);
    // also once the loaded bitmap was dropped as idle (clones minutes apart)
    bitmapPool.trimIdle(Infinity);
    expect(await clone()).toBe(0);
    // pushes moving the old branches: other sets of tips, walked again, still exact
    randomHistory(gitdir, 22, 3, { from: first.commits.slice(-5), tagPrefix: 'late' });
    await repo.objects.rescan();
    await clone();
  });
});

describe('ids looked up by a plan', () => {
  it('a plan looking up many ids holds the pack ids for its duration only; a small one never loads them; the sets stay exact', async () => {
    const gitdir = bareRepo();
    const { commits } = randomHistory(gitdir, 31, 400);
    git(['--git-dir', gitdir, 'repack', '-adb', '-q']);
    const repo = open(gitdir);
    await repo.objects.rescan();
    const bi = (await repositoryBitmap(repo))!;
    const index = bi.pack.index;
    let holds = 0;
    let releases = 0;
    const hold = index.holdIds.bind(index);
    index.holdIds = () => {
      holds++;
      const release = hold();
      return () => (releases++, release());
    };
    const plan = async (wants: string[], haves: string[]) => {
      const p = (await bitmapPlan(repo, wants, haves))!;
      const got = p.objects.map((o) => o.oid);
      for (const pack of p.wholePacks ?? []) for (let i = 0; i < pack.index.count; i++) got.push(pack.index.oidAt(i).toString('hex'));
      for (const oid of p.reuse?.ids() ?? []) got.push(oid.toString('hex'));
      expect(new Set(got)).toEqual(exactDifference(gitdir, wants, haves));
    };
    // a fetch of the tip with one have: a handful of lookups
    await plan([commits.at(-1)!], [commits.at(-3)!]);
    expect([holds, releases]).toEqual([0, 0]);
    // wants and haves naming hundreds of commits (a clone or fetch of a repository with many refs)
    await plan(commits.slice(-10), commits.slice(0, HOLD_IDS_AFTER_LOOKUPS + 20));
    expect([holds, releases]).toEqual([1, 1]);
    await plan(commits.slice(0, HOLD_IDS_AFTER_LOOKUPS + 20), []);
    expect([holds, releases]).toEqual([2, 2]);
  });
});

describe('writing', () => {
  it('a pack not closed under reachability gets no bitmap', async () => {
    const gitdir = bareRepo();
    // one pack with a blob, a larger one with every other object, one commit of which uses that blob
    const blob = git(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: 'kept elsewhere\n' });
    const h = randomHistory(gitdir, 41, 30);
    const stream = [`commit refs/heads/main`, `committer C <c@example.com> 1800000000 +0000`, 'data 3', 'use', `from ${h.commits.at(-1)}`, `M 100644 ${blob} elsewhere.txt`, ''].join('\n');
    git(['fast-import', '--quiet', '--force'], { cwd: gitdir, input: stream });
    const others = git(['--git-dir', gitdir, 'rev-list', '--objects', '--all'])
      .split('\n')
      .map((l) => l.slice(0, 40))
      .filter((o) => o !== blob);
    const old = packFiles(gitdir, '.pack');
    git(['--git-dir', gitdir, 'pack-objects', '-q', path.join(gitdir, 'objects/pack/pack')], { input: others.join('\n') + '\n' });
    git(['--git-dir', gitdir, 'pack-objects', '-q', path.join(gitdir, 'objects/pack/pack')], { input: `${blob}\n` });
    for (const f of old) for (const ext of ['.pack', '.idx']) fs.rmSync(f.replace(/\.pack$/, ext));
    git(['--git-dir', gitdir, 'prune-packed']);
    expect(packFiles(gitdir, '.pack')).toHaveLength(2);
    const repo = open(gitdir);
    await repo.objects.rescan();
    expect(await writeRepositoryBitmap(repo)).toBeNull();
    expect(packFiles(gitdir, '.bitmap')).toEqual([]);
  });
});

describe('a corrupt bitmap is ignored', () => {
  const corruptions: [string, (buf: Buffer) => Buffer][] = [
    ['a flipped byte in a bitmap', (b) => (b[b.length - 40]! ^= 0x40, b)],
    ['a truncated file', (b) => b.subarray(0, b.length - 30)],
    // a well-formed file (its own checksum right) for another pack
    ['another pack checksum', (b) => ((b[20]! ^= 1), resum(b))],
    // well-formed, but one object has no type
    ['a type bitmap that misses an object', (b) => rewritten(b, (f) => f.types.trees.andNot(single(f.types.trees.length - 1)))],
    ['an empty file', () => Buffer.alloc(0)],
    // well-formed, but a commit's bitmap is filed under a blob
    ['an entry for an object that is not a commit', (b) => rewritten(b, (f) => void (f.entries[0]!.indexPos = lastBlobIndexPos))],
  ];
  for (const [what, corrupt] of corruptions) {
    it(`with ${what}: a warning, the walk answers`, async () => {
      const gitdir = bareRepo();
      randomHistory(gitdir, 5, 40);
      git(['--git-dir', gitdir, 'repack', '-adb', '-q']);
      const file = packFiles(gitdir, '.bitmap')[0]!;
      const idx = PackIndex.parse(fs.readFileSync(packFiles(gitdir, '.idx')[0]!));
      lastObjects = idx.count;
      const blob = git(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)']).split('\n').find((l) => l.endsWith(' blob'))!.split(' ')[0]!;
      lastBlobIndexPos = idx.findAt(Buffer.from(blob, 'hex'), 0);
      fs.writeFileSync(file, corrupt(Buffer.from(fs.readFileSync(file))));
      const warnings: string[] = [];
      setBitmapWarningHandler((m, d) => warnings.push(`${m}: ${d.reason}`));
      const repo = open(gitdir);
      expect(await repositoryBitmap(repo)).toBeNull();
      expect(await bitmapPlan(repo, ['refs/heads/main'].map((r) => git(['--git-dir', gitdir, 'rev-parse', r])), [])).toBeNull();
      expect(warnings.join('\n')).toMatch(/corrupt/);
    });
  }

  for (const [what, corrupt] of [
    ['out of pack order', (order: Uint32Array) => ([order[0], order[1]] = [order[1]!, order[0]!])],
    ['with a wrong checksum', null],
  ] as const) {
    it(`a .rev ${what} is ignored with a warning: the bitmap is used in the .idx's order`, async () => {
      const gitdir = bareRepo();
      const first = randomHistory(gitdir, 6, 30);
      git(['--git-dir', gitdir, '-c', 'pack.writeReverseIndex=true', 'repack', '-adb', '-q']);
      const revs = packFiles(gitdir, '.rev');
      expect(revs).toHaveLength(1);
      const idx = PackIndex.parse(fs.readFileSync(packFiles(gitdir, '.idx')[0]!));
      const order = parseRev(fs.readFileSync(revs[0]!), idx.count, idx.packChecksum);
      let bytes: Buffer;
      if (corrupt) {
        corrupt(order);
        bytes = writeRev(order, idx.packChecksum);
      } else {
        bytes = Buffer.from(fs.readFileSync(revs[0]!));
        bytes[bytes.length - 1]! ^= 1;
      }
      fs.writeFileSync(revs[0]!, bytes);
      const warnings: string[] = [];
      setBitmapWarningHandler((m, d) => warnings.push(`${m}: ${d.reason}`));
      const repo = open(gitdir);
      const bi = await repositoryBitmap(repo);
      expect(bi).not.toBeNull();
      expect(warnings.join('\n')).toMatch(/reverse index is corrupt, ignored: .*(pack order|checksum)/);
      expect([...bi!.packOrder].map((i) => idx.oidAt(i).toString('hex'))).toEqual(packOrder(gitdir).map((o) => o.oid));
      randomHistory(gitdir, 106, 10, { from: first.commits.slice(-5), tagPrefix: 'late' });
      await checkRandomFetches(gitdir, 6, 6);
      expect(fs.readFileSync(revs[0]!).equals(bytes)).toBe(true); // left as it was
    });
  }

  for (const broken of [false, true]) {
    it(`the object store opens a pack with ${broken ? 'a .rev out of pack order as without one' : 'its .rev'}: offsets in pack order, every object reads back`, async () => {
      const gitdir = bareRepo();
      randomHistory(gitdir, 8, 30);
      git(['--git-dir', gitdir, '-c', 'pack.writeReverseIndex=true', 'repack', '-adb', '-q']);
      const [rev] = packFiles(gitdir, '.rev');
      const idx = PackIndex.parse(fs.readFileSync(packFiles(gitdir, '.idx')[0]!));
      const good = parseRev(fs.readFileSync(rev!), idx.count, idx.packChecksum);
      if (broken) {
        // a permutation with a valid checksum, two entries swapped: only the offsets tell
        const order = Uint32Array.from(good);
        [order[0], order[1]] = [order[1]!, order[0]!];
        fs.writeFileSync(rev!, writeRev(order, idx.packChecksum));
      }
      const repo = open(gitdir);
      await repo.objects.rescan();
      const [info] = await repo.objects.packInfos();
      expect([...info!.pack.index.packOrder()]).toEqual([...good]);
      for (const { oid, type } of packOrder(gitdir)) {
        const obj = await repo.objects.read(oid);
        expect(obj?.type).toBe(type);
        expect(createHash('sha1').update(`${type} ${obj!.content.length}\0`).update(obj!.content).digest('hex')).toBe(oid);
      }
      // the bitmap load takes the order adopted at open (the file is not read again); the broken
      // one was not adopted, so the load reads it and warns
      if (!broken) fs.writeFileSync(rev!, Buffer.from('not a reverse index'));
      const warnings: string[] = [];
      setBitmapWarningHandler((m, d) => warnings.push(`${m}: ${d.reason}`));
      const bi = await repositoryBitmap(repo);
      expect([...bi!.packOrder]).toEqual([...good]);
      if (broken) expect(warnings.join('\n')).toMatch(/reverse index is corrupt, ignored: .*pack order/);
      else expect(warnings).toEqual([]);
    });
  }

  it("a bitmapped pack without a .rev gets the one `git index-pack --rev-index` writes, once its bitmap is loaded", async () => {
    const gitdir = bareRepo();
    randomHistory(gitdir, 7, 60);
    git(['--git-dir', gitdir, '-c', 'pack.writeReverseIndex=false', 'repack', '-adb', '-q']);
    expect(packFiles(gitdir, '.rev')).toHaveLength(0);
    const repo = new Repository(nodeStorage(path.dirname(gitdir)), 'r', gitdir, { maintenance: { delayMs: 0 } });
    cleanups.push(() => void repo.close());
    const before = await repositoryBitmap(repo);
    expect(before).not.toBeNull();
    await repo.maintenance.idle();
    const [rev] = packFiles(gitdir, '.rev');
    expect(rev).toBeDefined();
    // C Git's, for a copy of the same pack
    const t = tempDir();
    cleanups.push(t.cleanup);
    const pack = packFiles(gitdir, '.pack')[0]!;
    fs.copyFileSync(pack, path.join(t.dir, 'p.pack'));
    git(['index-pack', '--rev-index', '-o', path.join(t.dir, 'p.idx'), path.join(t.dir, 'p.pack')]);
    expect(fs.readFileSync(rev!).equals(fs.readFileSync(path.join(t.dir, 'p.rev')))).toBe(true);
    // and it is what the next load uses
    const reopened = open(gitdir);
    const warnings: string[] = [];
    setBitmapWarningHandler((m, d) => warnings.push(`${m}: ${d.reason}`));
    const after = await repositoryBitmap(reopened);
    expect([...after!.packOrder]).toEqual([...before!.packOrder]);
    expect(warnings).toEqual([]);
    // C Git reads it too
    git(['--git-dir', gitdir, 'fsck', '--full', '--no-progress']);
    git(['--git-dir', gitdir, 'rev-list', '--test-bitmap', 'main']);
  });

  it('parse errors are BitmapFormatError', () => {
    expect(() => parseBitmap(Buffer.from('nope'), 1, Buffer.alloc(20))).toThrow(BitmapFormatError);
  });
});

