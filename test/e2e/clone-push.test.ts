// The basic life of a repository through real git over HTTP, on node fs and on memfs.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { STORAGE_KINDS, type TestServer, useTestServer } from '../helpers/server.js';

describe.each(STORAGE_KINDS)('clone and push over smart HTTP (%s storage)', (kind) => {
  let s: TestServer;
  useTestServer(kind, (started) => (s = started));

  it('clones a repository created from files, pushes a commit, and a second clone sees it', async () => {
    const id = await s.createRepo({
      source: { type: 'files', files: [{ filename: 'README.md', content: '# hello\n' }, { filename: 'src/a.ts', content: 'export const a = 1;\n' }] },
    });
    const { token } = await s.mint({ name: 'agent', repo_ids: [id], permission: 'write' });
    const work = path.join(tmpDir(), 'work');
    await gitOk(['clone', '-q', s.gitUrl(id, token), work]);
    expect(fs.readFileSync(path.join(work, 'src/a.ts'), 'utf8')).toBe('export const a = 1;\n');
    expect((await gitOk(['rev-parse', '--abbrev-ref', 'HEAD'], { cwd: work })).trim()).toBe('main');

    const head = await commitFiles(work, { 'src/b.ts': 'export const b = 2;\n', 'README.md': '# hello again\n' }, 'second');
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: work });

    const again = path.join(tmpDir(), 'again');
    await gitOk(['clone', '-q', s.gitUrl(id, token), again]);
    expect((await gitOk(['rev-parse', 'HEAD'], { cwd: again })).trim()).toBe(head);
    expect(fs.readFileSync(path.join(again, 'src/b.ts'), 'utf8')).toBe('export const b = 2;\n');
    expect(fs.readFileSync(path.join(again, 'README.md'), 'utf8')).toBe('# hello again\n');
    await s.fsck(id);
    const log = await gitOk(['--git-dir', await s.bareRepo(id), 'log', '--format=%s', 'main']);
    expect(log.trim().split('\n')).toEqual(['second', 'Initial commit: add 2 files']);
  });

  it('takes the first push into an empty repository and points HEAD at the pushed default branch', async () => {
    const id = await s.createRepo();
    const work = tmpDir();
    const clone = await git(['clone', s.gitUrl(id, s.admin), path.join(work, 'w')]);
    expect(clone.code).toBe(0);
    expect(clone.stderr).toMatch(/empty repository/);
    const w = path.join(work, 'w');
    const head = await commitFiles(w, { 'a.txt': 'a\n' }, 'first');
    await gitOk(['push', '-q', 'origin', 'HEAD:main'], { cwd: w });
    const ls = await gitOk(['ls-remote', '--symref', s.gitUrl(id, s.admin)]);
    expect(ls).toContain('ref: refs/heads/main\tHEAD');
    expect(ls).toContain(`${head}\trefs/heads/main`);
    await s.fsck(id);
  });

  it('points HEAD at the first branch pushed when the default branch is not pushed', async () => {
    const id = await s.createRepo();
    const w = tmpDir();
    await gitOk(['init', '-q', '-b', 'trunk', w]);
    const head = await commitFiles(w, { 'x.txt': 'x\n' }, 'on trunk');
    await gitOk(['push', '-q', s.gitUrl(id, s.admin), 'trunk'], { cwd: w });
    const ls = await gitOk(['ls-remote', '--symref', s.gitUrl(id, s.admin), 'HEAD']);
    expect(ls).toContain('ref: refs/heads/trunk\tHEAD');
    expect(ls).toContain(`${head}\tHEAD`);
    await s.fsck(id);
  });

  it('handles branches, fast-forwards, refused non-fast-forwards, forced updates, deletions and tags', async () => {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'f.txt', content: '0\n' }] } });
    const url = s.gitUrl(id, s.admin);
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', url, w]);
    const base = (await gitOk(['rev-parse', 'HEAD'], { cwd: w })).trim();

    // new branch
    await gitOk(['checkout', '-q', '-b', 'feature'], { cwd: w });
    const f1 = await commitFiles(w, { 'f.txt': '1\n' }, 'feature 1');
    await gitOk(['push', '-q', 'origin', 'feature'], { cwd: w });
    // fast-forward
    const f2 = await commitFiles(w, { 'f.txt': '2\n' }, 'feature 2');
    await gitOk(['push', '-q', 'origin', 'feature'], { cwd: w });
    expect(await remoteRef(url, 'refs/heads/feature')).toBe(f2);

    // non-fast-forward refused by git, forced update accepted
    await gitOk(['reset', '-q', '--hard', f1], { cwd: w });
    const diverged = await commitFiles(w, { 'g.txt': 'g\n' }, 'diverged');
    const refused = await git(['push', 'origin', 'feature'], { cwd: w });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/rejected|non-fast-forward|fetch first/);
    expect(await remoteRef(url, 'refs/heads/feature')).toBe(f2);
    await gitOk(['push', '-q', '--force', 'origin', 'feature'], { cwd: w });
    expect(await remoteRef(url, 'refs/heads/feature')).toBe(diverged);

    // tags: lightweight and annotated, peeled in ls-remote
    await gitOk(['tag', 'light', base], { cwd: w });
    await gitOk(['tag', '-a', '-m', 'release one', 'v1.0', diverged], { cwd: w });
    await gitOk(['push', '-q', 'origin', '--tags'], { cwd: w });
    const ls = await gitOk(['ls-remote', url]);
    expect(ls).toContain(`${base}\trefs/tags/light`);
    expect(ls).toContain(`${diverged}\trefs/tags/v1.0^{}`);

    // deletion
    await gitOk(['push', '-q', 'origin', '--delete', 'feature'], { cwd: w });
    expect(await remoteRef(url, 'refs/heads/feature')).toBe(null);
    await gitOk(['push', '-q', 'origin', ':refs/tags/light'], { cwd: w });
    expect(await remoteRef(url, 'refs/tags/light')).toBe(null);

    // a fresh clone gets the annotated tag and the whole history; fetch is incremental
    const c = path.join(tmpDir(), 'c');
    await gitOk(['clone', '-q', url, c]);
    expect((await gitOk(['cat-file', '-t', 'v1.0'], { cwd: c })).trim()).toBe('tag');
    await commitFiles(w, { 'h.txt': 'h\n' }, 'more on main');
    await gitOk(['push', '-q', 'origin', 'HEAD:main', '--force'], { cwd: w });
    const fetched = await git(['fetch', 'origin'], { cwd: c });
    expect(fetched.code).toBe(0);
    expect(await gitOk(['log', '--format=%s', '-1', 'origin/main'], { cwd: c })).toBe('more on main\n');
    await s.fsck(id);
  });

  it('refuses to delete the branch HEAD points at', async () => {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'f.txt', content: '0\n' }] } });
    const url = s.gitUrl(id, s.admin);
    const r = await git(['push', url, '--delete', 'main']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/deletion of the current branch prohibited/);
    expect(await remoteRef(url, 'refs/heads/main')).not.toBe(null);
  });

  it('serves the same repository with or without the .git suffix and by unique name', async () => {
    const id = await s.createRepo({ name: `named-${kind}`, source: { type: 'files', files: [{ filename: 'n.txt', content: 'n\n' }] } });
    const byName = s.gitUrl(`named-${kind}`, s.admin);
    const noSuffix = s.gitUrl(id, s.admin).replace(/\.git$/, '');
    const a = await gitOk(['ls-remote', byName, 'refs/heads/main']);
    const b = await gitOk(['ls-remote', noSuffix, 'refs/heads/main']);
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{40}\trefs\/heads\/main\n$/);
  });
});

async function remoteRef(url: string, ref: string): Promise<string | null> {
  const out = await gitOk(['ls-remote', url, ref]);
  const line = out.split('\n').find((l) => l.endsWith(`\t${ref}`));
  return line ? line.split('\t')[0]! : null;
}
