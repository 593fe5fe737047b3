// Crash recovery with a cluster scope (repo/recovery.ts): a temporary file goes only when the
// node its name carries is dead, owner-less files (locks, index-less packs, old-style or
// unknown-owner temporaries) only past the staleness bound; without a scope (one node owns the
// directory) every leftover goes, as before.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { recoverDataDir, type RecoveryScope } from '../../src/repo/recovery.js';
import { tempOwner, type Storage } from '../../src/repo/storage.js';
import { makeStorage, STORAGE_KINDS, walkFiles, type TestStorage } from '../helpers/storage.js';

const NOW = Date.now();
const OLD = NOW - 20 * 60_000;
const BOUND = NOW - 10 * 60_000;
const PACK = `pack-${'a'.repeat(40)}`;

const scope: RecoveryScope = {
  owner: (node) => (node === 'node-d' ? 'dead' : node === 'node-b' || node === 'node-a' ? 'live' : 'unknown'),
  staleBefore: BOUND,
};

/** relative path -> mtime */
const planted: Record<string, number> = {
  'objects/pack/tmp_pack_0a1b2c@node-d': NOW, // dead node: goes however fresh
  'objects/pack/tmp_idx_0a1b2c@node-d.tmp-3d4e5f@node-d': NOW,
  'objects/ab/tmp_obj_9f8e7d@node-d': NOW,
  'config.tmp-777777@node-d': NOW,
  'objects/pack/tmp_pack_0a1b2c@node-b': OLD, // live node: stays however old
  'objects/pack/tmp_idx_0a1b2c@node-b.tmp-3d4e5f@node-b': OLD,
  'objects/ab/tmp_obj_9f8e7d@node-b': OLD,
  'objects/pack/tmp_pack_111111@gone': OLD, // unknown owner (no row): by age
  'objects/pack/tmp_pack_222222@gone': NOW,
  'objects/pack/tmp_pack_12345-abcdef': OLD, // written before names carried owners: by age
  'objects/pack/tmp_pack_12345-fedcba': NOW,
  'refs/heads/old.lock': OLD, // lock files carry no owner: by age
  'HEAD.lock': OLD,
  'refs/heads/busy.lock': NOW,
  'packed-refs.lock': NOW,
  [`objects/pack/${PACK}.pack`]: NOW, // a live writer between renaming .pack and .idx
  [`objects/pack/pack-${'b'.repeat(40)}.pack`]: OLD, // a dead one's, long ago
};

const removedInCluster = [
  'objects/pack/tmp_pack_0a1b2c@node-d',
  'objects/pack/tmp_idx_0a1b2c@node-d.tmp-3d4e5f@node-d',
  'objects/ab/tmp_obj_9f8e7d@node-d',
  'config.tmp-777777@node-d',
  'objects/pack/tmp_pack_111111@gone',
  'objects/pack/tmp_pack_12345-abcdef',
  'refs/heads/old.lock',
  'HEAD.lock',
  `objects/pack/pack-${'b'.repeat(40)}.pack`,
];

async function plant(storage: Storage): Promise<string> {
  const gitdir = path.join(storage.root, 'r1.git');
  for (const [rel, mtime] of Object.entries(planted)) {
    const file = path.join(gitdir, rel);
    await storage.mkdir(path.dirname(file));
    await storage.writeFile(file, 'x');
    await storage.fs.promises.utimes(file, mtime / 1000, mtime / 1000);
  }
  await storage.writeFile(path.join(gitdir, 'HEAD'), 'ref: refs/heads/main\n');
  return gitdir;
}

describe.each(STORAGE_KINDS)('crash recovery on a cluster node (%s storage)', (kind) => {
  let t: TestStorage;
  afterEach(() => t.cleanup());

  it('removes dead nodes’ temporaries and stale owner-less files, never a live node’s', async () => {
    t = makeStorage(kind);
    const gitdir = await plant(t.storage);
    const report = await recoverDataDir(t.storage, scope);
    expect(report.removed.map((f) => path.relative('r1.git', f)).sort()).toEqual([...removedInCluster].sort());
    const left = (await walkFiles(t.storage, gitdir)).map((f) => path.relative(gitdir, f)).sort();
    expect(left).toEqual(['HEAD', ...Object.keys(planted).filter((f) => !removedInCluster.includes(f))].sort());
  });

  it('without a scope (one node owns the directory) every leftover goes, as before', async () => {
    t = makeStorage(kind);
    const gitdir = await plant(t.storage);
    await recoverDataDir(t.storage);
    expect((await walkFiles(t.storage, gitdir)).map((f) => path.relative(gitdir, f))).toEqual(['HEAD']);
  });

  it('temporary names carry the storage’s node id', async () => {
    t = makeStorage(kind);
    const tag = t.storage.tempTag();
    expect(tempOwner(`tmp_pack_${tag}`)).toBe(t.storage.owner);
    expect(tempOwner(`x.tmp-${tag}`)).toBe(t.storage.owner);
    expect(tempOwner('tmp_pack_12345-abcdef')).toBeNull();
  });
});
