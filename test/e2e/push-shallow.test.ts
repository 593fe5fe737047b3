// Pushes from shallow and partial clones, and every other push shape a real client produces,
// each run with real git against gitgate and against C Git's own receive-pack (file://, the
// oracle) from the same starting state: same exit code, same per-ref status lines (refusal
// text included), same refs afterwards; then `git fsck --full` on gitgate's repository.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir, type GitResult } from '../helpers/git.js';
import { ZERO, demux, leftovers, packObjects, rawPush, receiveRequest, rev } from '../helpers/push.js';
import { walkFiles } from '../helpers/storage.js';
import { againstOracle, cgitReceive, seedHistory, twinRemotes, type Twins } from '../helpers/oracle.js';
import { parseReportStatus } from '../../src/protocol/report-status.js';
import { pktText } from '../../src/protocol/pkt-line.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let seed: string;
beforeAll(async () => {
  s = await startTestServer('fs');
  seed = await seedHistory();
});
afterAll(async () => {
  await s.close();
});

/** Clone `url` into `dir`/w with extra clone arguments; returns the work tree. */
async function clone(url: string, dir: string, args: string[], config: string[] = []): Promise<string> {
  const w = path.join(dir, 'w');
  await gitOk([...config.flatMap((c) => ['-c', c]), 'clone', '-q', ...args, url, w]);
  return w;
}

/** Run the scenario on both remotes, expect the same outcome, and a sound gitgate repository. */
async function sameAsCGit(twins: Twins, scenario: (url: string, dir: string) => Promise<GitResult>) {
  const r = await againstOracle(twins, scenario);
  expect(r.gitgate, `gitgate stderr:\n${r.gitgateResult.stderr}\nC Git stderr:\n${r.cgitResult.stderr}`).toEqual(r.cgit);
  await s.fsck(twins.id);
  expect(await leftovers(s, twins.id)).toEqual([]);
  return r;
}

/** Incompressible text, the same on every run (both remotes must see the same objects). */
function noise(bytes: number): string {
  const out: Buffer[] = [];
  for (let i = 0; out.length * 32 < bytes; i++) out.push(crypto.createHash('sha256').update(String(i)).digest());
  return Buffer.concat(out).toString('base64');
}

const push = (w: string, args: string[], env?: Record<string, string>) => git(['push', ...args], { cwd: w, env });

describe('pushes from --depth 1 clones', () => {
  for (const version of ['0', '2']) {
    const config = [`protocol.version=${version}`];

    it(`v${version}: a new branch (the agent flow)`, async () => {
      const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
        const w = await clone(url, dir, ['--depth', '1', '-b', 'main', '--single-branch'], config);
        await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
        return push(w, ['origin', 'HEAD:refs/heads/agent/a1']);
      });
      expect(r.gitgate.code).toBe(0);
      expect(r.gitgate.status).toEqual([' * [new branch]      HEAD -> agent/a1']);
    });

    it(`v${version}: fast-forward of main`, async () => {
      const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
        const w = await clone(url, dir, ['--depth', '1'], config);
        await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
        await commitFiles(w, { 'y.txt': 'y\n' }, 'y');
        return push(w, ['origin', 'main']);
      });
      expect(r.gitgate.code).toBe(0);
    });

    it(`v${version}: forced update (amended tip: a new root, since the clone has no parent)`, async () => {
      const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
        const w = await clone(url, dir, ['--depth', '1'], config);
        await gitOk(['commit', '-q', '--amend', '-m', 'amended'], { cwd: w });
        return push(w, ['--force', 'origin', 'main']);
      });
      expect(r.gitgate.code).toBe(0);
      expect(r.gitgate.status[0]).toMatch(/^\s*\+ \w+\.\.\.\w+ main -> main \(forced update\)$/);
    });

    it(`v${version}: delete a branch`, async () => {
      const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
        const w = await clone(url, dir, ['--depth', '1'], config);
        return push(w, ['origin', '--delete', 'dev']);
      });
      expect(r.gitgate.code).toBe(0);
      expect(r.gitgate.refs).not.toContain('refs/heads/dev');
    });
  }
});

describe('pushes from other shallow and partial clones', () => {
  it('--shallow-since', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--shallow-since=@1700000008', '-b', 'main']);
      expect(fs.readFileSync(path.join(w, '.git/shallow'), 'utf8')).not.toBe('');
      await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
      return push(w, ['origin', 'main', 'HEAD:refs/heads/since']);
    });
    expect(r.gitgate.code).toBe(0);
  });

  it('--shallow-exclude', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--shallow-exclude=v1', '-b', 'main']);
      await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
      return push(w, ['origin', 'main']);
    });
    expect(r.gitgate.code).toBe(0);
  });

  it('after fetch --deepen', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--depth', '1']);
      await gitOk(['fetch', '-q', '--deepen=3'], { cwd: w });
      await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
      return push(w, ['origin', 'HEAD:refs/heads/deeper']);
    });
    expect(r.gitgate.code).toBe(0);
  });

  it('after fetch --unshallow', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--depth', '1']);
      await gitOk(['fetch', '-q', '--unshallow'], { cwd: w });
      await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
      return push(w, ['origin', 'main']);
    });
    expect(r.gitgate.code).toBe(0);
  });

  for (const filter of ['blob:none', 'tree:0']) {
    it(`--filter=${filter} partial clone`, async () => {
      const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
        const w = await clone(url, dir, [`--filter=${filter}`]);
        await commitFiles(w, { 'dir0/file0.txt': 'changed\n' }, 'x');
        return push(w, ['origin', 'main', 'HEAD:refs/heads/partial']);
      });
      expect(r.gitgate.code).toBe(0);
    });
  }

  it('--single-branch clone of dev', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--single-branch', '-b', 'dev']);
      await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
      return push(w, ['origin', 'dev']);
    });
    expect(r.gitgate.code).toBe(0);
  });
});

describe('push options and modes from a shallow clone', () => {
  /** Another agent moves main on by one commit. */
  async function moveMain(url: string, dir: string): Promise<void> {
    const other = await clone(url, path.join(dir, 'other'), ['--depth', '1']);
    await commitFiles(other, { 'other.txt': 'o\n' }, 'other');
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: other });
  }

  it('--force-with-lease refused when main moved since the clone', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--depth', '1']);
      await moveMain(url, dir);
      await gitOk(['commit', '-q', '--amend', '-m', 'amended'], { cwd: w });
      return push(w, ['--force-with-lease=main', 'origin', 'main']);
    });
    expect(r.gitgate.code).not.toBe(0);
    expect(r.gitgate.status[0]).toMatch(/\[rejected\]\s+main -> main \(stale info\)/);
  });

  it('--force-with-lease taken when main is where the clone saw it', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--depth', '1']);
      await gitOk(['commit', '-q', '--amend', '-m', 'amended'], { cwd: w });
      return push(w, ['--force-with-lease=main', 'origin', 'main']);
    });
    expect(r.gitgate.code).toBe(0);
  });

  it('--follow-tags', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--depth', '1']);
      await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
      await gitOk(['tag', '-a', '-m', 'v2', 'v2'], { cwd: w });
      return push(w, ['--follow-tags', 'origin', 'main']);
    });
    expect(r.gitgate.code).toBe(0);
    expect(r.gitgate.refs).toContain('refs/tags/v2');
  });

  it('--mirror from a shallow mirror clone', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const m = path.join(dir, 'm.git');
      await gitOk(['clone', '-q', '--mirror', '--depth', '1', '--no-single-branch', url, m]);
      await gitOk(['branch', '-D', 'dev'], { cwd: m });
      await gitOk(['branch', 'mirrored', 'main'], { cwd: m });
      return git(['push', '--mirror', url], { cwd: m });
    });
    expect(r.gitgate.code).toBe(0);
    expect(r.gitgate.refs).toContain('refs/heads/mirrored');
    expect(r.gitgate.refs).not.toContain('refs/heads/dev');
  });

  it('--prune', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--depth', '1']);
      await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
      await gitOk(['branch', 'extra'], { cwd: w });
      return push(w, ['--prune', 'origin', 'refs/heads/*:refs/heads/*']);
    });
    expect(r.gitgate.code).toBe(0);
    expect(r.gitgate.refs).not.toContain('refs/heads/dev');
  });

  it('--atomic', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--depth', '1']);
      await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
      return push(w, ['--atomic', 'origin', 'main', 'HEAD:refs/heads/atomic']);
    });
    expect(r.gitgate.code).toBe(0);
    expect(r.gitgate.status).toHaveLength(2);
  });

  it('a ref-only push (the pack holds no objects)', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--depth', '1']);
      return push(w, ['origin', 'HEAD:refs/heads/copy', 'HEAD:refs/tags/light']);
    });
    expect(r.gitgate.code).toBe(0);
  });

  it('a chunked request body', async () => {
    const r = await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--depth', '1']);
      // incompressible, past http.postBuffer's floor (one pkt-line, 65520 bytes): git streams it chunked
      await commitFiles(w, { 'big.txt': noise(300_000) }, 'big');
      return git(['-c', 'http.postBuffer=65520', 'push', 'origin', 'main'], { cwd: w, env: { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' } });
    });
    expect(r.gitgate.code).toBe(0);
    expect(r.gitgateResult.stderr).toMatch(/Transfer-Encoding: chunked/i);
  });
});

describe('pushes that would make the repository shallow', () => {
  it('a shallow clone of another repository pushed into an empty one is refused, storing nothing', async () => {
    const id = await s.createRepo();
    const gitgate = s.gitUrl(id, s.admin);
    const cgitDir = path.join(tmpDir('gitgate-oracle-'), 'empty.git');
    await gitOk(['init', '-q', '--bare', '-b', 'main', cgitDir]);
    await gitOk(['config', 'receive.fsckObjects', 'true'], { cwd: cgitDir });
    const twins: Twins = { id, gitgate, cgit: `file://${cgitDir}`, cgitDir };
    const gitdir = s.ctx.manager.gitdirOf(id);
    const before = (await walkFiles(s.ctx.storage, gitdir)).sort();
    const r = await againstOracle(twins, async (url, dir) => {
      const w = await clone(`file://${seed}`, dir, ['--depth', '1', '-b', 'main']);
      return push(w, [url, 'main']);
    });
    expect(r.gitgate).toEqual(r.cgit);
    expect(r.gitgate.code).not.toBe(0);
    expect(r.gitgate.status).toEqual([' ! [remote rejected] main -> main (shallow update not allowed)']);
    expect(r.gitgate.refs).toBe('');
    expect((await walkFiles(s.ctx.storage, gitdir)).sort()).toEqual(before);
  });

  it("refuses a branch built on a shallow commit no ref reaches any more (main was force-pushed away)", async () => {
    await sameAsCGit(await twinRemotes(s, seed), async (url, dir) => {
      const w = await clone(url, dir, ['--depth', '1']);
      const rewriter = await clone(url, path.join(dir, 'rewriter'), ['--depth', '1']);
      await gitOk(['commit', '-q', '--amend', '-m', 'rewritten'], { cwd: rewriter });
      await gitOk(['push', '-q', '--force', 'origin', 'main'], { cwd: rewriter });
      await commitFiles(w, { 'x.txt': 'x\n' }, 'x');
      const r = await push(w, ['origin', 'HEAD:refs/heads/orphaned']);
      expect(r.stderr).toContain('[remote rejected] HEAD -> orphaned (shallow update not allowed)');
      return r;
    });
  });
});

describe('crafted shallow requests, C Git receive-pack as the oracle', () => {
  /** A commit whose parent is not sent: a boundary commit of a shallow client, and the pack holding it (no parent). */
  async function boundaryCommit(): Promise<{ src: string; g: string; pack: Buffer }> {
    const src = path.join(tmpDir(), 'src');
    await gitOk(['init', '-q', '-b', 'main', src]);
    await commitFiles(src, { 'p.txt': 'parent\n' }, 'parent');
    const g = await commitFiles(src, { 'g.txt': 'grafted\n' }, 'grafted');
    const objs = (await gitOk(['rev-list', '--objects', '--no-walk', g, `${g}^{tree}`], { cwd: src })).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
    const tree = (await gitOk(['ls-tree', '-r', g], { cwd: src })).split('\n').filter(Boolean).map((l) => l.split(/\s+/)[2]!);
    return { src, g, pack: await packObjects(src, [...new Set([...objs, ...tree])]) };
  }

  async function bothReports(twins: Twins, body: Buffer, gzip = false) {
    const ours = await rawPush(s, twins.id, body, { gzip });
    const theirs = await parseReportStatus((await demux(await cgitReceive(twins.cgitDir, body))).data);
    return { ours, theirs };
  }

  it('attacker: a boundary commit without its parent is never stored, so a later ref-only push cannot point at it', async () => {
    const twins = await twinRemotes(s, seed);
    const { g, pack } = await boundaryCommit();
    const first = receiveRequest([{ old: ZERO, new: g, ref: 'refs/heads/evil' }], pack);
    const withShallow = Buffer.concat([pktText(`shallow ${g}\n`), first]);
    const one = await bothReports(twins, withShallow);
    expect(one.ours.report).toEqual(one.theirs);
    expect(one.ours.report?.refs).toEqual([{ ref: 'refs/heads/evil', ok: false, reason: 'shallow update not allowed' }]);

    const refOnly = receiveRequest([{ old: ZERO, new: g, ref: 'refs/heads/evil2' }], await packObjects(seed, []));
    const two = await bothReports(twins, refOnly);
    expect(two.ours.report).toEqual(two.theirs);
    expect(two.ours.report?.refs[0]).toMatchObject({ ok: false, reason: 'missing necessary objects' });
    expect(await s.ctx.manager.get(twins.id).objects.has(g)).toBe(false);
    await s.fsck(twins.id);
  });

  it('the same pack without the shallow line is a broken pack, as in C Git', async () => {
    const twins = await twinRemotes(s, seed);
    const { g, pack } = await boundaryCommit();
    const { ours, theirs } = await bothReports(twins, receiveRequest([{ old: ZERO, new: g, ref: 'refs/heads/evil' }], pack));
    expect(theirs.unpack).not.toBe('ok');
    expect(ours.report?.unpack).not.toBe('ok');
    expect(ours.report?.refs).toEqual(theirs.refs);
  });

  it('a gzip body with shallow lines: the same report as C Git', async () => {
    const twins = await twinRemotes(s, seed);
    const w = await clone(twins.gitgate, tmpDir(), ['--depth', '1']);
    const base = await rev(w, 'HEAD');
    const c = await commitFiles(w, { 'z.txt': 'z\n' }, 'z');
    const pack = await packObjects(w, [c, await rev(w, 'HEAD^{tree}'), await rev(w, 'HEAD:z.txt')]);
    const body = Buffer.concat([pktText(`shallow ${base}\n`), receiveRequest([{ old: base, new: c, ref: 'refs/heads/main' }], pack)]);
    const { ours, theirs } = await bothReports(twins, body, true);
    expect(ours.status).toBe(200);
    expect(ours.report).toEqual(theirs);
    expect(ours.report?.refs).toEqual([{ ref: 'refs/heads/main', ok: true }]);
    await s.fsck(twins.id);
  });

  it('a push certificate is refused per ref, changing nothing (push-cert is not advertised)', async () => {
    const twins = await twinRemotes(s, seed);
    const main = (await gitOk(['rev-parse', 'main'], { cwd: seed })).trim();
    const ad = await s.api.get(`/v1/repo/${twins.id}.git/info/refs?service=git-receive-pack`).set('Authorization', `Bearer ${s.admin}`);
    expect(ad.text).not.toContain('push-cert');
    const cert = ['certificate version 0.1', 'pusher T <t@example.com> 0 +0000', '', `${main} ${ZERO} refs/heads/dev`];
    const body = Buffer.concat([
      pktText('push-cert\0report-status side-band-64k'),
      ...cert.map((l) => pktText(`${l}\n`)),
      pktText('-----BEGIN PGP SIGNATURE-----\n'),
      pktText('push-cert-end\n'),
      Buffer.from('0000'),
    ]);
    const ours = await rawPush(s, twins.id, body);
    expect(ours.status).toBe(200);
    expect(ours.report?.refs).toEqual([{ ref: 'refs/heads/dev', ok: false, reason: 'push certificate not supported' }]);
    expect((await gitOk(['ls-remote', twins.gitgate])).includes('refs/heads/dev')).toBe(true);
  });
});
