// Pushes with real git over smart HTTP, on node fs and on memfs: every kind of ref update, big
// and long pushes, thin packs, first pushes and HEAD, concurrency, and what git prints.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withRepoLock } from '../../src/repo/repo-lock.js';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { fastImportCommits, leftovers, randomFile, remoteRef, rev } from '../helpers/push.js';
import { STORAGE_KINDS, type TestServer, useTestServer } from '../helpers/server.js';

describe.each(STORAGE_KINDS)('push (%s storage)', (kind) => {
  let s: TestServer;
  useTestServer(kind, (started) => (s = started));

  /** A repository with one commit on main, and a clone of it. */
  async function seeded(): Promise<{ id: string; url: string; w: string; base: string }> {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'f.txt', content: '0\n' }] } });
    const url = s.gitUrl(id, s.admin);
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', url, w]);
    return { id, url, w, base: await rev(w, 'HEAD') };
  }

  async function settled(id: string): Promise<void> {
    await s.fsck(id); // waits for background repacking first
    expect(await leftovers(s, id)).toEqual([]);
  }

  it('fast-forwards, refuses a non-fast-forward, takes a forced update and deletes', async () => {
    const { id, url, w, base } = await seeded();
    const c1 = await commitFiles(w, { 'f.txt': '1\n' }, 'one');
    const c2 = await commitFiles(w, { 'f.txt': '2\n' }, 'two');
    const ff = await git(['push', 'origin', 'main'], { cwd: w });
    expect(ff.code, ff.stderr).toBe(0);
    expect(ff.stderr).toContain(`${base.slice(0, 7)}..${c2.slice(0, 7)}  main -> main`);
    expect(await remoteRef(url, 'refs/heads/main')).toBe(c2);

    // diverge: git refuses without --force and the server keeps c2
    await gitOk(['reset', '-q', '--hard', c1], { cwd: w });
    const other = await commitFiles(w, { 'g.txt': 'g\n' }, 'diverged');
    const nonff = await git(['push', 'origin', 'main'], { cwd: w });
    expect(nonff.code).not.toBe(0);
    expect(nonff.stderr).toMatch(/\[rejected\].*\(non-fast-forward\)/);
    expect(await remoteRef(url, 'refs/heads/main')).toBe(c2);

    const forced = await git(['push', '--force', 'origin', 'main'], { cwd: w });
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/\+ \w+\.\.\.\w+ main -> main \(forced update\)/);
    expect(await remoteRef(url, 'refs/heads/main')).toBe(other);

    await gitOk(['push', '-q', 'origin', 'HEAD:refs/heads/doomed'], { cwd: w });
    expect(await remoteRef(url, 'refs/heads/doomed')).toBe(other);
    const del = await git(['push', 'origin', '--delete', 'doomed'], { cwd: w });
    expect(del.code, del.stderr).toBe(0);
    expect(del.stderr).toContain('[deleted]');
    expect(await remoteRef(url, 'refs/heads/doomed')).toBe(null);
    await settled(id);
  });

  it('pushes lightweight and annotated tags, updates and deletes them', async () => {
    const { id, url, w, base } = await seeded();
    const c1 = await commitFiles(w, { 'a.txt': 'a\n' }, 'tagged');
    await gitOk(['tag', 'light', base], { cwd: w });
    await gitOk(['tag', '-a', '-m', 'release 1', 'v1', c1], { cwd: w });
    const tagObject = await rev(w, 'v1');
    const r = await git(['push', 'origin', 'main', '--tags'], { cwd: w });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('[new tag]');
    const ls = await gitOk(['ls-remote', url]);
    expect(ls).toContain(`${base}\trefs/tags/light`);
    expect(ls).toContain(`${tagObject}\trefs/tags/v1`);
    expect(ls).toContain(`${c1}\trefs/tags/v1^{}`);
    expect((await gitOk(['--git-dir', await s.bareRepo(id), 'cat-file', '-t', 'refs/tags/v1'])).trim()).toBe('tag');

    // moving a tag needs --force (client side), deleting it works
    await gitOk(['tag', '-f', 'light', c1], { cwd: w });
    const moved = await git(['push', '--force', 'origin', 'refs/tags/light'], { cwd: w });
    expect(moved.code, moved.stderr).toBe(0);
    expect(await remoteRef(url, 'refs/tags/light')).toBe(c1);
    await gitOk(['push', '-q', 'origin', ':refs/tags/light', ':refs/tags/v1'], { cwd: w });
    expect(await remoteRef(url, 'refs/tags/light')).toBe(null);
    expect(await remoteRef(url, 'refs/tags/v1')).toBe(null);
    await settled(id);
  });

  it('--atomic with one refused ref leaves every ref unchanged', async () => {
    const { id, url, w, base } = await seeded();
    await gitOk(['push', '-q', 'origin', 'HEAD:refs/heads/side'], { cwd: w });
    const c1 = await commitFiles(w, { 'f.txt': 'atomic\n' }, 'atomic');
    const before = await gitOk(['ls-remote', url]);
    // deleting the branch HEAD points at is refused by the server, so nothing may change
    const r = await git(['push', '--atomic', 'origin', `${c1}:refs/heads/side`, `${c1}:refs/heads/new`, ':refs/heads/main'], { cwd: w });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\[remote rejected\] main \(deletion of the current branch prohibited\)/);
    expect(r.stderr).toMatch(/\[remote rejected\] \S+ -> side \(atomic push failure\)/);
    expect(r.stderr).toMatch(/\[remote rejected\] \S+ -> new \(atomic push failure\)/);
    expect(await gitOk(['ls-remote', url])).toBe(before);
    expect(await remoteRef(url, 'refs/heads/side')).toBe(base);

    // the same push without --atomic applies what it can
    const partial = await git(['push', 'origin', `${c1}:refs/heads/side`, `${c1}:refs/heads/new`, ':refs/heads/main'], { cwd: w });
    expect(partial.code).not.toBe(0);
    expect(await remoteRef(url, 'refs/heads/side')).toBe(c1);
    expect(await remoteRef(url, 'refs/heads/new')).toBe(c1);
    expect(await remoteRef(url, 'refs/heads/main')).toBe(base);
    await settled(id);
  });

  it('accepts push options (git push -o)', async () => {
    const { id, url, w } = await seeded();
    const c1 = await commitFiles(w, { 'o.txt': 'o\n' }, 'with options');
    const r = await git(['push', '-o', 'ci.skip', '-o', 'merge_request.create', '-o', 'key=value with spaces', 'origin', 'main'], { cwd: w });
    expect(r.code, r.stderr).toBe(0);
    expect(await remoteRef(url, 'refs/heads/main')).toBe(c1);
    await settled(id);
  });

  it('takes a 30 MB random blob in a chunked request body', async () => {
    const { id, url, w } = await seeded();
    randomFile(path.join(w, 'big.bin'), 30 * 1024 * 1024);
    const c1 = await commitFiles(w, {}, 'big blob');
    // a small http.postBuffer forces chunked transfer encoding, as any push over 1 MiB gets anyway
    const r = await git(['-c', 'http.postBuffer=65536', 'push', 'origin', 'main'], { cwd: w, env: { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' } });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).toMatch(/Transfer-Encoding: chunked/i);
    expect(await remoteRef(url, 'refs/heads/main')).toBe(c1);
    const c = path.join(tmpDir(), 'c');
    await gitOk(['clone', '-q', url, c]);
    expect(fs.readFileSync(path.join(c, 'big.bin')).equals(fs.readFileSync(path.join(w, 'big.bin')))).toBe(true);
    await settled(id);
  });

  it('takes 1,000 commits in one push', async () => {
    const { id, url, w, base } = await seeded();
    const tip = await fastImportCommits(w, 'refs/heads/long', 1000, { parent: base });
    const r = await git(['push', 'origin', 'refs/heads/long'], { cwd: w });
    expect(r.code, r.stderr).toBe(0);
    expect(await remoteRef(url, 'refs/heads/long')).toBe(tip);
    const count = await gitOk(['--git-dir', await s.bareRepo(id), 'rev-list', '--count', 'refs/heads/long']);
    expect(count.trim()).toBe('1001');
    await settled(id);
  });

  it('completes a thin pack (push after fetch) with bases from the repository', async () => {
    const { id, url, w } = await seeded();
    const text = Array.from({ length: 400 }, (_, i) => `line ${i} of a file big enough to be sent as a delta\n`).join('');
    await commitFiles(w, { 'doc.txt': text }, 'doc');
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: w });
    // a second clone fetches, edits one line and pushes: git sends the blob as a delta
    // against the version the server has, without that base (a thin pack)
    const w2 = path.join(tmpDir(), 'w2');
    await gitOk(['clone', '-q', url, w2]);
    await gitOk(['fetch', '-q', 'origin'], { cwd: w2 });
    const edited = text.replace('line 200 ', 'line 200 (edited) ');
    const c2 = await commitFiles(w2, { 'doc.txt': edited }, 'edit one line');
    const r = await git(['push', '--thin', '--progress', 'origin', 'main'], { cwd: w2 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Total 3 \(delta [12]\)/); // the blob (and tree) went as deltas
    expect(await remoteRef(url, 'refs/heads/main')).toBe(c2);
    const shown = await gitOk(['--git-dir', await s.bareRepo(id), 'show', `${c2}:doc.txt`]);
    expect(shown).toBe(edited);
    await settled(id);
  });

  describe('first push into an empty repository', () => {
    it('points HEAD at the default branch when it is among the branches pushed', async () => {
      const id = await s.createRepo();
      const url = s.gitUrl(id, s.admin);
      const w = path.join(tmpDir(), 'w');
      await gitOk(['init', '-q', '-b', 'aaa', w]);
      const c = await commitFiles(w, { 'a.txt': 'a\n' }, 'first');
      await gitOk(['push', '-q', url, 'aaa', 'aaa:main', 'aaa:zzz'], { cwd: w });
      expect(await gitOk(['ls-remote', '--symref', url, 'HEAD'])).toBe(`ref: refs/heads/main\tHEAD\n${c}\tHEAD\n`);
      await settled(id);
    });

    it('points HEAD at the first branch pushed otherwise, and a tags-only push leaves it unborn', async () => {
      const id = await s.createRepo();
      const url = s.gitUrl(id, s.admin);
      const w = path.join(tmpDir(), 'w');
      await gitOk(['init', '-q', '-b', 'dev', w]);
      const c = await commitFiles(w, { 'a.txt': 'a\n' }, 'first');
      await gitOk(['tag', 'v0', c], { cwd: w });
      await gitOk(['push', '-q', url, 'refs/tags/v0'], { cwd: w });
      expect(await gitOk(['ls-remote', '--symref', url, 'HEAD'])).toBe('');
      await gitOk(['push', '-q', url, 'dev:refs/heads/second', 'dev:refs/heads/first'], { cwd: w });
      expect(await gitOk(['ls-remote', '--symref', url, 'HEAD'])).toBe(`ref: refs/heads/second\tHEAD\n${c}\tHEAD\n`);
      // a clone checks out that branch
      const c2 = path.join(tmpDir(), 'c2');
      await gitOk(['clone', '-q', url, c2]);
      expect((await gitOk(['rev-parse', '--abbrev-ref', 'HEAD'], { cwd: c2 })).trim()).toBe('second');
      await settled(id);
    });
  });

  it('updates and deletes refs that live in packed-refs', async () => {
    const { id, url, w, base } = await seeded();
    const gitdir = s.ctx.manager.gitdirOf(id);
    // pack main and two more refs, as `git pack-refs --all --prune` would
    const tagged = await commitFiles(w, { 't.txt': 't\n' }, 'tagged');
    await gitOk(['push', '-q', 'origin', 'HEAD:refs/heads/tmp'], { cwd: w });
    const packed = [`${base} refs/heads/main`, `${base} refs/heads/packed-only`, `${tagged} refs/tags/packed-tag`].join('\n');
    await s.ctx.storage.writeFile(`${gitdir}/packed-refs`, `# pack-refs with: peeled fully-peeled sorted \n${packed}\n`);
    await s.ctx.storage.unlink(`${gitdir}/refs/heads/main`);
    await gitOk(['push', '-q', 'origin', ':refs/heads/tmp'], { cwd: w });
    expect(await remoteRef(url, 'refs/heads/packed-only')).toBe(base);

    const c1 = await commitFiles(w, { 'f.txt': 'on packed main\n' }, 'on packed main');
    const r = await git(['push', 'origin', 'main', ':refs/heads/packed-only', ':refs/tags/packed-tag'], { cwd: w });
    expect(r.code, r.stderr).toBe(0);
    expect(await remoteRef(url, 'refs/heads/main')).toBe(c1);
    expect(await remoteRef(url, 'refs/heads/packed-only')).toBe(null);
    expect(await remoteRef(url, 'refs/tags/packed-tag')).toBe(null);
    const text = (await s.ctx.storage.readFile(`${gitdir}/packed-refs`)).toString();
    expect(text).not.toContain('packed-only');
    expect(text).not.toContain('packed-tag');
    await settled(id);
  });

  it('lands 8 concurrent pushes to 8 branches', async () => {
    const { id, url, base } = await seeded();
    const clients = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const d = path.join(tmpDir(), `c${i}`);
        await gitOk(['clone', '-q', url, d]);
        return { d, commit: await commitFiles(d, { [`b${i}.txt`]: `${i}\n` }, `branch ${i}`) };
      }),
    );
    const results = await Promise.all(clients.map((c, i) => git(['push', 'origin', `HEAD:refs/heads/b${i}`], { cwd: c.d })));
    results.forEach((r) => expect(r.code, r.stderr).toBe(0));
    for (let i = 0; i < 8; i++) expect(await remoteRef(url, `refs/heads/b${i}`)).toBe(clients[i]!.commit);
    expect(await remoteRef(url, 'refs/heads/main')).toBe(base);
    await settled(id);
  });

  it('lets exactly one of 8 racing pushes to one branch win; the others are refused and nothing acknowledged is lost', async () => {
    const { id, url } = await seeded();
    const clients = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const d = path.join(tmpDir(), `r${i}`);
        await gitOk(['clone', '-q', url, d]);
        return { d, commit: await commitFiles(d, { [`r${i}.txt`]: `${i}\n` }, `racer ${i}`) };
      }),
    );
    const results = await Promise.all(clients.map((c) => git(['push', 'origin', 'main'], { cwd: c.d })));
    const winners = results.map((r, i) => ({ r, i })).filter(({ r }) => r.code === 0);
    expect(winners.length).toBe(1);
    const winner = clients[winners[0]!.i]!;
    expect(await remoteRef(url, 'refs/heads/main')).toBe(winner.commit);
    for (const { r, i } of results.map((r, i) => ({ r, i }))) {
      if (i === winners[0]!.i) continue;
      // refused by git (it saw the new value: "fetch first") or by the server (stale old value)
      expect(r.stderr).toMatch(/\[rejected\].*\(fetch first\)|\[remote rejected\].*\(stale info.*fetch first\)/);
    }
    await settled(id);
  });

  it('refuses a push whose old value went stale while it waited, and the REST API gets 423 meanwhile', async () => {
    const { id, url, w, base } = await seeded();
    const repo = s.ctx.manager.get(id);
    const mine = await commitFiles(w, { 'mine.txt': 'mine\n' }, 'mine');
    const packsBefore = (await s.ctx.storage.readdir(repo.packDir)).filter((f) => f.endsWith('.idx')).length;
    let push!: Promise<Awaited<ReturnType<typeof git>>>;
    let apiStatus = 0;
    let apiCode = '';
    // hold the repository lock, as a concurrent REST update would
    await withRepoLock(repo.lockKey, async () => {
      push = git(['push', 'origin', 'main'], { cwd: w });
      // the push uploads and installs its pack without the lock, then waits for it
      for (let i = 0; i < 400; i++) {
        const packs = (await s.ctx.storage.readdir(repo.packDir)).filter((f) => f.endsWith('.idx')).length;
        if (packs > packsBefore) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await new Promise((r) => setTimeout(r, 100));
      // the REST API finds the repository busy
      const res = await s.api.put(`/v1/repo/${id}/file/x.txt`).set('Authorization', `Bearer ${s.admin}`).set('Content-Type', 'application/octet-stream').send(Buffer.from('x'));
      apiStatus = res.status;
      apiCode = res.body?.error?.code;
      // someone else moves main meanwhile
      const other = await repo.objects.inserter.insert('commit', Buffer.from(`tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent ${base}\nauthor A <a@b> 1700000000 +0000\ncommitter A <a@b> 1700000000 +0000\n\nother\n`));
      await repo.objects.inserter.insert('tree', Buffer.alloc(0));
      const moved = await repo.refs.update([{ name: 'refs/heads/main', oldOid: base, newOid: other }]);
      expect(moved[0]!.ok).toBe(true);
    });
    const r = await push;
    expect(apiStatus).toBe(423);
    expect(apiCode).toBe('REPO_LOCKED');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/remote: error: cannot lock ref 'refs\/heads\/main': is at [0-9a-f]{40} but expected [0-9a-f]{40}/);
    expect(r.stderr).toMatch(/! \[remote rejected\] main -> main \(stale info: the ref is at [0-9a-f]{7}, not [0-9a-f]{7}; fetch first\)/);
    expect(await remoteRef(url, 'refs/heads/main')).not.toBe(mine);
    await settled(id);
  });

  it('reports an invalid ref name readably', async () => {
    const { id, url, w } = await seeded();
    const bad = await git(['push', 'origin', 'HEAD:refs/heads/bad..name'], { cwd: w });
    expect(bad.code).not.toBe(0);
    // git may refuse the name itself; if it sends it, the server calls it a funny refname
    expect(bad.stderr).toMatch(/funny refname|not a valid|invalid/i);
    expect(await gitOk(['ls-remote', url])).not.toContain('bad..name');
    await settled(id);
  });
});
