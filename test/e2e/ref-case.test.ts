// On macOS and Windows refs/heads/MAIN is the same file as refs/heads/main: a new ref whose name
// (or directory) differs only in case from an existing ref or a protected pattern is refused,
// on every platform, for pushes and REST writes alike.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { type TestServer, bearer, useTestServer } from '../helpers/server.js';

describe('ref names that differ only in case', () => {
  let s: TestServer;
  useTestServer('fs', (started) => (s = started));

  const refsOf = async (repo: string) => (await gitOk(['ls-remote', s.gitUrl(repo, s.admin)])).trim().split('\n').map((l) => l.split('\t')[1]);

  /** A repository with main and refs/heads/feat/a, and a work tree on main pushing with `secret`. */
  async function setup(secret = s.admin): Promise<{ repo: string; w: string }> {
    const repo = await s.createRepo();
    const w = path.join(tmpDir(), 'w');
    await gitOk(['init', '-q', '-b', 'main', w]);
    await commitFiles(w, { 'a.txt': 'a\n' }, 'one');
    await gitOk(['push', '-q', s.gitUrl(repo, s.admin), 'main', 'main:refs/heads/feat/a'], { cwd: w });
    await gitOk(['remote', 'add', 'origin', s.gitUrl(repo, secret)], { cwd: w });
    return { repo, w };
  }

  it('refuses a push creating a case variant of an existing ref or of its directory', async () => {
    const { repo, w } = await setup();
    for (const [target, existing] of [
      ['MAIN', 'refs/heads/main'],
      ['Main', 'refs/heads/main'],
      ['FEAT/b', 'refs/heads/feat/a'],
      ['feat/A', 'refs/heads/feat/a'],
    ]) {
      const r = await git(['push', 'origin', `main:refs/heads/${target}`], { cwd: w });
      expect(r.code, target).not.toBe(0);
      expect(r.stderr).toContain(`[remote rejected] main -> ${target} (refname conflicts with existing ref ${existing} (case-insensitive))`);
    }
    // one push creating two case variants: the first wins, the second is refused
    const both = await git(['push', 'origin', 'main:refs/heads/topic', 'main:refs/heads/Topic'], { cwd: w });
    expect(both.stderr).toContain('[remote rejected] main -> Topic (refname conflicts with existing ref refs/heads/topic (case-insensitive))');
    expect((await refsOf(repo)).sort()).toEqual(['HEAD', 'refs/heads/feat/a', 'refs/heads/main', 'refs/heads/topic']);
    // updating and deleting existing refs is untouched
    await commitFiles(w, { 'b.txt': 'b\n' }, 'two');
    await gitOk(['push', '-q', 'origin', 'main', ':refs/heads/topic'], { cwd: w });
    await s.fsck(repo);
  });

  it('refuses a case variant of a protected pattern to everyone, admins included', async () => {
    const { repo, w } = await setup();
    const set = await s.api.put(`/v1/repo/${repo}/protected_refs`).set(bearer(s.admin)).send({ patterns: ['refs/heads/release/*', 'refs/heads/prod'] });
    expect(set.status).toBe(200);
    const writer = await s.mint({ repo_ids: [repo], permission: 'write' });
    for (const [secret, target, pattern] of [
      [writer.token, 'Release/1.0', 'refs/heads/release/*'],
      [s.admin, 'PROD', 'refs/heads/prod'],
      [s.admin, 'RELEASE/2.0', 'refs/heads/release/*'],
    ] as const) {
      const r = await git(['push', s.gitUrl(repo, secret), `main:refs/heads/${target}`], { cwd: w });
      expect(r.code, target).not.toBe(0);
      expect(r.stderr).toContain(`[remote rejected] main -> ${target} (refname conflicts with protected ref ${pattern} (case-insensitive))`);
    }
    // the exact names stay the admins' to create
    await gitOk(['push', '-q', s.gitUrl(repo, s.admin), 'main:refs/heads/prod', 'main:refs/heads/release/1.0'], { cwd: w });
    expect((await refsOf(repo)).sort()).toEqual(['HEAD', 'refs/heads/feat/a', 'refs/heads/main', 'refs/heads/prod', 'refs/heads/release/1.0']);
    await s.fsck(repo);
  });

  it('refuses a REST write creating a case variant of an existing ref (409) or a protected ref (403), changing nothing', async () => {
    // HEAD stays on the unborn main while refs/Heads/x exists: creating refs/heads/main would share its directory
    const repo = await s.createRepo();
    const w = path.join(tmpDir(), 'w');
    await gitOk(['init', '-q', '-b', 'main', w]);
    await commitFiles(w, { 'a.txt': 'a\n' }, 'one');
    await gitOk(['push', '-q', s.gitUrl(repo, s.admin), 'main:refs/Heads/x'], { cwd: w });
    const put = await s.api.put(`/v1/repo/${repo}/file/b.txt`).set(bearer(s.admin)).send('b\n');
    expect(put.status).toBe(409);
    expect(put.body.error.code).toBe('REF_CONFLICT');
    expect(put.body.error.message).toContain('refname conflicts with existing ref refs/Heads/x (case-insensitive)');
    expect(await refsOf(repo)).toEqual(['refs/Heads/x']);

    const empty = await s.createRepo();
    await s.api.put(`/v1/repo/${empty}/protected_refs`).set(bearer(s.admin)).send({ patterns: ['refs/heads/MAIN'] });
    const denied = await s.api.put(`/v1/repo/${empty}/file/b.txt`).set(bearer(s.admin)).send('b\n');
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toContain('refname conflicts with protected ref refs/heads/MAIN (case-insensitive)');
    expect((await gitOk(['ls-remote', s.gitUrl(empty, s.admin)])).trim()).toBe('');
    await s.fsck(repo);
  });
});
