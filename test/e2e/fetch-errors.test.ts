// Malformed fetch requests on v0 and v2 get clear errors and the server keeps serving.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELIM, FLUSH, pktText } from '../../src/protocol/pkt-line.js';
import { binary } from '../helpers/binary.js';
import { git as runGit, gitOk, tmpDir } from '../helpers/git.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('fetch error handling', () => {
  let s: TestServer;
  let repo: string;
  let head: string;
  beforeAll(async () => {
    s = await startTestServer('fs');
    repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    head = (await gitOk(['ls-remote', s.gitUrl(repo, s.admin), 'refs/heads/main'])).split('\t')[0]!;
  });
  afterAll(async () => {
    await s.close();
  });

  function post(body: Buffer, v2: boolean) {
    const req = s.api
      .post(`/v1/repo/${repo}.git/git-upload-pack`)
      .set('Authorization', `Bearer ${s.admin}`)
      .set('Content-Type', 'application/x-git-upload-pack-request');
    if (v2) req.set('Git-Protocol', 'version=2');
    return req.send(body).buffer(true).parse(binary);
  }
  const v2fetch = (...args: string[]) =>
    Buffer.concat([pktText('command=fetch'), pktText('object-format=sha1'), DELIM, ...args.map((a) => pktText(a)), FLUSH]);
  const v0 = (...lines: string[]) => Buffer.concat([...lines.map((l) => (l === '' ? FLUSH : pktText(l)))]);

  it.each([
    ['v0 unknown want', false, (_h: string) => v0(`want ${'d'.repeat(40)} side-band-64k`, '', 'done'), /not our ref/],
    ['v0 bad filter', false, (h: string) => v0(`want ${h} filter side-band-64k`, 'filter blob:whatever', '', 'done'), /invalid filter-spec/],
    ['v0 bad deepen', false, (h: string) => v0(`want ${h} side-band-64k`, 'deepen zero', '', 'done'), /deepen/],
    ['v0 deepen with deepen-since', false, (h: string) => v0(`want ${h} side-band-64k`, 'deepen 1', 'deepen-since 5', '', 'done'), /cannot be used together/],
    ['v0 garbage', false, (_h: string) => Buffer.from('00zzgarbage'), /Protocol error/],
    ['v0 sha256 client', false, (h: string) => v0(`want ${h} side-band-64k object-format=sha256`, '', 'done'), /unsupported object-format=sha256/],
    ['v2 unknown command', true, (_h: string) => Buffer.concat([pktText('command=frobnicate'), DELIM, FLUSH]), /invalid command/],
    ['v2 unknown want', true, (_h: string) => v2fetch(`want ${'e'.repeat(40)}`, 'done'), /not our ref/],
    ['v2 bad filter', true, (h: string) => v2fetch(`want ${h}`, 'filter tree:x', 'done'), /invalid filter-spec/],
    ['v2 bad deepen', true, (h: string) => v2fetch(`want ${h}`, 'deepen -3', 'done'), /Invalid deepen/],
    ['v2 unknown want-ref', true, (_h: string) => v2fetch('want-ref refs/heads/nope', 'done'), /unknown ref/],
    ['v2 truncated', true, (_h: string) => Buffer.from('0014command=fetch\n00'), /Protocol error/],
  ])('%s → a clear error', async (_name, isV2, body, message) => {
    const res = await post(body(head), isV2);
    const text = res.body.toString();
    expect(text).toMatch(message);
    // Malformed framing is an HTTP 400; refusals of well-formed requests are ERR packets, as in C Git.
    if (res.status === 200) expect(text).toMatch(/^[0-9a-f]{4}ERR /);
    else expect(res.status).toBe(400);
  });

  it('answers thousands of repeated want-refs with one wanted-refs line per ref', async () => {
    const tags = Array.from({ length: 20 }, (_, i) => `refs/tags/t${i}`);
    const w = path.join(tmpDir(), 'tags');
    await gitOk(['clone', '-q', s.gitUrl(repo, s.admin), w]);
    for (const t of tags) await gitOk(['tag', t.slice('refs/tags/'.length)], { cwd: w });
    await gitOk(['push', '-q', 'origin', '--tags'], { cwd: w });
    const repeated = Array.from({ length: 20_000 }, (_, i) => `want-ref ${i % 3 === 0 ? 'refs/heads/main' : tags[i % 20]}`);
    const res = await post(v2fetch('no-progress', ...repeated, 'done'), true);
    expect(res.status).toBe(200);
    const text: string = (res.body as Buffer).toString('latin1');
    const wanted = text.slice(text.indexOf('wanted-refs'), text.indexOf('packfile')).match(/[0-9a-f]{40} refs\/\S+/g) ?? [];
    // 21 distinct names: resolved through one ref listing
    expect(wanted.map((l) => l.slice(41)).sort()).toEqual(['refs/heads/main', ...tags].sort());
    expect(new Set(wanted.map((l) => l.slice(0, 40)))).toEqual(new Set([head]));
  });

  it('shows the refusal to a git user as a remote error', async () => {
    const dir = path.join(tmpDir(), 'unknown');
    await gitOk(['init', '-q', dir]);
    for (const v of ['0', '2']) {
      const r = await runGit(['-c', `protocol.version=${v}`, 'fetch', s.gitUrl(repo, s.admin), 'f'.repeat(40)], { cwd: dir });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/remote error: upload-pack: not our ref f{40}/);
    }
  });

  it('reports a failure after the pack started on side-band 3, and git shows it', async () => {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'doomed.txt', content: 'soon unreadable\n' }] } });
    const work = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), work]);
    const blob = (await gitOk(['rev-parse', 'HEAD:doomed.txt'], { cwd: work })).trim();
    // REST commits are loose objects: damage the blob so reading it fails mid-pack.
    const file = path.join(s.ctx.manager.gitdirOf(id), 'objects', blob.slice(0, 2), blob.slice(2));
    fs.chmodSync(file, 0o644);
    fs.writeFileSync(file, Buffer.from('not zlib at all'));
    for (const v of ['0', '2']) {
      const r = await runGit(['-c', `protocol.version=${v}`, 'clone', s.gitUrl(id, s.admin), path.join(tmpDir(), 'c')]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/remote: .*(corrupt|internal error)/i);
    }
  });

  it('keeps serving clones afterwards', async () => {
    const dir = path.join(tmpDir(), 'after');
    await gitOk(['clone', '-q', s.gitUrl(repo, s.admin), dir]);
    await gitOk(['fsck', '--full'], { cwd: dir });
  });

  it('answers v2 ls-refs with symrefs, peel and unborn, and the v2 advertisement', async () => {
    const adv = await s.api
      .get(`/v1/repo/${repo}.git/info/refs?service=git-upload-pack`)
      .set('Authorization', `Bearer ${s.admin}`)
      .set('Git-Protocol', 'version=2')
      .buffer(true)
      .parse(binary);
    expect(adv.body.toString()).toMatch(/^000eversion 2\n/);
    expect(adv.body.toString()).toContain('ls-refs=unborn');
    const empty = await s.createRepo();
    const res = await s.api
      .post(`/v1/repo/${empty}.git/git-upload-pack`)
      .set('Authorization', `Bearer ${s.admin}`)
      .set('Content-Type', 'application/x-git-upload-pack-request')
      .set('Git-Protocol', 'version=2')
      .send(Buffer.concat([pktText('command=ls-refs'), DELIM, pktText('symrefs'), pktText('unborn'), FLUSH]))
      .buffer(true)
      .parse(binary);
    expect(res.body.toString()).toContain('unborn HEAD symref-target:refs/heads/main');
  });
});
