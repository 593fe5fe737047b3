// Packs across nodes: one node's object store finds packs another wrote (re-reading the list
// on a miss), keeps reading packs another node retired through its open handles, lets go of
// them at its next look once its list is older than maxScanAgeMs, and retired files are
// deleted only past the grace. Two Repository objects on one directory stand for two nodes.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ObjectStore } from '../../src/repo/object-store.js';
import { repack, retireGarbage, sweepRetired } from '../../src/repo/repack.js';
import { Repository } from '../../src/repo/repository.js';
import { nodeStorage } from '../../src/repo/storage.js';
import { git, tempDir } from './helpers.js';

let tmp: { dir: string; cleanup(): void };
let gitdir: string;
let src: string;

/** A commit in the source repository, fetched into the bare one as a pack of its own. */
function commitAndFetch(name: string): string {
  fs.writeFileSync(path.join(src, name), `${name}\n`.repeat(50));
  git(['add', name], { cwd: src });
  git(['commit', '-q', '-m', name], { cwd: src });
  git(['--git-dir', gitdir, '-c', 'fetch.unpackLimit=1', 'fetch', '-q', src, 'main:main']);
  return git(['rev-parse', 'HEAD'], { cwd: src });
}

const packFiles = () => fs.readdirSync(path.join(gitdir, 'objects', 'pack'));

beforeEach(() => {
  tmp = tempDir();
  gitdir = path.join(tmp.dir, 'r.git');
  src = path.join(tmp.dir, 'src');
  git(['init', '-q', '--bare', '-b', 'main', gitdir]);
  git(['init', '-q', '-b', 'main', src]);
});

afterEach(() => tmp.cleanup());

describe('packs across nodes', () => {
  it('a store finds a pack another process wrote after its last scan (re-read on a miss)', async () => {
    const storage = nodeStorage(tmp.dir);
    const store = new ObjectStore(storage, gitdir);
    const first = commitAndFetch('one');
    expect((await store.read(first))?.type).toBe('commit');
    const second = commitAndFetch('two'); // a new pack this store has not listed
    expect(await store.has(second)).toBe(true);
    expect((await store.read(second))?.type).toBe('commit');
    await store.close();
  });

  it('retired packs: renamed aside, still read through open handles, let go of at the next stale look, deleted past the grace', async () => {
    const storage = nodeStorage(tmp.dir);
    const commits = ['one', 'two', 'three'].map(commitAndFetch);
    const other = new ObjectStore(storage, gitdir, { maxScanAgeMs: 0 }); // node B
    const quiet = new ObjectStore(storage, gitdir); // node C: no re-reading but on a miss
    for (const c of commits) expect((await other.read(c))?.type).toBe('commit');
    for (const c of commits) expect((await quiet.read(c))?.type).toBe('commit');
    expect(other.usage.packs).toBe(3);

    const repo = new Repository(storage, 'r', gitdir); // node A repacks
    const retiredAt = Date.now();
    let handed: { files: string[]; packs: string[] } | null = null;
    const result = await repack(repo, { all: true, inline: true, defer: (files, packs) => (handed = { files, packs }) });
    expect(result.rolledUp).toHaveLength(3);
    await retireGarbage(repo, handed!.files, handed!.packs, retiredAt);
    const names = packFiles();
    for (const p of result.rolledUp) {
      expect(names).not.toContain(`${p}.idx`);
      expect(names).toContain(`${p}.idx.retired-${retiredAt}`);
      expect(names).toContain(`${p}.pack.retired-${retiredAt}`);
    }

    // C still reads them, through the handles it holds
    for (const c of commits) expect((await quiet.read(c))?.type).toBe('commit');
    expect(quiet.usage).toMatchObject({ packs: 3, retired: 0 }); // its list untouched: every read came from the old packs

    // B's list is stale: its next look re-reads it, retires the old packs and reads from the new one
    const pin = other.pin(); // a clone in flight on B keeps the old handles open
    for (const c of commits) expect((await other.read(c))?.type).toBe('commit');
    expect(other.usage).toMatchObject({ packs: 1, retired: 3 });
    pin();
    await new Promise((r) => setImmediate(r));
    expect(other.usage.retired).toBe(0);

    expect(await sweepRetired(repo, 60_000, retiredAt + 59_999)).toBe(0); // within the grace: kept
    expect(packFiles().filter((f) => f.includes('.retired-')).length).toBeGreaterThanOrEqual(6);
    expect(await sweepRetired(repo, 60_000, retiredAt + 60_000)).toBeGreaterThanOrEqual(6);
    expect(packFiles().filter((f) => f.includes('.retired-'))).toEqual([]);
    git(['--git-dir', gitdir, 'fsck', '--full', '--strict', '--no-dangling']);
    await Promise.all([other.close(), quiet.close(), repo.close()]);
  });
});

describe('GITGATE_PACK_RETIRE_GRACE_MS', () => {
  it('is 1 h with PostgreSQL, none on a single node (deleted as before), and the variable wins', () => {
    const pgUrl = { GITGATE_DATABASE_URL: 'postgres://db/gitgate' };
    expect(loadConfig({}, {}).packRetireGraceMs).toBeNull();
    expect(loadConfig({}, pgUrl).packRetireGraceMs).toBe(3_600_000);
    expect(loadConfig({ databaseUrl: 'postgres://db/gitgate' }, {}).packRetireGraceMs).toBe(3_600_000);
    expect(loadConfig({}, { ...pgUrl, GITGATE_PACK_RETIRE_GRACE_MS: '7200000' }).packRetireGraceMs).toBe(7_200_000);
    expect(loadConfig({}, { GITGATE_PACK_RETIRE_GRACE_MS: '0' }).packRetireGraceMs).toBe(0);
    for (const bad of ['-1', 'soon', '1.5']) expect(() => loadConfig({}, { ...pgUrl, GITGATE_PACK_RETIRE_GRACE_MS: bad }), bad).toThrow(/GITGATE_PACK_RETIRE_GRACE_MS/);
  });
});
