// Issue 13 point 8: names that some file system treats as '.git' (CVE-2014-9390 family) are
// refused on every REST write path — creation included — by the one path validator, and
// pushes carrying them are refused the way C Git refuses them with receive.fsckObjects.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, gitOk, tmpDir } from '../helpers/git.js';
import { diskState, startTestServer, type TestServer } from '../helpers/server.js';

const ALIASES = ['.git./x', 'GIT~1/config', '.git /x', 'a/.git\u200c/x', 'git~1/hooks/post-checkout', '.git::$INDEX_ALLOCATION/x', '.GIT/config', 'a/.git'];

describe('.git aliases', () => {
  let s: TestServer;
  let repo: string;
  const auth = () => ({ Authorization: `Bearer ${s.admin}` });
  const repoDirs = () => fs.readdirSync(s.dataDir).filter((f) => f.endsWith('.git')).sort();
  beforeAll(async () => {
    s = await startTestServer('fs');
    repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
  });
  afterAll(async () => {
    await s.close();
  });

  it('POST /v1/repo refuses each alias with 400 BAD_PATH and creates nothing', async () => {
    const before = repoDirs();
    for (const filename of ALIASES) {
      const res = await s.api
        .post('/v1/repo')
        .set(auth())
        .send({ source: { type: 'files', files: [{ filename: 'ok.txt', content: 'ok\n' }, { filename, content: '#!/bin/sh\necho pwned\n' }] } });
      expect(res.status, filename).toBe(400);
      expect(res.body.error.code).toBe('BAD_PATH');
    }
    expect((await s.api.get('/v1/repo').set(auth())).body.total_items).toBe(1);
    expect(repoDirs()).toEqual(before);
  });

  it('update (files, diff write, diff rename) and PUT /file refuse each alias and leave the branch alone', async () => {
    const head = (await s.api.get(`/v1/repo/${repo}/clone`).set(auth())).body;
    for (const filename of ALIASES) {
      const attempts = [
        s.api.post(`/v1/repo/${repo}/update`).set(auth()).send({ source: { type: 'files', files: [{ filename, content: 'x' }] } }),
        s.api.post(`/v1/repo/${repo}/update`).set(auth()).send({ source: { type: 'diff', operations: [{ type: 'write', filename, content: 'x' }] } }),
        s.api.post(`/v1/repo/${repo}/update`).set(auth()).send({ source: { type: 'diff', operations: [{ type: 'rename', old_filename: 'a.txt', new_filename: filename }] } }),
        s.api.put(`/v1/repo/${repo}/file/${filename.split('/').map(encodeURIComponent).join('/')}`).set(auth()).send('x'),
      ];
      for (const res of await Promise.all(attempts)) {
        expect(res.status, filename).toBe(400);
        expect(res.body.error.code).toBe('BAD_PATH');
      }
    }
    expect((await s.api.get(`/v1/repo/${repo}/clone`).set(auth())).body).toEqual(head);
    await s.fsck(repo);
  });

  it('the commits gitgate builds itself pass git fsck --strict', async () => {
    const created = await s.createRepo({
      source: { type: 'files', files: [{ filename: '.github/workflows/ci.yml', content: 'x\n' }, { filename: '.gitignore', content: 'y\n' }, { filename: 'dir/git~2', content: 'z\n' }] },
    });
    await s.fsck(created);
    const put = await s.api.put(`/v1/repo/${created}/file/.gitattributes`).set(auth()).send('* text=auto\n');
    expect(put.status).toBe(200);
    await s.fsck(created);
  });

  it('a push of such a tree, or of a malicious .gitmodules, is refused as C Git refuses it with receive.fsckObjects', async () => {
    const work = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(repo, s.admin), work]);
    const cgit = path.join(tmpDir(), 'c.git');
    await gitOk(['init', '-q', '--bare', cgit]);
    await gitOk(['--git-dir', cgit, 'config', 'receive.fsckObjects', 'true']);
    const before = (await gitOk(['ls-remote', s.gitUrl(repo, s.admin), 'refs/heads/main'])).split('\t')[0];

    const blob = (await gitOk(['hash-object', '-w', '--stdin'], { cwd: work, input: '#!/bin/sh\necho pwned\n' })).trim();
    const hooks = (await gitOk(['mktree'], { cwd: work, input: `100755 blob ${blob}\tpost-checkout\n` })).trim();
    const names = ['.git.', 'GIT~1', '.git ', '.git\u200c', 'git~1', '.git::$INDEX_ALLOCATION'];
    const trees = names.map((name) => `040000 tree ${hooks}\t${name}\n`);
    trees.push(`120000 blob ${blob}\t.gitmodules\n`); // .gitmodules as a symbolic link
    trees.push(`040000 tree ${hooks}\t.gitmodules\n`); // .gitmodules as a directory
    // .gitmodules contents C Git refuses: escaping names, option-like urls and paths, commands
    for (const modules of [
      '[submodule "../../.git/hooks"]\n\tpath = x\n\turl = https://example.com/x.git\n',
      '[submodule "x"]\n\tpath = x\n\turl = --upload-pack=touch${IFS}/tmp/pwned\n',
      '[submodule "x"]\n\tpath = -x\n\turl = ./x\n',
      '[submodule "x"]\n\tpath = x\n\turl = ./x\n\tupdate = !sh -c id\n',
      '[submodule "x"]\n\turl = ../../:evil.example.com/x\n',
      '[submodule "x"]\n\turl = ./x%0aprotocol=file\n',
      '[submodule.x]\n\turl = "-quoted"\n',
    ]) {
      const b = (await gitOk(['hash-object', '-w', '--stdin'], { cwd: work, input: modules })).trim();
      trees.push(`100644 blob ${b}\t.gitmodules\n`);
    }
    for (const entry of trees) {
      const tree = (await gitOk(['mktree'], { cwd: work, input: entry })).trim();
      const commit = (await gitOk(['commit-tree', tree, '-p', 'HEAD', '-m', 'evil'], { cwd: work })).trim();
      const theirs = await git(['push', cgit, `${commit}:refs/heads/main`], { cwd: work });
      const ours = await git(['push', 'origin', `${commit}:refs/heads/main`], { cwd: work });
      expect(theirs.code, `C Git accepted ${JSON.stringify(entry)}`).not.toBe(0);
      expect(ours.code, `gitgate accepted ${JSON.stringify(entry)}`).not.toBe(0);
      const id = /(hasDotgit|gitmodules[A-Za-z]+)/.exec(theirs.stderr)?.[1];
      expect(id, theirs.stderr).toBeDefined();
      expect(ours.stderr).toContain(id!);
    }
    // a well-formed .gitmodules goes through both
    const good = (await gitOk(['hash-object', '-w', '--stdin'], { cwd: work, input: '[submodule "lib"]\n\tpath = lib\n\turl = https://example.com/lib.git # comment\n' })).trim();
    const goodTree = (await gitOk(['mktree'], { cwd: work, input: `100644 blob ${good}\t.gitmodules\n` })).trim();
    const goodCommit = (await gitOk(['commit-tree', goodTree, '-p', 'HEAD', '-m', 'fine'], { cwd: work })).trim();
    await gitOk(['push', '-q', cgit, `${goodCommit}:refs/heads/ok`], { cwd: work });
    await gitOk(['push', '-q', 'origin', `${goodCommit}:refs/heads/ok`], { cwd: work });
    expect((await gitOk(['ls-remote', s.gitUrl(repo, s.admin), 'refs/heads/main'])).split('\t')[0]).toBe(before);
    await s.fsck(repo);
  });
});

// A server whose operator let '.git' names through pushes (receive.fsck.hasDotgit=ignore): a REST
// merge must still never build such a tree itself. Merges write through the same one writer as
// updates (service/content/tree.ts writeObjects), so they refuse as an update does.
describe('.git names pushed under a relaxed fsck policy', () => {
  let s: TestServer;
  const auth = () => ({ Authorization: `Bearer ${s.admin}` });
  beforeAll(async () => {
    s = await startTestServer('fs', { GITGATE_FSCK: 'hasDotgit=ignore' });
  });
  afterAll(async () => {
    await s.close();
  });

  it('a REST merge that would write a tree holding .GIT is refused with 400 BAD_PATH and writes nothing', async () => {
    const repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    const work = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(repo, s.admin), work]);
    // the branch adds a root entry '.GIT' (git add refuses the name: built with mktree)
    const a = (await gitOk(['rev-parse', 'HEAD:a.txt'], { cwd: work })).trim();
    const payload = (await gitOk(['hash-object', '-w', '--stdin'], { cwd: work, input: '[core]\n\tfsmonitor = evil\n' })).trim();
    const evilTree = (await gitOk(['mktree'], { cwd: work, input: `100644 blob ${payload}\t.GIT\n100644 blob ${a}\ta.txt\n` })).trim();
    const evil = (await gitOk(['commit-tree', evilTree, '-p', 'HEAD', '-m', 'evil'], { cwd: work })).trim();
    await gitOk(['push', '-q', 'origin', `${evil}:refs/heads/evil`], { cwd: work });
    // main moves on with another root file, so the merge must build a new root tree
    const put = await s.api.put(`/v1/repo/${repo}/file/b.txt`).set(auth()).send('b\n');
    expect(put.status).toBe(200);
    await s.ctx.manager.get(repo).maintenance.idle();
    const main = (await gitOk(['ls-remote', s.gitUrl(repo, s.admin), 'refs/heads/main'])).split('\t')[0];
    const before = await diskState(s, repo);

    const res = await s.api.post(`/v1/repo/${repo}/merge`).set(auth()).send({ base: 'main', head: 'evil', method: 'merge' });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('BAD_PATH');
    expect((await gitOk(['ls-remote', s.gitUrl(repo, s.admin), 'refs/heads/main'])).split('\t')[0]).toBe(main);
    await s.ctx.manager.get(repo).maintenance.idle();
    expect(await diskState(s, repo)).toEqual(before);
    // the pushed '.GIT' is a warning to plain fsck (the operator allowed it), nothing is broken
    await gitOk(['--git-dir', await s.bareRepo(repo), 'fsck', '--full', '--no-dangling']);
  });
});
