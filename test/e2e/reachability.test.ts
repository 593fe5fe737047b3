// Objects left behind by a deleted branch: a read token cannot fetch them by id (v0 and v2, any
// type) unless the operator opts in, lazy partial-clone fetches of reachable blobs still work,
// and maintenance prunes them once they are older than the grace period.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Seeded {
  repo: string;
  /** The admin's work tree (it still has the deleted branch's commit). */
  w: string;
  reader: string;
  /** Objects only the deleted branch and tag reached. */
  gone: { blob: string; tree: string; commit: string; tag: string };
  /** An old version of a file on main: reachable through history only. */
  oldBlob: string;
  oldCommit: string;
}

const revParse = async (cwd: string, what: string) => (await gitOk(['rev-parse', what], { cwd })).trim();

/** main with two commits; a branch and an annotated tag with their own objects, pushed then deleted. */
async function seed(s: TestServer): Promise<Seeded> {
  const repo = await s.createRepo();
  const w = path.join(tmpDir(), 'w');
  await gitOk(['init', '-q', '-b', 'main', w]);
  await gitOk(['remote', 'add', 'origin', s.gitUrl(repo, s.admin)], { cwd: w });
  const oldCommit = await commitFiles(w, { 'a.txt': 'first version\n' }, 'one');
  const oldBlob = await revParse(w, 'HEAD:a.txt');
  await commitFiles(w, { 'a.txt': 'second version\n' }, 'two');
  await gitOk(['checkout', '-q', '-b', 'secret'], { cwd: w });
  const commit = await commitFiles(w, { 'hidden/secret.txt': 'the leaked secret\n' }, 'secret');
  await gitOk(['tag', '-a', '-m', 'secret tag', 'v-secret'], { cwd: w });
  const gone = { blob: await revParse(w, 'HEAD:hidden/secret.txt'), tree: await revParse(w, 'HEAD:hidden'), commit, tag: await revParse(w, 'v-secret') };
  await gitOk(['push', '-q', 'origin', 'main', 'secret', 'v-secret'], { cwd: w });
  // the push's maintenance (a roll-up) ends first, so the deletion's run is the one that prunes
  await s.ctx.manager.get(repo).maintenance.idle();
  await gitOk(['push', '-q', 'origin', '--delete', 'secret', 'v-secret'], { cwd: w });
  const { token: reader } = await s.mint({ name: 'reader', repo_ids: [repo], permission: 'read' });
  return { repo, w, reader, gone, oldBlob, oldCommit };
}

/** A blobless partial clone by the read token, speaking protocol `version`. */
async function partialClone(s: TestServer, seeded: Seeded, version: number): Promise<string> {
  const dir = path.join(tmpDir(), 'c');
  await gitOk(['-c', `protocol.version=${version}`, 'clone', '-q', '--filter=blob:none', '--no-checkout', s.gitUrl(seeded.repo, seeded.reader), dir]);
  await gitOk(['config', 'protocol.version', String(version)], { cwd: dir });
  return dir;
}

async function present(s: TestServer, repo: string, oid: string): Promise<boolean> {
  const r = await git(['--git-dir', await s.bareRepo(repo), 'cat-file', '-e', oid]);
  return r.code === 0;
}

describe('objects no ref reaches', () => {
  let s: TestServer | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  for (const version of [2, 0]) {
    it(`refuses them by id to a read token (protocol v${version}), while lazy fetches of reachable blobs work`, async () => {
      s = await startTestServer('fs');
      const seeded = await seed(s);
      const dir = await partialClone(s, seeded, version);

      // the attack: the deleted branch's blob (a lazy fetch by id), its tree, its commit, the deleted tag
      const blob = await git(['cat-file', '-p', seeded.gone.blob], { cwd: dir });
      expect(blob.code).not.toBe(0);
      expect(blob.stdout).not.toContain('leaked secret');
      expect(blob.stderr).toContain(`not our ref ${seeded.gone.blob}`);
      for (const oid of [seeded.gone.tree, seeded.gone.commit, seeded.gone.tag]) {
        const r = await git(['fetch', '-q', 'origin', oid], { cwd: dir });
        expect(r.code, oid).not.toBe(0);
        expect(r.stderr).toContain(`not our ref ${oid}`);
      }

      // partial clones keep working: a blob from main's history, an old commit, a checkout
      expect(await gitOk(['cat-file', '-p', seeded.oldBlob], { cwd: dir })).toBe('first version\n');
      await gitOk(['fetch', '-q', 'origin', seeded.oldCommit], { cwd: dir });
      await gitOk(['checkout', '-q', 'main'], { cwd: dir });
      expect(await gitOk(['show', 'HEAD:a.txt'], { cwd: dir })).toBe('second version\n');

      // once a ref reaches it again, it is served (the refusal is not remembered past a ref move)
      await gitOk(['push', '-q', 'origin', `${seeded.gone.commit}:refs/heads/back`], { cwd: seeded.w });
      expect(await gitOk(['cat-file', '-p', seeded.gone.blob], { cwd: dir })).toBe('the leaked secret\n');
      await s.fsck(seeded.repo);
    });
  }

  it('serves them when the operator opts in (GITGATE_ALLOW_ANY_SHA1_IN_WANT)', async () => {
    s = await startTestServer('fs', { GITGATE_ALLOW_ANY_SHA1_IN_WANT: '1' });
    const seeded = await seed(s);
    for (const version of [2, 0]) {
      const dir = await partialClone(s, seeded, version);
      expect(await gitOk(['cat-file', '-p', seeded.gone.blob], { cwd: dir })).toBe('the leaked secret\n');
      await gitOk(['fetch', '-q', 'origin', seeded.gone.commit], { cwd: dir });
    }
    // unknown objects stay unknown
    const dir = await partialClone(s, seeded, 2);
    const r = await git(['fetch', '-q', 'origin', 'f'.repeat(40)], { cwd: dir });
    expect(r.stderr).toContain(`not our ref ${'f'.repeat(40)}`);
  });

  it.each(['fs', 'memory'] as const)('maintenance prunes them once older than the grace (0 here), keeping everything reachable (%s)', async (kind) => {
    s = await startTestServer(kind, { GITGATE_PRUNE_EXPIRE_SECONDS: '0' });
    const seeded = await seed(s);
    await s.ctx.manager.get(seeded.repo).maintenance.idle(); // the deletion's push scheduled a run
    for (const oid of Object.values(seeded.gone)) expect(await present(s, seeded.repo, oid), oid).toBe(false);
    for (const oid of [seeded.oldBlob, seeded.oldCommit]) expect(await present(s, seeded.repo, oid), oid).toBe(true);
    expect(s.ctx.manager.get(seeded.repo).maintenance.lastPrune?.packedRemoved ?? 0).toBeGreaterThanOrEqual(4);
    await s.fsck(seeded.repo);
    // and the repository still clones whole
    const clone = path.join(tmpDir(), 'full');
    await gitOk(['clone', '-q', s.gitUrl(seeded.repo, seeded.reader), clone]);
    await gitOk(['fsck', '--full'], { cwd: clone });
  });

  it('loses no pushed object to prunes running between concurrent pushes, branch deletions and re-pushes (grace 0)', async () => {
    s = await startTestServer('fs', { GITGATE_PRUNE_EXPIRE_SECONDS: '0' });
    const server = s;
    const repo = await server.createRepo();
    const url = server.gitUrl(repo, server.admin);
    const base = path.join(tmpDir(), 'base');
    await gitOk(['init', '-q', '-b', 'main', base]);
    await commitFiles(base, { 'a.txt': 'a\n' }, 'base');
    await gitOk(['push', '-q', url, 'main'], { cwd: base });

    // every push schedules maintenance, and with a grace of 0 every run prunes
    const tips = await Promise.all(
      [0, 1, 2, 3].map(async (c) => {
        const w = path.join(tmpDir(), `w${c}`);
        await gitOk(['clone', '-q', url, w]);
        await gitOk(['checkout', '-q', '-b', `agent/${c}`], { cwd: w });
        let tip = '';
        for (let round = 0; round < 6; round++) {
          tip = await commitFiles(w, { [`c${c}/f${round}.txt`]: `${c}.${round}\n`.repeat(20) }, `client ${c} round ${round}`);
          await gitOk(['push', '-q', 'origin', `HEAD:refs/heads/agent/${c}`], { cwd: w });
          // its objects become garbage until the next round pushes them again
          if (round % 3 === 1) await gitOk(['push', '-q', 'origin', '--delete', `agent/${c}`], { cwd: w });
        }
        return tip;
      }),
    );
    const maintenance = server.ctx.manager.get(repo).maintenance;
    await maintenance.idle();
    expect(maintenance.lastPrune).not.toBeNull();
    for (const [c, tip] of tips.entries()) {
      expect((await gitOk(['ls-remote', url, `refs/heads/agent/${c}`])).split('\t')[0]).toBe(tip);
    }
    await server.fsck(repo);
    const clone = path.join(tmpDir(), 'all');
    await gitOk(['clone', '-q', '--mirror', url, clone]);
    await gitOk(['--git-dir', clone, 'fsck', '--full']);
  });
});
