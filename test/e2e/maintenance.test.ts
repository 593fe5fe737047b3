// Background maintenance through real git: one maintenance request per push; repacks, bitmap
// writing and prunes run in a niced worker process while clones are served, and a worker that
// dies or is stopped leaves a valid repository behind.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repack } from '../../src/repo/repack.js';
import { repositoryBitmap } from '../../src/repo/bitmap-index.js';
import { writeRepositoryBitmap } from '../../src/repo/bitmap-write.js';
import { repackWorkerPid, runningWorker, workerStarts } from '../../src/repo/repack-runner.js';
import { gitOk, tmpDir } from '../helpers/git.js';
import { fastImportCommits, leftovers, randomFile, scratchRepo } from '../helpers/push.js';
import { type TestServer, useTestServer } from '../helpers/server.js';

/**
 * A repository filled by `pushes` pushes of 20 commits each; with `packs`, background
 * maintenance is off for it, so it keeps one pack per push.
 */
async function pushedRepo(s: TestServer, pushes: number, opts: { packs?: boolean } = {}): Promise<{ id: string; url: string; work: string }> {
  const id = await s.createRepo();
  if (opts.packs) await s.ctx.manager.get(id).maintenance.close();
  const url = s.gitUrl(id, s.admin);
  const work = await scratchRepo();
  for (let i = 0; i < pushes; i++) {
    await fastImportCommits(work, 'refs/heads/main', 20, { parent: i ? 'refs/heads/main^0' : undefined, files: 6 });
    await gitOk(['push', '-q', url, 'main'], { cwd: work });
  }
  return { id, url, work };
}

async function packCount(s: TestServer, id: string): Promise<number> {
  const dir = path.join(s.ctx.manager.gitdirOf(id), 'objects', 'pack');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.pack')).length;
}

async function cloneOk(url: string): Promise<void> {
  await gitOk(['clone', '-q', '--bare', url, path.join(tmpDir(), 'c.git')]);
}

/** The nice value of a running process (field 19 of /proc/PID/stat). */
function niceOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('maintenance (fs storage)', () => {
  let s: TestServer;
  useTestServer('fs', (started) => (s = started));

  it('asks for one maintenance run per push, however many refs it moves', async () => {
    const { id, url, work } = await pushedRepo(s, 1);
    const m = s.ctx.manager.get(id).maintenance;
    await m.idle();
    const before = { requests: m.requests, runs: m.runs };
    await fastImportCommits(work, 'refs/heads/main', 5, { parent: 'refs/heads/main^0' });
    await gitOk(['branch', '-f', 'two', 'main'], { cwd: work });
    await gitOk(['branch', '-f', 'three', 'main~2'], { cwd: work });
    await gitOk(['push', '-q', url, 'main', 'two', 'three'], { cwd: work });
    await m.idle();
    expect(m.requests - before.requests).toBe(1);
    expect(m.runs - before.runs).toBe(1);
    await s.fsck(id);
  });

  it('repacks in a worker process at the lowest priority while real clones succeed', async () => {
    const { id, url } = await pushedRepo(s, 6, { packs: true });
    const repo = s.ctx.manager.get(id);
    await repo.maintenance.idle();
    const packsBefore = await packCount(s, id);
    let seenPid: number | null = null;
    let seenNice: number | null = null;
    const watcher = setInterval(() => {
      const pid = repackWorkerPid();
      if (pid !== null && seenPid === null && alive(pid)) {
        seenPid = pid;
        seenNice = niceOf(pid);
      }
    }, 5);
    const job = repack(repo, { all: true });
    const clones: Promise<void>[] = [];
    for (let i = 0; i < 4; i++) clones.push(cloneOk(url));
    const result = await job;
    await Promise.all(clones);
    clearInterval(watcher);
    expect(packsBefore).toBeGreaterThan(1);
    expect(result.pack).not.toBeNull();
    expect(result.rolledUp.length).toBe(packsBefore);
    expect(seenPid).not.toBeNull();
    expect(seenPid).not.toBe(process.pid);
    expect(seenNice).toBe(19);
    expect(alive(seenPid!)).toBe(false);
    expect(await packCount(s, id)).toBe(1);
    await cloneOk(url);
    expect(await leftovers(s, id)).toEqual([]);
    await s.fsck(id);
  });

  it("writes the new pack's bitmap in the same worker run as the roll-up while /healthz and clones are answered, and serves from it", async () => {
    const { id, url } = await pushedRepo(s, 8, { packs: true });
    const other = await pushedRepo(s, 1);
    await s.ctx.manager.get(other.id).maintenance.idle(); // its background prune and repack are not the ones watched
    const repo = s.ctx.manager.get(id);
    const gitdir = s.ctx.manager.gitdirOf(id);
    const packDir = path.join(gitdir, 'objects', 'pack');
    const seen = new Map<string, { pid: number; nice: number }>();
    const answered: Promise<unknown>[] = [];
    let bitmapPid: number | null = null;
    const watcher = setInterval(() => {
      const w = runningWorker();
      if (!w || !alive(w.pid)) return;
      if (!seen.has(w.kind)) seen.set(w.kind, { pid: w.pid, nice: niceOf(w.pid) });
      // the new pack is in place: the worker is on to its bitmap, while this process answers
      if (bitmapPid === null && fs.readdirSync(packDir).filter((f) => f.endsWith('.pack')).length > 8) {
        bitmapPid = w.pid;
        answered.push(fetch(`${s.url}/healthz`).then(async (r) => [r.status, await r.text()]));
        answered.push(cloneOk(other.url));
      }
    }, 2);
    const starts = { ...workerStarts };
    const result = await repack(repo, { all: true });
    clearInterval(watcher);
    expect([...seen.keys()]).toEqual(['repack']);
    expect(workerStarts.repack - starts.repack).toBe(1);
    expect(workerStarts.bitmap - starts.bitmap).toBe(0); // no second worker for the bitmap
    const { pid, nice } = seen.get('repack')!;
    expect(pid).not.toBe(process.pid);
    expect(nice).toBe(19);
    expect(bitmapPid).toBe(pid);
    const [health] = await Promise.all(answered);
    expect(health).toEqual([200, expect.stringContaining('"ok"')]);
    expect(fs.existsSync(path.join(packDir, `${result.pack}.bitmap`))).toBe(true);
    // read back at once by this process (its earlier "no bitmap" forgotten), and by C Git
    const bitmap = await repositoryBitmap(repo);
    expect(bitmap?.pack.index.count).toBe(result.objects);
    await gitOk(['--git-dir', gitdir, 'rev-list', '--test-bitmap', 'main']);
    await cloneOk(url);
    await s.fsck(id);
  });

  it('a push whose roll-up needs the worker and makes a new largest pack starts one worker, which also writes its bitmap', async () => {
    const { id, url, work } = await pushedRepo(s, 1);
    const repo = s.ctx.manager.get(id);
    await repo.maintenance.idle();
    const gitdir = s.ctx.manager.gitdirOf(id);
    const first = (await repo.objects.packInfos()).map((p) => p.name);
    expect(first).toHaveLength(1);
    // about as many objects as the first push (a roll-up of both), and more pack bytes than the
    // server process rolls up itself
    randomFile(path.join(work, 'blob.bin'), 9 << 20);
    await gitOk(['add', 'blob.bin'], { cwd: work });
    await gitOk(['commit', '-q', '-m', 'a big blob'], { cwd: work });
    await fastImportCommits(work, 'refs/heads/main', 20, { parent: 'refs/heads/main^0', files: 6 });
    const starts = { ...workerStarts };
    await gitOk(['push', '-q', url, 'main'], { cwd: work });
    await repo.maintenance.idle();
    const result = repo.maintenance.lastResult!;
    expect(result.rolledUp).toContain(first[0]);
    expect(result.rolledUp).toHaveLength(2);
    expect(workerStarts.repack - starts.repack).toBe(1);
    expect(workerStarts.bitmap - starts.bitmap).toBe(0);
    expect(fs.existsSync(path.join(gitdir, 'objects', 'pack', `${result.pack}.bitmap`))).toBe(true);
    expect((await repositoryBitmap(repo))?.pack.index.count).toBe(result.objects);
    await gitOk(['--git-dir', gitdir, 'rev-list', '--test-bitmap', 'main']);
    // the types it took from writing the pack: the same file as one built by reading the pack
    const file = path.join(gitdir, 'objects', 'pack', `${result.pack}.bitmap`);
    const written = fs.readFileSync(file);
    fs.rmSync(file);
    await repo.objects.rescan();
    expect((await writeRepositoryBitmap(repo))?.pack).toBe(result.pack);
    expect(fs.readFileSync(file).equals(written)).toBe(true);
    await cloneOk(url);
    await s.fsck(id);
  });

  it.each(['while-writing', 'after-install'] as const)('a worker that dies %s leaves a valid repository, and the next run succeeds', async (fault) => {
    const { id, url } = await pushedRepo(s, 4, { packs: true });
    const repo = s.ctx.manager.get(id);
    await repo.maintenance.idle();
    const packsBefore = await packCount(s, id);
    expect(packsBefore).toBeGreaterThan(1);
    await expect(repack(repo, { all: true, fault })).rejects.toThrow(/repack worker exited with code 7[01]/);
    expect(await leftovers(s, id)).toEqual([]); // no temporary files
    // after the rename the new pack is complete and on disk, the old ones still there
    expect(await packCount(s, id)).toBe(fault === 'after-install' ? packsBefore + 1 : packsBefore);
    await cloneOk(url);
    await s.fsck(id);
    const again = await repack(repo, { all: true });
    expect(again.pack).not.toBeNull();
    expect(await packCount(s, id)).toBe(1);
    await cloneOk(url);
    await s.fsck(id);
  });

  it('never reads packs it replaced whose files wait for deletion', async () => {
    const { id, url, work } = await pushedRepo(s, 3, { packs: true });
    const repo = s.ctx.manager.get(id);
    let waiting: string[] = [];
    const first = await repack(repo, { all: true, defer: (_files, packs) => (waiting = packs) });
    expect(waiting.length).toBe(3);
    expect(await packCount(s, id)).toBe(4); // still on disk, for C Git readers
    await fastImportCommits(work, 'refs/heads/main', 5, { parent: 'refs/heads/main^0' });
    await gitOk(['push', '-q', url, 'main'], { cwd: work });
    await repo.objects.rescan();
    const listed = (await repo.objects.packInfos()).map((p) => p.name);
    expect(listed).toHaveLength(2); // the first repack's pack and the push's
    expect(listed).toContain(first.pack);
    const second = await repack(repo, { all: true, defer: () => undefined });
    expect(second.rolledUp.sort()).toEqual(listed.sort());
    expect(second.rolledUp.filter((n) => waiting.includes(n))).toEqual([]);
    await cloneOk(url);
  });

  it('stops a running worker when asked to (as at shutdown), leaving nothing behind', async () => {
    const { id, url } = await pushedRepo(s, 4, { packs: true });
    const repo = s.ctx.manager.get(id);
    await repo.maintenance.idle();
    const packsBefore = await packCount(s, id);
    const signal = { aborted: false };
    const job = repack(repo, { all: true, signal });
    for (let i = 0; i < 400 && repackWorkerPid() === null; i++) await new Promise((r) => setTimeout(r, 5));
    const pid = repackWorkerPid();
    expect(pid).not.toBeNull();
    signal.aborted = true;
    expect(await job).toMatchObject({ pack: null, rolledUp: [] });
    expect(alive(pid!)).toBe(false);
    expect(await packCount(s, id)).toBe(packsBefore);
    expect(await leftovers(s, id)).toEqual([]);
    await cloneOk(url);
    await s.fsck(id);
  });
});
