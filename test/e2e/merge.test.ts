// Issue 16 point 2 (merge): POST /v1/repo/:id/merge with C Git as the oracle. Histories are
// made and pushed by real git; every merged tree is compared with what `git merge` makes of
// the same commits in a clone; refusals and conflicts change no ref and write no object.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { STORAGE_KINDS, type TestServer, useTestServer } from '../helpers/server.js';

const auth = (t: string) => ({ Authorization: `Bearer ${t}` });

const BASE_FILE = Array.from({ length: 12 }, (_, i) => `line ${i + 1}\n`).join('');
const edit = (n: number, text: string) => BASE_FILE.replace(`line ${n}\n`, `${text}\n`);

describe.each(STORAGE_KINDS)('merge (%s storage)', (kind) => {
  let s: TestServer;
  useTestServer(kind, (started) => (s = started));

  /** refname -> commit, as C Git sees the bare repository. */
  const refs = async (id: string): Promise<Record<string, string>> => {
    const out = await gitOk(['--git-dir', await s.bareRepo(id), 'for-each-ref', '--format=%(refname) %(objectname)']);
    return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
  };
  const objectCount = async (id: string) => (await gitOk(['--git-dir', await s.bareRepo(id), 'count-objects', '-v'])).replace(/size.*\n/g, '');
  const merge = (id: string, body: object, token = s.admin) => s.api.post(`/v1/repo/${id}/merge`).set(auth(token)).send(body);

  /**
   * main and feature diverge from a common commit: main edits line 2 of text.txt, makes run.sh
   * executable and deletes old.txt; feature edits line 11, rewrites run.sh, adds lib/new.ts and
   * edits lib/keep.ts. Also ff (one commit ahead of main) and clash (edits main's line 2 too).
   */
  async function diverged() {
    const id = await s.createRepo();
    const work = path.join(tmpDir(), 'w');
    await gitOk(['init', '-q', '-b', 'main', work]);
    await commitFiles(work, { 'text.txt': BASE_FILE, 'run.sh': 'echo 1\n', 'old.txt': 'old\n', 'lib/keep.ts': 'keep\n' }, 'base');
    const base = (await gitOk(['rev-parse', 'HEAD'], { cwd: work })).trim();
    await gitOk(['checkout', '-q', '-b', 'ff'], { cwd: work });
    await commitFiles(work, { 'ff.txt': 'ff\n' }, 'ahead');
    await gitOk(['checkout', '-q', '-b', 'feature', base], { cwd: work });
    await commitFiles(work, { 'text.txt': edit(11, 'feature line 11'), 'run.sh': 'echo 2\n', 'lib/new.ts': 'new\n' }, 'feature 1');
    await commitFiles(work, { 'lib/keep.ts': 'keep, edited\n' }, 'feature 2');
    await gitOk(['checkout', '-q', '-b', 'clash', base], { cwd: work });
    await commitFiles(work, { 'text.txt': edit(2, 'clash line 2'), 'other.txt': 'o\n' }, 'clash');
    await gitOk(['checkout', '-q', '-b', 'gone', base], { cwd: work });
    await gitOk(['rm', '-q', 'text.txt'], { cwd: work });
    await commitFiles(work, { 'g.txt': 'g\n' }, 'gone: delete text.txt');
    await gitOk(['checkout', '-q', 'main'], { cwd: work });
    fs.chmodSync(path.join(work, 'run.sh'), 0o755);
    fs.rmSync(path.join(work, 'old.txt'));
    await commitFiles(work, { 'text.txt': edit(2, 'main line 2') }, 'main 1');
    await gitOk(['push', '-q', s.gitUrl(id, s.admin), 'main', 'feature', 'ff', 'clash', 'gone'], { cwd: work });
    const r = await refs(id);
    const [main, feature, ff, clash, gone] = ['main', 'feature', 'ff', 'clash', 'gone'].map((b) => r[`refs/heads/${b}`]!);
    return { id, work, base, main: main!, feature: feature!, ff: ff!, clash: clash!, gone: gone! };
  }

  /** The tree C Git makes merging `theirs` into `ours` (git merge, or git merge --squash). */
  async function gitMergeTree(work: string, ours: string, theirs: string, squash = false): Promise<string> {
    await gitOk(['checkout', '-q', '--detach', ours], { cwd: work });
    await gitOk(['merge', '-q', ...(squash ? ['--squash'] : ['--no-ff', '--no-edit']), theirs], { cwd: work });
    return (await gitOk(['write-tree'], { cwd: work })).trim();
  }
  const treeOf = async (id: string, commit: string) => (await gitOk(['--git-dir', await s.bareRepo(id), 'rev-parse', `${commit}^{tree}`])).trim();
  const parentsOf = async (id: string, commit: string) => (await gitOk(['--git-dir', await s.bareRepo(id), 'log', '-1', '--format=%P', commit])).trim().split(' ');

  it('three-way merge: a merge commit with two parents whose tree is what git merge makes', async () => {
    const r = await diverged();
    const res = await merge(r.id, { base: 'main', head: 'feature', method: 'merge' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ repo_id: r.id, branch: 'main', method: 'merge', parents: [r.main, r.feature], merge_base: r.base, head_deleted: false });
    expect(res.body.changed_files).toEqual(['lib/keep.ts', 'lib/new.ts', 'run.sh', 'text.txt']);
    const head = res.body.repo_head as string;
    expect((await refs(r.id))['refs/heads/main']).toBe(head);
    expect(await parentsOf(r.id, head)).toEqual([r.main, r.feature]);
    expect((await gitOk(['--git-dir', await s.bareRepo(r.id), 'log', '-1', '--format=%s', head])).trim()).toBe("Merge branch 'feature' into main");
    expect(await treeOf(r.id, head)).toBe(await gitMergeTree(r.work, r.main, r.feature));
    // the line-level merge took both edits, and the executable bit from main with feature's content
    const ls = await gitOk(['--git-dir', await s.bareRepo(r.id), 'ls-tree', '-r', head]);
    expect(ls).toMatch(/^100755 blob \S+\trun\.sh$/m);
    const text = await s.api.get(`/v1/repo/${r.id}/file/text.txt`).set(auth(s.admin));
    expect(text.body.toString()).toBe(edit(2, 'main line 2').replace('line 11\n', 'feature line 11\n'));

    // merging again: nothing to merge
    const again = await merge(r.id, { base: 'main', head: 'feature' });
    expect(again.status).toBe(204);
    expect((await refs(r.id))['refs/heads/main']).toBe(head);
    await s.fsck(r.id);
  });

  it('squash: one commit with the merged tree and base as its only parent', async () => {
    const r = await diverged();
    const res = await merge(r.id, { base: 'main', head: 'feature', method: 'squash', message: 'Feature, squashed' });
    expect(res.status).toBe(201);
    const head = res.body.repo_head as string;
    expect(await parentsOf(r.id, head)).toEqual([r.main]);
    expect(await treeOf(r.id, head)).toBe(await gitMergeTree(r.work, r.main, r.feature, true));
    expect((await gitOk(['--git-dir', await s.bareRepo(r.id), 'log', '-1', '--format=%B', head])).trim()).toBe('Feature, squashed');
    await s.fsck(r.id);
  });

  it('fast-forward: moves base to head when possible, 409 when the branches diverged', async () => {
    const r = await diverged();
    const refused = await merge(r.id, { base: 'main', head: 'feature', method: 'fast-forward' });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'NOT_FAST_FORWARD']);
    expect((await refs(r.id))['refs/heads/main']).toBe(r.main);

    const ffBase = await merge(r.id, { base: 'feature', head: r.base, method: 'fast-forward' }); // head already in base
    expect(ffBase.status).toBe(204);
    // ff is one commit ahead of base; make a branch at base by merging nothing into it first
    const onBase = await s.api.put(`/v1/repo/${r.id}/file/lib%2Fkeep.ts?branch=at-base&base=${r.base}`).set(auth(s.admin)).send('keep\n');
    expect(onBase.body.repo_head).toBe(r.base);
    const ff = await merge(r.id, { base: 'at-base', head: 'ff', method: 'fast-forward' });
    expect(ff.status).toBe(201);
    expect(ff.body).toMatchObject({ branch: 'at-base', repo_head: r.ff, method: 'fast-forward', changed_files: ['ff.txt'] });
    expect((await refs(r.id))['refs/heads/at-base']).toBe(r.ff);
    await s.fsck(r.id);
  });

  it('a conflict is 409 MERGE_CONFLICT naming the paths, and changes nothing', async () => {
    const r = await diverged();
    const refsBefore = await refs(r.id);
    const objectsBefore = await objectCount(r.id);
    // the same line changed on both sides, and modify/delete
    for (const [head, method] of [['clash', 'merge'], ['clash', 'squash'], ['gone', 'merge']]) {
      const res = await merge(r.id, { base: 'main', head, method });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('MERGE_CONFLICT');
      expect(res.body.error.conflicts).toEqual(['text.txt']);
      expect(res.body.error.message).toContain('text.txt');
    }
    // C Git agrees that these conflict
    for (const head of [r.clash, r.gone]) {
      await gitOk(['reset', '-q', '--hard'], { cwd: r.work });
      await gitOk(['checkout', '-q', '--detach', r.main], { cwd: r.work });
      expect((await git(['merge', '--no-edit', head], { cwd: r.work })).code).not.toBe(0);
      await git(['merge', '--abort'], { cwd: r.work });
    }
    expect(await refs(r.id)).toEqual(refsBefore);
    expect(await objectCount(r.id)).toBe(objectsBefore);
    await s.fsck(r.id);
  });

  it('protected base: a write token is refused, an admin merges; delete_head needs allow_delete and the head in scope', async () => {
    const r = await diverged();
    await s.api.put(`/v1/repo/${r.id}/protected_refs`).set(auth(s.admin)).send({ patterns: ['refs/heads/main'] });
    const writer = await s.mint({ name: 'writer', repo_ids: [r.id], permission: 'write', allow_delete: false });
    const agent = await s.mint({ name: 'agent', repo_ids: [r.id], permission: 'write', refs: ['refs/heads/agent/*'] });
    const before = await refs(r.id);
    const objectsBefore = await objectCount(r.id);

    const byWriter = await merge(r.id, { base: 'main', head: 'feature' }, writer.token);
    expect([byWriter.status, byWriter.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect(byWriter.body.error.message).toContain('protected ref');
    const outOfScope = await merge(r.id, { base: 'feature', head: 'ff' }, agent.token); // ref scope applies to base
    expect(outOfScope.status).toBe(403);
    const noDelete = await merge(r.id, { base: 'feature', head: 'ff', delete_head: true }, writer.token); // no allow_delete
    expect(noDelete.status).toBe(403);
    expect(noDelete.body.error.message).toContain('may not delete');
    const reader = await s.mint({ name: 'reader', repo_ids: [r.id], permission: 'read' });
    expect((await merge(r.id, { base: 'feature', head: 'ff' }, reader.token)).status).toBe(403);
    const missing = await merge(r.id, { base: 'main', head: 'no-such-branch' });
    expect([missing.status, missing.body.error.code]).toEqual([404, 'BRANCH_NOT_FOUND']);
    expect((await merge(r.id, { base: 'nope', head: 'feature' })).status).toBe(404);
    const stale = await merge(r.id, { base: 'main', head: 'feature', expected_head: r.base });
    expect([stale.status, stale.body.error.code]).toEqual([409, 'STALE_REF']);
    const badMethod = await merge(r.id, { base: 'main', head: 'feature', method: 'rebase' });
    expect([badMethod.status, badMethod.body.error.code]).toEqual([400, 'VALIDATION']);
    const currentBranch = await merge(r.id, { base: 'feature', head: 'main', delete_head: true });
    expect(currentBranch.status).toBe(400); // HEAD's branch is never deleted
    expect(await refs(r.id)).toEqual(before);
    expect(await objectCount(r.id)).toBe(objectsBefore);

    // the admin merges what it reviewed (expected_head) and deletes the head branch
    const ok = await merge(r.id, { base: 'main', head: 'feature', expected_head: r.feature, delete_head: true });
    expect(ok.status).toBe(201);
    expect(ok.body.head_deleted).toBe(true);
    const after = await refs(r.id);
    expect(after['refs/heads/main']).toBe(ok.body.repo_head);
    expect(after['refs/heads/feature']).toBeUndefined();
    const audit = await s.api.get(`/v1/audit?repo_id=${r.id}&action=ref.update&page_size=10`).set(auth(s.admin));
    const moves = audit.body.items.filter((e: { detail: { via: string } }) => e.detail?.via === 'merge');
    expect(moves.map((e: { ref: string; new_oid: string | null }) => [e.ref, e.new_oid]).sort()).toEqual([
      ['refs/heads/feature', null],
      ['refs/heads/main', ok.body.repo_head],
    ]);
    await s.fsck(r.id);
  });

  it('criss-cross histories merge from the base git merge-base picks', async () => {
    const id = await s.createRepo();
    const work = path.join(tmpDir(), 'w');
    const at = (t: number) => ({ env: { GIT_COMMITTER_DATE: `2026-01-01T00:00:${String(t).padStart(2, '0')}Z` } });
    await gitOk(['init', '-q', '-b', 'main', work]);
    const commit = async (files: Record<string, string>, msg: string, t: number) => {
      for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(work, f), c);
      await gitOk(['add', '-A'], { cwd: work });
      await gitOk(['commit', '-q', '-m', msg], { cwd: work, ...at(t) });
    };
    await commit({ 'f.txt': BASE_FILE }, 'root', 1);
    await gitOk(['checkout', '-q', '-b', 'side'], { cwd: work });
    await commit({ 's.txt': 's\n' }, 'side 1', 2);
    await gitOk(['checkout', '-q', 'main'], { cwd: work });
    await commit({ 'm.txt': 'm\n' }, 'main 1', 3);
    const m1 = (await gitOk(['rev-parse', 'HEAD'], { cwd: work })).trim();
    await gitOk(['merge', '-q', '--no-edit', 'side'], { cwd: work, ...at(4) });
    await gitOk(['checkout', '-q', 'side'], { cwd: work });
    await gitOk(['merge', '-q', '--no-edit', m1], { cwd: work, ...at(5) });
    await commit({ 'f.txt': edit(10, 'side ten') }, 'side 2', 6);
    await gitOk(['checkout', '-q', 'main'], { cwd: work });
    await commit({ 'f.txt': edit(1, 'main one') }, 'main 2', 7);
    await gitOk(['push', '-q', s.gitUrl(id, s.admin), 'main', 'side'], { cwd: work });
    const r = await refs(id);
    const all = (await gitOk(['merge-base', '--all', 'main', 'side'], { cwd: work })).trim().split('\n');
    expect(all).toHaveLength(2); // criss-cross: two best common ancestors
    const expectedBase = (await gitOk(['merge-base', 'main', 'side'], { cwd: work })).trim();

    const res = await merge(id, { base: 'main', head: 'side' });
    expect(res.status).toBe(201);
    expect(res.body.merge_base).toBe(expectedBase);
    expect(await treeOf(id, res.body.repo_head)).toBe(await gitMergeTree(work, r['refs/heads/main']!, r['refs/heads/side']!));
    await s.fsck(id);
  });
});
