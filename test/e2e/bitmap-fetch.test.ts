// Clones and fetches by real git against a server whose repository has a reachability bitmap:
// one gitgate wrote after pushes (C Git reads it too), one C Git wrote, and a corrupt one,
// which is ignored while clones stay correct. fsck --full everywhere.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { setBitmapWarningHandler } from '../../src/repo/bitmap-index.js';
import { bitmapAfterWalk } from '../../src/repo/clone-plan-cache.js';
import { repack } from '../../src/repo/repack.js';
import { gitOk, tmpDir } from '../helpers/git.js';
import { STORAGE_KINDS, startTestServer, type TestServer } from '../helpers/server.js';
import { randomHistory } from '../repo/bitmap-history.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
  setBitmapWarningHandler(() => undefined);
});

/** A local bare repository with a random history, pushed (every branch and tag) to a new server repository. */
async function seed(server: TestServer, seedNo: number, commits: number): Promise<{ id: string; local: string; tips: string[] }> {
  const id = await server.createRepo();
  const local = path.join(tmpDir(), 'local.git');
  await gitOk(['init', '-q', '--bare', '-b', 'main', local]);
  const h = randomHistory(local, seedNo, commits);
  await gitOk(['--git-dir', local, 'push', '-q', server.gitUrl(id, server.admin), '--all']);
  await gitOk(['--git-dir', local, 'push', '-q', server.gitUrl(id, server.admin), '--tags']);
  return { id, local, tips: h.commits.slice(-10) };
}

async function packFiles(server: TestServer, id: string, ext: string): Promise<string[]> {
  const dir = path.join(server.ctx.manager.gitdirOf(id), 'objects', 'pack');
  return (await server.ctx.storage.readdir(dir)).filter((f) => f.endsWith(ext)).map((f) => path.join(dir, f));
}

/** The mirror clone (bare) has the source's refs and every object they reach, and passes fsck. */
async function sameAs(clone: string, local: string): Promise<void> {
  const refs = async (gitdir: string) => gitOk(['--git-dir', gitdir, 'for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads', 'refs/tags']);
  expect(await refs(clone)).toBe(await refs(local));
  const count = async (gitdir: string) => (await gitOk(['--git-dir', gitdir, 'rev-list', '--objects', '--all', '--count'])).trim();
  expect(await count(clone)).toBe(await count(local));
  await gitOk(['--git-dir', clone, 'fsck', '--full', '--no-dangling']);
}

describe.each(STORAGE_KINDS)('fetches with a bitmap gitgate wrote (%s storage)', (kind) => {
  it('clone (v0 and v2) and fetch with haves after more pushes', async () => {
    s = await startTestServer(kind);
    const { id, local, tips } = await seed(s, 21, 150);
    await repack(s.ctx.manager.get(id), { all: true });
    expect(await packFiles(s, id, '.bitmap')).toHaveLength(1);
    // C Git reads what gitgate wrote
    const bare = await s.bareRepo(id);
    await gitOk(['--git-dir', bare, 'rev-list', '--test-bitmap', 'main']);

    const clones: string[] = [];
    for (const version of [0, 2]) {
      const dir = path.join(tmpDir(), `c${version}.git`);
      await gitOk(['-c', `protocol.version=${version}`, 'clone', '-q', '--mirror', s.gitUrl(id, s.admin), dir]);
      await sameAs(dir, local);
      clones.push(dir);
    }
    // more pushes: objects the bitmap does not cover; the clones fetch them with haves
    randomHistory(local, 22, 30, { from: tips, tagPrefix: 'late' });
    await gitOk(['--git-dir', local, 'push', '-q', '--force', s.gitUrl(id, s.admin), '--all']);
    await gitOk(['--git-dir', local, 'push', '-q', s.gitUrl(id, s.admin), '--tags']);
    for (const [k, dir] of clones.entries()) {
      await gitOk(['--git-dir', dir, '-c', `protocol.version=${k === 0 ? 0 : 2}`, 'fetch', '-q', 'origin']);
      await sameAs(dir, local);
    }
    // a fresh clone now: the bitmapped pack whole, then the newer objects
    const fresh = path.join(tmpDir(), 'fresh.git');
    await gitOk(['clone', '-q', '--mirror', s.gitUrl(id, s.admin), fresh]);
    await sameAs(fresh, local);
    await s.fsck(id);
  });
});

describe("fetches with a bitmap C Git wrote, and a corrupt one", () => {
  it('clone is right with either; the corrupt one is ignored with a warning', async () => {
    s = await startTestServer('fs');
    const { id, local } = await seed(s, 31, 120);
    const gitdir = s.ctx.manager.gitdirOf(id);
    await s.ctx.manager.get(id).maintenance.idle();
    for (const f of await packFiles(s, id, '.bitmap')) fs.rmSync(f);
    await gitOk(['--git-dir', gitdir, 'repack', '-adb', '-q']);
    const repo = s.ctx.manager.get(id);
    await repo.objects.rescan();
    const warnings: string[] = [];
    setBitmapWarningHandler((m, d) => warnings.push(`${m} (${d.reason})`));

    const clone = async () => {
      const dir = path.join(tmpDir(), 'c.git');
      await gitOk(['clone', '-q', '--mirror', s!.gitUrl(id, s!.admin), dir]);
      await sameAs(dir, local);
    };
    await clone();
    expect(warnings).toEqual([]);

    // flip a byte inside the last commit bitmap, and restart so the file is read again
    const [bitmap] = await packFiles(s, id, '.bitmap');
    const buf = fs.readFileSync(bitmap!);
    buf[buf.length - 30]! ^= 0x10;
    fs.writeFileSync(bitmap!, buf);
    const dataDir = s.dataDir;
    await s.http.close();
    await s.ctx.close();
    s = await startTestServer('fs', {}, { dataDir });
    await clone();
    expect(warnings.join('\n')).toMatch(/corrupt.*checksum/);
    await s.fsck(id);
  });
});

describe('a repository with a pack and no bitmap (copied in, imported)', () => {
  afterEach(() => {
    bitmapAfterWalk.minObjects = 10_000;
  });

  it('gets one from background maintenance after a clone had to walk it, and later clones are right', async () => {
    s = await startTestServer('fs');
    const { id, local } = await seed(s, 41, 120);
    const repo = s.ctx.manager.get(id);
    await repo.maintenance.idle();
    // as if copied in: one pack C Git wrote, no bitmap
    for (const f of await packFiles(s, id, '.bitmap')) fs.rmSync(f);
    const gitdir = s.ctx.manager.gitdirOf(id);
    await gitOk(['--git-dir', gitdir, '-c', 'repack.writeBitmaps=false', 'repack', '-ad', '-q']);
    await repo.objects.rescan();
    expect(await packFiles(s, id, '.bitmap')).toEqual([]);
    const objects = Number((await gitOk(['--git-dir', local, 'rev-list', '--objects', '--all', '--count'])).trim());
    bitmapAfterWalk.minObjects = objects; // this clone walks them all

    const first = path.join(tmpDir(), 'first.git');
    await gitOk(['clone', '-q', '--mirror', s.gitUrl(id, s.admin), first]);
    await sameAs(first, local);
    await repo.maintenance.idle();
    expect(repo.maintenance.bitmapRuns).toBe(1);
    expect(await packFiles(s, id, '.bitmap')).toHaveLength(1);
    await gitOk(['--git-dir', gitdir, 'rev-list', '--test-bitmap', 'main']);

    // the next clone is planned from the bitmap, and asks for nothing more
    const second = path.join(tmpDir(), 'second.git');
    await gitOk(['-c', 'protocol.version=0', 'clone', '-q', '--mirror', s.gitUrl(id, s.admin), second]);
    await sameAs(second, local);
    await repo.maintenance.idle();
    expect(repo.maintenance.bitmapRuns).toBe(1);
    await s.fsck(id);
  });
});
