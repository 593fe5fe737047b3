// Pruning a repository C Git built: only objects that are unreachable AND older than the grace
// go (loose by mtime, packed by their pack's mtime); what young objects reach stays; packs lose
// their garbage and nothing else; C Git's fsck agrees afterwards.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectUseGuard } from '../../src/repo/object-use.js';
import { prune } from '../../src/repo/prune.js';
import { runningWorker } from '../../src/repo/repack-runner.js';
import { Repository } from '../../src/repo/repository.js';
import { nodeStorage } from '../../src/repo/storage.js';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';

const HOUR = 3600 * 1000;

/** Every file under objects/ made `ms` older. */
function age(gitdir: string, ms: number): void {
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const t = new Date(fs.statSync(p).mtimeMs - ms);
        fs.utimesSync(p, t, t);
      }
    }
  };
  walk(path.join(gitdir, 'objects'));
}

describe('prune', () => {
  let root: string;
  let bare: string;
  let repo: Repository;
  const o: Record<string, string> = {};
  const has = async (oid: string) => (await git(['--git-dir', bare, 'cat-file', '-e', oid])).code === 0;
  const rev = async (w: string, what: string) => (await gitOk(['rev-parse', what], { cwd: w })).trim();

  beforeEach(async () => {
    root = tmpDir('gitgate-prune-');
    bare = path.join(root, 'r.git');
    await gitOk(['init', '-q', '--bare', '-b', 'main', bare]);
    const w = path.join(root, 'w');
    await gitOk(['init', '-q', '-b', 'main', w]);
    o.main = await commitFiles(w, { 'a.txt': 'kept\n' }, 'main');
    await gitOk(['checkout', '-q', '-b', 'secret'], { cwd: w });
    o.secret = await commitFiles(w, { 'dir/s.txt': 'secret\n' }, 'secret');
    o.secretTree = await rev(w, 'HEAD:dir');
    o.secretBlob = await rev(w, 'HEAD:dir/s.txt');
    await gitOk(['tag', '-a', '-m', 'tag', 'v1'], { cwd: w });
    o.tag = await rev(w, 'v1');
    await gitOk(['push', '-q', bare, 'main', 'secret', 'v1'], { cwd: w });
    await gitOk(['--git-dir', bare, 'repack', '-q', '-a', '-d']); // packed garbage-to-be
    await gitOk(['checkout', '-q', '-b', 'scratch', 'main'], { cwd: w });
    o.scratch = await commitFiles(w, { 'b.txt': 'scratch\n' }, 'scratch');
    o.scratchBlob = await rev(w, 'HEAD:b.txt');
    await gitOk(['push', '-q', bare, 'scratch'], { cwd: w }); // loose garbage-to-be (under unpackLimit)
    for (const ref of ['refs/heads/secret', 'refs/heads/scratch', 'refs/tags/v1']) await gitOk(['--git-dir', bare, 'update-ref', '-d', ref]);
    repo = new Repository(nodeStorage(root), 'r', bare, { maintenance: { enabled: false } });
  });
  afterEach(async () => {
    await repo.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('keeps unreachable objects younger than the grace', async () => {
    const r = await prune(repo, { expireMs: HOUR });
    expect(r).toMatchObject({ looseRemoved: 0, packedRemoved: 0, packsReplaced: [] });
    for (const oid of Object.values(o)) expect(await has(oid), oid).toBe(true);
  });

  it.each([
    ['in the worker process', false],
    ['inline', true],
  ])('removes old unreachable objects, loose and packed, keeps what refs and young objects reach (%s)', async (_where, inline) => {
    age(bare, 2 * HOUR);
    // a young unreachable commit (a push in flight, say) on the old secret tree: both must stay
    const young = (await gitOk(['--git-dir', bare, 'commit-tree', '-m', 'young', (await gitOk(['--git-dir', bare, 'mktree'], { input: `040000 tree ${o.secretTree}\tdir\n` })).trim()])).trim();
    const r = await prune(repo, { expireMs: HOUR, inline });

    expect(r.packedRemoved).toBe(3); // the secret commit, its root tree and the tag object
    for (const oid of [o.secret, o.tag, o.scratch, o.scratchBlob]) expect(await has(oid), oid).toBe(false);
    for (const oid of [o.main, young, o.secretTree, o.secretBlob]) expect(await has(oid), oid).toBe(true);
    expect(r.looseRemoved).toBe(3); // scratch's commit, root tree and blob
    expect(r.packsReplaced).toHaveLength(1);
    expect(r.pack).toMatch(/^pack-[0-9a-f]{40}$/);
    // gitgate's own view agrees, and C Git's
    expect(await repo.objects.has(o.secret)).toBe(false);
    expect(await repo.objects.has(o.secretBlob)).toBe(true);
    await gitOk(['--git-dir', bare, 'fsck', '--full', '--strict', '--no-dangling']);
  });

  it('background maintenance prunes once per interval, across restarts of the server', async () => {
    age(bare, 2 * HOUR);
    const started = () => new Repository(nodeStorage(root), 'r', bare, { maintenance: { pruneExpireMs: HOUR, delayMs: 0 } });
    const record = path.join(bare, 'gitgate-pruned-at');
    // no record yet (a new repository): the interval starts now
    const fresh = started();
    fresh.maintenance.schedule();
    await fresh.maintenance.idle();
    expect(fresh.maintenance.lastPrune).toBeNull();
    await fresh.close();
    expect(Number(fs.readFileSync(record, 'utf8'))).toBeGreaterThan(Date.now() - HOUR);
    fs.writeFileSync(record, `${Date.now() - 2 * HOUR}\n`); // pruned two hours ago
    const first = started();
    first.maintenance.schedule();
    await first.maintenance.idle();
    expect(first.maintenance.lastPrune).toMatchObject({ looseRemoved: 3, packedRemoved: 5 }); // no young object keeps the secret tree and blob here
    expect(await has(o.secret)).toBe(false);
    await first.close();
    // a restarted server (a new Repository) knows the repository was pruned just now
    const second = started();
    second.maintenance.schedule();
    await second.maintenance.idle();
    expect(second.maintenance.runs).toBe(1);
    expect(second.maintenance.lastPrune).toBeNull();
    await second.close();
    await gitOk(['--git-dir', bare, 'fsck', '--full', '--strict', '--no-dangling']);
  });

  it('in the worker process, deletes only once no push holds the object guard', async () => {
    age(bare, 2 * HOUR);
    let release!: () => void;
    const holding = repo.objectUse.shared(() => new Promise<void>((r) => (release = r)));
    let settled = false;
    const job = prune(repo, { expireMs: HOUR }).finally(() => (settled = true));
    // the worker has written its pack and waits; this process waits for the push to leave
    while (!settled && !repo.objectUse.exclusiveWaiting) await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(false);
    const w = runningWorker();
    expect(w).toMatchObject({ kind: 'prune', ready: true });
    expect(w!.pid).not.toBe(process.pid);
    // its pack is written and listed; nothing deleted while the push holds the guard
    for (const oid of [o.secret, o.tag, o.scratch, o.scratchBlob]) expect(await has(oid), oid).toBe(true);
    expect(await repo.objects.has(o.secret)).toBe(true);
    release();
    await holding;
    const r = await job;
    expect(r).toMatchObject({ looseRemoved: 3, packedRemoved: 5 }); // no young commit here: the secret tree and blob go too
    for (const oid of [o.secret, o.tag, o.scratch, o.scratchBlob]) expect(await has(oid), oid).toBe(false);
    expect(await repo.objects.has(o.secret)).toBe(false);
    expect(runningWorker()).toBeNull();
    await gitOk(['--git-dir', bare, 'fsck', '--full', '--strict', '--no-dangling']);
  });

  it('walks from a young pack of 150,000 objects (a repository just moved in) without overflowing the stack', async () => {
    age(bare, 2 * HOUR);
    const n = 150_000;
    let input = '';
    for (let i = 0; i < n; i++) input += `blob\ndata ${String(i).length}\n${i}\n`;
    await gitOk(['--git-dir', bare, 'fast-import', '--quiet'], { input });
    const r = await prune(repo, { expireMs: HOUR });
    expect(r.looseRemoved).toBe(3); // the old garbage still goes
    expect(await has((await gitOk(['--git-dir', bare, 'hash-object', '--stdin'], { input: `${n - 1}` })).trim())).toBe(true);
    await gitOk(['--git-dir', bare, 'fsck', '--full', '--no-dangling']);
  }, 120_000);

  it('lets a push relying on stored objects finish before deleting (ObjectUseGuard)', async () => {
    const guard = new ObjectUseGuard();
    let release!: () => void;
    const holding = guard.shared(() => new Promise<void>((r) => (release = r)));
    let ran = false;
    const exclusive = guard.exclusive(async () => {
      ran = true;
    });
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(ran).toBe(false);
    release();
    await holding;
    await exclusive;
    expect(ran).toBe(true);
  });
});
