// Every fetch capability through real git, on protocol v0 and v2 and both storages.
import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, git as runGit, gitOk, tmpDir } from '../helpers/git.js';
import { STORAGE_KINDS, startTestServer, type TestServer, useTestServer } from '../helpers/server.js';

interface Fixture {
  id: string;
  url: string;
  commits: string[]; // main, oldest first
  dates: number[];
  devTip: string;
  tagged: string; // commit tagged v1.0 (annotated) and light (lightweight)
  work: string;
}

/** A repository with 12 commits on main at one-day steps, a dev branch, tags and a 64 KiB blob. */
async function buildFixture(s: TestServer): Promise<Fixture> {
  const id = await s.createRepo();
  const url = s.gitUrl(id, s.admin);
  const work = path.join(tmpDir(), 'fixture');
  await gitOk(['init', '-q', '-b', 'main', work]);
  const commits: string[] = [];
  const dates: number[] = [];
  for (let i = 1; i <= 12; i++) {
    const date = `2026-01-${String(i).padStart(2, '0')}T12:00:00Z`;
    const env = { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
    fs.mkdirSync(path.join(work, 'src', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(work, 'src', `f${i % 4}.txt`), `line ${i}\n`.repeat(50 + i));
    fs.writeFileSync(path.join(work, 'src', 'deep', 'x.txt'), `deep ${i}\n`);
    if (i === 3) fs.writeFileSync(path.join(work, 'big.bin'), Buffer.alloc(64 * 1024, 7));
    await gitOk(['add', '-A'], { cwd: work });
    await gitOk(['commit', '-q', '-m', `commit ${i}`], { cwd: work, env });
    commits.push((await gitOk(['rev-parse', 'HEAD'], { cwd: work })).trim());
    dates.push(Date.parse(date) / 1000);
  }
  const tagged = commits[5]!;
  await gitOk(['tag', '-a', '-m', 'version one', 'v1.0', tagged], { cwd: work });
  await gitOk(['tag', 'light', tagged], { cwd: work });
  await gitOk(['checkout', '-q', '-b', 'dev', commits[7]!], { cwd: work });
  const devTip = await commitFiles(work, { 'dev.txt': 'dev\n' }, 'on dev');
  await gitOk(['checkout', '-q', 'main'], { cwd: work });
  await gitOk(['push', '-q', url, 'main', 'dev', '--tags'], { cwd: work });
  return { id, url, commits, dates, devTip, tagged, work };
}

async function count(cwd: string): Promise<number> {
  return Number((await gitOk(['rev-list', '--count', 'HEAD'], { cwd })).trim());
}

async function fsck(dir: string): Promise<void> {
  await gitOk(['fsck', '--full', '--no-dangling'], { cwd: dir });
}

describe.each(STORAGE_KINDS.flatMap((k) => [0, 2].map((v) => [k, v] as const)))('fetch (%s storage, protocol v%s)', (kind, version) => {
  let s: TestServer;
  let fx: Fixture;
  const g = (args: string[], cwd?: string) => gitOk(['-c', `protocol.version=${version}`, ...args], { cwd });
  beforeAll(async () => {
    s = await startTestServer(kind);
    fx = await buildFixture(s);
  });
  afterAll(async () => {
    await s.close();
  });

  it('clones fully and lists refs with peeled tags and the HEAD symref', async () => {
    const dir = path.join(tmpDir(), 'full');
    await g(['clone', '-q', fx.url, dir]);
    expect(await count(dir)).toBe(12);
    expect((await gitOk(['rev-parse', 'origin/dev'], { cwd: dir })).trim()).toBe(fx.devTip);
    await fsck(dir);
    const ls = await g(['ls-remote', '--symref', fx.url]);
    expect(ls).toContain('ref: refs/heads/main\tHEAD');
    expect(ls).toContain(`${fx.tagged}\trefs/tags/v1.0^{}`);
    expect(ls).toContain(`${fx.tagged}\trefs/tags/light`);
    expect(ls).not.toContain('refs/tags/light^{}');
  });

  it('clones --depth 1 and --depth 5, deepens, and unshallows', async () => {
    const d1 = path.join(tmpDir(), 'd1');
    await g(['clone', '-q', '--depth', '1', fx.url, d1]);
    expect(await count(d1)).toBe(1);
    expect(fs.readFileSync(path.join(d1, '.git', 'shallow'), 'utf8').trim()).toBe(fx.commits[11]);
    await fsck(d1);
    const d5 = path.join(tmpDir(), 'd5');
    await g(['clone', '-q', '--depth', '5', fx.url, d5]);
    expect(await count(d5)).toBe(5);
    await fsck(d5);
    await g(['fetch', '-q', '--deepen', '3'], d1);
    expect(await count(d1)).toBe(4);
    await fsck(d1);
    await g(['fetch', '-q', '--unshallow'], d1);
    expect(await count(d1)).toBe(12);
    expect(fs.existsSync(path.join(d1, '.git', 'shallow'))).toBe(false);
    await fsck(d1);
  });

  it('clones with --shallow-since and --shallow-exclude', async () => {
    const since = path.join(tmpDir(), 'since');
    await g(['clone', '-q', '--shallow-since', String(fx.dates[8]! - 60), fx.url, since]);
    expect(await count(since)).toBe(4); // commits 9..12
    await fsck(since);
    const excl = path.join(tmpDir(), 'excl');
    await g(['clone', '-q', '--shallow-exclude', 'v1.0', fx.url, excl]);
    expect(await count(excl)).toBe(6); // commits 7..12
    await fsck(excl);
  });

  it('serves a blob:none partial clone whose checkout fetches the missing blobs lazily', async () => {
    const dir = path.join(tmpDir(), 'partial');
    await g(['clone', '-q', '--filter=blob:none', '--no-checkout', fx.url, dir]);
    const missing = await gitOk(['rev-list', '--objects', '--missing=print', 'HEAD'], { cwd: dir });
    expect(missing.split('\n').filter((l) => l.startsWith('?')).length).toBeGreaterThan(5);
    await g(['checkout', '-q', 'main'], dir);
    expect(fs.readFileSync(path.join(dir, 'src', 'deep', 'x.txt'), 'utf8')).toBe('deep 12\n');
    expect(fs.statSync(path.join(dir, 'big.bin')).size).toBe(64 * 1024);
    await fsck(dir);
  });

  it('honours blob:limit and tree:0', async () => {
    const lim = path.join(tmpDir(), 'limit');
    await g(['clone', '-q', '--filter=blob:limit=4k', '--no-checkout', fx.url, lim]);
    const missing = (await gitOk(['rev-list', '--objects', '--missing=print', 'HEAD'], { cwd: lim }))
      .split('\n')
      .filter((l) => l.startsWith('?'))
      .map((l) => l.slice(1));
    const bigOid = (await gitOk(['rev-parse', 'HEAD:big.bin'], { cwd: fx.work })).trim();
    const smallOid = (await gitOk(['rev-parse', 'HEAD:src/deep/x.txt'], { cwd: fx.work })).trim();
    expect(missing).toContain(bigOid);
    expect(missing).not.toContain(smallOid);
    const t0 = path.join(tmpDir(), 'tree0');
    await g(['clone', '-q', '--filter=tree:0', '--no-checkout', fx.url, t0]);
    const rootTree = (await gitOk(['rev-parse', 'HEAD^{tree}'], { cwd: fx.work })).trim();
    const t0missing = await gitOk(['rev-list', '--objects', '--missing=print', 'HEAD'], { cwd: t0 });
    expect(t0missing).toContain(`?${rootTree}`);
    await g(['checkout', '-q', 'main'], t0);
    expect(fs.readFileSync(path.join(t0, 'src', 'deep', 'x.txt'), 'utf8')).toBe('deep 12\n');
    await fsck(lim);
    await fsck(t0);
  });

  it('clones a single branch, mirrors, and fetches an exact commit id', async () => {
    const single = path.join(tmpDir(), 'single');
    await g(['clone', '-q', '--single-branch', '-b', 'dev', fx.url, single]);
    expect((await gitOk(['rev-parse', 'HEAD'], { cwd: single })).trim()).toBe(fx.devTip);
    expect(await gitOk(['branch', '-r'], { cwd: single })).not.toContain('origin/main');
    await fsck(single);
    const mirror = path.join(tmpDir(), 'mirror.git');
    await g(['clone', '-q', '--mirror', fx.url, mirror]);
    const refs = await gitOk(['for-each-ref', '--format=%(refname)'], { cwd: mirror });
    expect(refs.split('\n').filter(Boolean).sort()).toEqual(['refs/heads/dev', 'refs/heads/main', 'refs/tags/light', 'refs/tags/v1.0']);
    await gitOk(['fsck', '--full'], { cwd: mirror });
    const exact = path.join(tmpDir(), 'exact');
    await gitOk(['init', '-q', exact]);
    await g(['fetch', '-q', fx.url, fx.commits[3]!], exact);
    expect((await gitOk(['rev-parse', 'FETCH_HEAD'], { cwd: exact })).trim()).toBe(fx.commits[3]);
    await fsck(exact);
  });

  it('sends annotated tags by include-tag when fetching the branch they point into', async () => {
    const dir = path.join(tmpDir(), 'inctag');
    await gitOk(['init', '-q', dir]);
    await g(['fetch', '-q', fx.url, 'refs/heads/main:refs/remotes/o/main'], dir);
    const tagOid = (await gitOk(['rev-parse', 'v1.0'], { cwd: fx.work })).trim();
    expect((await gitOk(['cat-file', '-t', tagOid], { cwd: dir })).trim()).toBe('tag');
  });

  it('sends only what the client lacks in an incremental fetch, and nothing on a no-op fetch', async () => {
    const dir = path.join(tmpDir(), 'incr');
    await g(['clone', '-q', fx.url, dir]);
    const before = await looseCount(dir);
    const writer = path.join(tmpDir(), 'writer');
    await g(['clone', '-q', fx.url, writer]);
    await commitFiles(writer, { 'src/f1.txt': 'changed\n' }, 'one more');
    await g(['push', '-q', 'origin', 'main'], writer);
    await g(['fetch', '-q', 'origin'], dir);
    expect((await looseCount(dir)) - before).toBe(4); // commit, root tree, src tree, blob
    await fsck(dir);
    const noop = await runGit(['-c', `protocol.version=${version}`, 'fetch', 'origin'], { cwd: dir });
    expect(noop.code).toBe(0);
    expect(await looseCount(dir)).toBe(before + 4);
    // restore the fixture for the other tests
    await gitOk(['push', '-q', '--force', fx.url, `${fx.commits[11]}:refs/heads/main`], { cwd: fx.work });
  });
});

async function looseCount(dir: string): Promise<number> {
  const out = await gitOk(['count-objects', '-v'], { cwd: dir });
  return Number(/^count: (\d+)/m.exec(out)![1]);
}

describe('other clients', () => {
  let s: TestServer;
  useTestServer('memory', (started) => (s = started));

  it('isomorphic-git clones over HTTP', async () => {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a/b.txt', content: 'iso\n' }] } });
    const dir = tmpDir();
    await git.clone({ fs, http, dir, url: `${s.url}/v1/repo/${id}.git`, onAuth: () => ({ username: 'token', password: s.admin }) });
    expect(fs.readFileSync(path.join(dir, 'a', 'b.txt'), 'utf8')).toBe('iso\n');
    await fsck(dir);
  });
});
