// A repository with 20,000 tags (a third annotated, the rest lightweight), served by gitgate
// and by C Git (file://, the oracle) from the same history: both advertise the same refs (v0,
// and v2 with ref-prefix), clone and fetch the same, follow the same tags on `--depth 1`, and
// take the same push moving 1,000 of them. `git fsck --full` on gitgate's repository after.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, gitOk, tmpDir } from '../helpers/git.js';
import { againstOracle, type Twins } from '../helpers/oracle.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const GROUPS = 20;
const PER_GROUP = 1000;
const COMMITS = 400;

let s: TestServer;
let src: string;
let twins: Twins;

/** fast-import stream: COMMITS commits on main, then GROUPS × PER_GROUP tags g<g>/t<n> on them. */
function history(): string {
  const out: string[] = [];
  const data = (text: string) => out.push(`data ${Buffer.byteLength(text)}`, text);
  for (let i = 1; i <= COMMITS; i++) {
    out.push('commit refs/heads/main', `mark :${i}`, `committer Test User <test@example.com> ${1_700_000_000 + i} +0000`);
    data(`commit ${i}\n`);
    out.push(`M 100644 inline file${i % 7}.txt`);
    data(`file ${i % 7}\n${'a line that stays the same\n'.repeat(30)}version ${i}\n`);
    out.push('');
  }
  for (let g = 0; g < GROUPS; g++) {
    for (let n = 0; n < PER_GROUP; n++) {
      const name = `g${String(g).padStart(2, '0')}/t${String(n).padStart(4, '0')}`;
      const mark = ((g * PER_GROUP + n) % COMMITS) + 1;
      if (n % 3 === 0) {
        out.push(`tag ${name}`, `from :${mark}`, `tagger Test User <test@example.com> ${1_700_100_000 + n} +0000`);
        data(`release ${name}\n`);
      } else {
        out.push(`reset refs/tags/${name}`, `from :${mark}`, '');
      }
    }
  }
  // tags on the tip, followed by a --depth 1 clone of main
  out.push('tag tip-annotated', `from :${COMMITS}`, 'tagger Test User <test@example.com> 1700200000 +0000');
  data('the tip\n');
  out.push('reset refs/tags/tip-light', `from :${COMMITS}`, '');
  return `${out.join('\n')}\n`;
}

/** "<oid> <ref>" lines of a repository's heads and tags (peeled tags included). */
async function refsOf(gitDir: string): Promise<string> {
  return gitOk(['--git-dir', gitDir, 'show-ref', '--heads', '--tags', '-d']);
}

beforeAll(async () => {
  s = await startTestServer('fs');
  src = path.join(tmpDir('gitgate-many-refs-'), 'src');
  await gitOk(['init', '-q', '-b', 'main', src]);
  const r = await git(['fast-import', '--quiet'], { cwd: src, input: history() });
  if (r.code !== 0) throw new Error(`fast-import failed: ${r.stderr}`);
  await gitOk(['pack-refs', '--all'], { cwd: src });
  twins = await seededTwins(src);
}, 600_000);

/**
 * Both remotes start as copies of the source (its pack and packed-refs, as after an import on
 * the server): a first push of 20,000 refs over HTTP costs git's client minutes, matching every
 * ref against 20,000 refspecs, and is not what is tested here.
 */
async function seededTwins(from: string): Promise<Twins> {
  const copy = path.join(tmpDir('gitgate-many-refs-copy-'), 'copy.git');
  await gitOk(['clone', '-q', '--bare', from, copy]);
  const id = await s.createRepo();
  const gitdir = s.ctx.manager.gitdirOf(id);
  fs.cpSync(path.join(copy, 'objects', 'pack'), path.join(gitdir, 'objects', 'pack'), { recursive: true });
  fs.copyFileSync(path.join(copy, 'packed-refs'), path.join(gitdir, 'packed-refs'));
  const cgitDir = path.join(tmpDir('gitgate-oracle-'), 'oracle.git');
  await gitOk(['clone', '-q', '--bare', from, cgitDir]);
  await gitOk(['config', 'receive.fsckObjects', 'true'], { cwd: cgitDir });
  return { id, gitgate: s.gitUrl(id, s.admin), cgit: `file://${cgitDir}`, cgitDir };
}
afterAll(async () => {
  await s?.close();
});

describe('a repository with 20,000 tags', () => {
  it('advertises exactly what C Git advertises (v0, peeled tags included)', async () => {
    const ours = await gitOk(['-c', 'protocol.version=0', 'ls-remote', twins.gitgate]);
    const theirs = await gitOk(['-c', 'protocol.version=0', 'ls-remote', twins.cgit]);
    expect(ours.split('\n').length).toBeGreaterThan(GROUPS * PER_GROUP);
    expect(ours).toEqual(theirs);
  }, 120_000);

  it('answers v2 ls-refs with exactly the refs under each ref-prefix', async () => {
    // git ls-remote --heads sends "ref-prefix refs/heads/": the server must not send the tags
    const trace = await git(['-c', 'protocol.version=2', 'ls-remote', '--heads', twins.gitgate], { env: { GIT_TRACE_PACKET: '1' } });
    expect(trace.code).toBe(0);
    expect(trace.stderr).toMatch(/ [a-z-]+> ref-prefix refs\/heads\/\n/);
    const received = trace.stderr.split('\n').filter((l) => / [a-z-]+< [0-9a-f]{40} /.test(l));
    expect(received.some((l) => l.includes(' refs/heads/main'))).toBe(true);
    expect(received.filter((l) => l.includes('refs/tags/'))).toEqual([]);

    for (const args of [['--tags'], ['--heads'], ['--tags', '--heads'], ['--symref']]) {
      const ours = await gitOk(['-c', 'protocol.version=2', 'ls-remote', ...args, twins.gitgate]);
      const theirs = await gitOk(['-c', 'protocol.version=2', 'ls-remote', ...args, twins.cgit]);
      expect(ours, args.join(' ')).toEqual(theirs);
    }
    // a fetch of one group: ref-prefix refs/tags/g07/, the same 1,000 tags as from C Git
    const fetched: string[] = [];
    for (const url of [twins.gitgate, twins.cgit]) {
      const dir = path.join(tmpDir('gitgate-many-refs-fetch-'), 'c.git');
      await gitOk(['init', '-q', '--bare', dir]);
      await gitOk(['--git-dir', dir, '-c', 'protocol.version=2', 'fetch', '-q', '--no-tags', url, 'refs/tags/g07/*:refs/tags/g07/*']);
      fetched.push(await refsOf(dir));
    }
    expect(fetched[0]!.split('\n').filter((l) => l.includes('refs/tags/g07/') && !l.endsWith('^{}')).length).toBe(PER_GROUP);
    expect(fetched[0]).toEqual(fetched[1]);
  }, 180_000);

  for (const version of ['0', '2']) {
    it(`v${version}: a --depth 1 clone follows the tags on its commit, as C Git's does`, async () => {
      const refs: string[] = [];
      for (const url of [twins.gitgate, twins.cgit]) {
        const dir = path.join(tmpDir('gitgate-many-refs-shallow-'), 'c.git');
        await gitOk(['-c', `protocol.version=${version}`, 'clone', '-q', '--bare', '--depth', '1', url, dir]);
        await gitOk(['--git-dir', dir, 'fsck', '--full', '--no-dangling']);
        refs.push(await refsOf(dir));
      }
      expect(refs[0]).toContain('refs/tags/tip-annotated');
      expect(refs[0]).toContain('refs/tags/tip-light');
      expect(refs[0]).toEqual(refs[1]);
    }, 120_000);
  }

  it('clones, then fetches a new commit and tag, like C Git', async () => {
    const dirs: string[] = [];
    for (const url of [twins.gitgate, twins.cgit]) {
      const dir = path.join(tmpDir('gitgate-many-refs-clone-'), 'c.git');
      await gitOk(['clone', '-q', '--mirror', url, dir]);
      dirs.push(dir);
    }
    expect(await refsOf(dirs[0]!)).toEqual(await refsOf(dirs[1]!));

    // one more commit and one more annotated tag on both remotes, then a fetch
    const r = await git(['fast-import', '--quiet'], {
      cwd: src,
      input: ['commit refs/heads/main', 'committer Test User <test@example.com> 1700300000 +0000', 'data 4', 'next',
        'from refs/heads/main^0', 'M 100644 inline new.txt', 'data 4', 'new', '',
        'tag later', 'from refs/heads/main', 'tagger Test User <test@example.com> 1700300001 +0000', 'data 6', 'later', ''].join('\n') + '\n',
    });
    expect(r.stderr).toBe('');
    for (const url of [twins.gitgate, twins.cgit]) await gitOk(['push', '-q', url, 'main', 'refs/tags/later'], { cwd: src });
    for (const [i, url] of [twins.gitgate, twins.cgit].entries()) {
      await gitOk(['--git-dir', dirs[i]!, 'fetch', '-q', url, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']);
    }
    expect(await refsOf(dirs[0]!)).toEqual(await refsOf(dirs[1]!));
    expect(await refsOf(dirs[0]!)).toContain('refs/tags/later');
    await gitOk(['--git-dir', dirs[0]!, 'fsck', '--full', '--no-dangling']);
  }, 300_000);

  it('takes a push moving 1,000 tags exactly as C Git does', async () => {
    // move every tag of group 05 (a third annotated: new tag objects) to main's tip
    const lines: string[] = [];
    for (let n = 0; n < PER_GROUP; n++) {
      const name = `g05/t${String(n).padStart(4, '0')}`;
      if (n % 3 === 0) {
        const msg = `moved ${name}\n`;
        lines.push(`tag ${name}`, 'from refs/heads/main', 'tagger Test User <test@example.com> 1700400000 +0000', `data ${msg.length}`, msg);
      } else lines.push(`reset refs/tags/${name}`, 'from refs/heads/main', '');
    }
    const r = await git(['fast-import', '--quiet', '--force'], { cwd: src, input: `${lines.join('\n')}\n` });
    expect(r.stderr).toBe('');
    const result = await againstOracle(twins, (url) => git(['push', '--force', url, 'refs/tags/g05/*:refs/tags/g05/*'], { cwd: src }));
    expect(result.gitgate.status.length).toBe(PER_GROUP);
    expect(result.gitgate, `gitgate stderr:\n${result.gitgateResult.stderr.slice(0, 2000)}`).toEqual(result.cgit);
    await s.fsck(twins.id);
  }, 300_000);
});
