// Crafted receive-pack requests: every broken, malicious or stale push gets a clear error,
// leaves the refs as they were, leaves no temporary or lock files, and `git fsck --full` stays
// clean. Good requests in unusual shapes (gzip, no side-band, report-status-v2) work.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FLUSH, pktText } from '../../src/protocol/pkt-line.js';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import {
  DEFAULT_CAPS,
  ZERO,
  leftovers,
  packObjects,
  packRevs,
  rawPush,
  receiveRequest,
  refLines,
  rev,
  type RawPushResult,
} from '../helpers/push.js';
import { STORAGE_KINDS, startTestServer, type TestServer } from '../helpers/server.js';

const MAIN = 'refs/heads/main';

/** The pack with its SHA-1 trailer recomputed (so only the tampered content is wrong). */
function retrail(pack: Buffer): Buffer {
  const body = pack.subarray(0, pack.length - 20);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

describe.each(STORAGE_KINDS)('crafted receive-pack requests (%s storage)', (kind) => {
  let s: TestServer;
  let id: string;
  let w: string;
  let base: string;
  let c1: string;
  let goodPack: Buffer;
  let refsBefore: string;

  beforeAll(async () => {
    s = await startTestServer(kind);
    id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), w]);
    base = await rev(w, 'HEAD');
    c1 = await commitFiles(w, { 'b.txt': 'b\n', 'dir/c.txt': 'c\n' }, 'new work');
    goodPack = await packRevs(w, [c1, `^${base}`]);
  });
  afterAll(async () => {
    await s.close();
  });
  beforeEach(async () => {
    refsBefore = await refLines(s, id);
  });

  /** The request changed nothing and left nothing behind. */
  async function unchanged(): Promise<void> {
    expect(await refLines(s, id)).toBe(refsBefore);
    expect(await leftovers(s, id)).toEqual([]);
    await s.fsck(id);
  }

  function expectRefused(r: RawPushResult, unpack: RegExp | 'ok', reason: RegExp): void {
    expect(r.status).toBe(200);
    expect(r.report, r.body.toString()).not.toBeNull();
    if (unpack === 'ok') expect(r.report!.unpack).toBe('ok');
    else expect(r.report!.unpack).toMatch(unpack);
    expect(r.report!.refs.length).toBeGreaterThan(0);
    for (const ref of r.report!.refs) {
      expect(ref.ok).toBe(false);
      expect(ref.reason).toMatch(reason);
    }
  }

  const update = (pack: Buffer | null, cmds = [{ old: base, new: c1, ref: MAIN }], caps?: string[]) =>
    rawPush(s, id, receiveRequest(cmds, pack, { caps }), {});

  it('accepts a well-formed push (the baseline the other cases break)', async () => {
    const branch = `refs/heads/ok-${kind}`;
    const r = await update(goodPack, [{ old: ZERO, new: c1, ref: branch }]);
    expect(r.report).toEqual({ unpack: 'ok', refs: [{ ref: branch, ok: true }] });
    expect(await refLines(s, id)).toContain(`${c1} ${branch}`);
    const del = await update(null, [{ old: c1, new: ZERO, ref: branch }]);
    expect(del.report).toEqual({ unpack: 'ok', refs: [{ ref: branch, ok: true }] });
    await unchanged();
  });

  it('refuses a truncated pack', async () => {
    for (const cut of [goodPack.length - 1, goodPack.length - 21, Math.floor(goodPack.length / 2), 20, 11]) {
      const r = await update(goodPack.subarray(0, cut));
      expectRefused(r, /^Invalid pack: .*(truncated|checksum)/, /^unpacker error$/);
    }
    await unchanged();
  });

  it('refuses a pack with a wrong checksum', async () => {
    const bad = Buffer.from(goodPack);
    bad[bad.length - 1] ^= 0xff;
    const r = await update(bad);
    expectRefused(r, /^Invalid pack: pack checksum mismatch$/, /^unpacker error$/);
    await unchanged();
  });

  it('refuses a pack with undecodable object data (valid checksum)', async () => {
    const bad = Buffer.from(goodPack);
    for (let i = 40; i < bad.length - 30; i += 7) bad[i] ^= 0x55;
    const r = await update(retrail(bad));
    expectRefused(r, /^Invalid pack: /, /^unpacker error$/);
    await unchanged();
  });

  it('refuses malformed objects, as receive.fsckObjects does', async () => {
    const tree = (await gitOk(['rev-parse', `${c1}^{tree}`], { cwd: w })).trim();
    const cases = [
      `tree ${tree}\nauthor A <a@example.com> 1700000000 +0000\n\nno committer line\n`,
      `tree ${tree}\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> not-a-date\n\nbad date\n`,
      `tree notahash\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nbad tree\n`,
    ];
    for (const content of cases) {
      const oid = (await gitOk(['hash-object', '-t', 'commit', '--literally', '-w', '--stdin'], { cwd: w, input: content })).trim();
      const pack = await packObjects(w, [oid, tree]);
      const r = await update(pack, [{ old: base, new: oid, ref: MAIN }]);
      expectRefused(r, new RegExp(`^Invalid pack: object ${oid} is malformed: \\w+`), /^unpacker error$/);
    }
    // a tree with an entry named ".git"
    const blob = (await gitOk(['hash-object', '-w', '--stdin'], { cwd: w, input: 'x\n' })).trim();
    const evil = (await gitOk(['mktree', '--missing'], { cwd: w, input: `100644 blob ${blob}\t.git\n` }).catch(async () => {
      const raw = Buffer.concat([Buffer.from('100644 .git\0'), Buffer.from(blob, 'hex')]);
      return gitOk(['hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], { cwd: w, input: raw });
    })).trim();
    const evilCommit = (await gitOk(['commit-tree', evil, '-p', base, '-m', 'evil'], { cwd: w })).trim();
    const r = await update(await packObjects(w, [evilCommit, evil, blob]), [{ old: base, new: evilCommit, ref: MAIN }]);
    expectRefused(r, /^Invalid pack: object [0-9a-f]{40} is malformed: hasDotgit/, /^unpacker error$/);
    await unchanged();
  });

  it('refuses a delta whose base is missing', async () => {
    // a thin pack against a base the server never had
    const local = path.join(tmpDir(), 'local');
    await gitOk(['init', '-q', '-b', 'main', local]);
    const text = Array.from({ length: 300 }, (_, i) => `line ${i}\n`).join('');
    const b1 = await commitFiles(local, { 'big.txt': text }, 'base');
    const b2 = await commitFiles(local, { 'big.txt': text.replace('line 150', 'line 150 changed') }, 'edit');
    const thin = await packRevs(local, [b2, `^${b1}`], { thin: true });
    const r = await update(thin, [{ old: ZERO, new: b2, ref: 'refs/heads/thin' }]);
    expectRefused(r, /^Invalid pack: missing delta base [0-9a-f]{40}/, /^unpacker error$/);
    await unchanged();
  });

  it('refuses a pack whose objects reference objects nobody has (connectivity)', async () => {
    const blob = (await gitOk(['hash-object', '-w', '--stdin'], { cwd: w, input: 'never pushed\n' })).trim();
    const tree = (await gitOk(['mktree'], { cwd: w, input: `100644 blob ${blob}\tnew.txt\n` })).trim();
    const orphan = (await gitOk(['commit-tree', tree, '-p', base, '-m', 'orphan'], { cwd: w })).trim();
    const r = await update(await packObjects(w, [orphan]), [{ old: base, new: orphan, ref: MAIN }]);
    expectRefused(r, new RegExp(`^Invalid pack: object ${orphan} references missing object [0-9a-f]{40}$`), /^unpacker error$/);
    await unchanged();
  });

  it('refuses a tip that is neither in the pack nor in the repository', async () => {
    const nowhere = 'f'.repeat(40);
    const empty = await packObjects(w, []);
    const r = await update(empty, [{ old: base, new: nowhere, ref: MAIN }]);
    expectRefused(r, 'ok', /^missing necessary objects$/);
    await unchanged();
  });

  it('refuses invalid ref names with "funny refname"', async () => {
    for (const ref of ['refs/heads/bad..name', 'refs/heads/x.lock', 'refs/heads/a~b', 'refs/heads/a:b', 'refs/heads/', 'refs/x', 'HEAD', 'main', 'refs/heads/@{x}', 'refs/heads/a/./b']) {
      const r = await update(goodPack, [{ old: ZERO, new: c1, ref }]);
      expectRefused(r, 'ok', /^funny refname$/);
    }
    // the pack was sound, so it is stored (unreferenced, as C Git would); refs did not move
    await unchanged();
  });

  it('refuses a push from a sha256 client whole', async () => {
    const r = await update(goodPack, [{ old: ZERO, new: c1, ref: 'refs/heads/sha256' }], [...DEFAULT_CAPS, 'object-format=sha256']);
    expectRefused(r, /^unsupported object-format=sha256/, /^unsupported object format$/);
    await unchanged();
  });

  it('refuses ref names too long to store, and a REST read of one is a clean miss', async () => {
    const longComponent = `refs/heads/${'x'.repeat(300)}`;
    const longTotal = `refs/heads/${Array.from({ length: 12 }, () => 'y'.repeat(100)).join('/')}`;
    for (const ref of [longComponent, longTotal]) {
      const r = await update(goodPack, [{ old: ZERO, new: c1, ref }]);
      expectRefused(r, 'ok', /^refname too long \(/);
    }
    const searched = await fetch(`${s.url}/v1/repo/${id}/retrieve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'a', branch: 'x'.repeat(300) }),
    });
    expect(searched.status).toBe(404);
    await unchanged();
  });

  it('refuses a stale old value with "stale info … fetch first"', async () => {
    const other = (await gitOk(['commit-tree', `${base}^{tree}`, '-p', base, '-m', 'elsewhere'], { cwd: w })).trim();
    const pack = await packObjects(w, [other]);
    const stale = await update(pack, [{ old: other, new: c1, ref: MAIN }]);
    expectRefused(stale, 'ok', /^stale info: the ref is at [0-9a-f]{7}, not [0-9a-f]{7}; fetch first$/);
    expect(stale.progress).toMatch(/error: cannot lock ref 'refs\/heads\/main': is at [0-9a-f]{40} but expected [0-9a-f]{40}/);
    const exists = await update(goodPack, [{ old: ZERO, new: c1, ref: MAIN }]);
    expectRefused(exists, 'ok', /^stale info: the ref already exists; fetch first$/);
    const gone = await update(null, [{ old: c1, new: ZERO, ref: 'refs/heads/never-was' }]);
    expectRefused(gone, 'ok', /^stale info: the ref no longer exists; fetch first$/);
    await unchanged();
  });

  it('refuses a ref whose lock file another writer holds, and breaks a lock left by a crash long ago', async () => {
    const branch = `refs/heads/locked-${kind}`;
    const lock = `${s.ctx.manager.gitdirOf(id)}/${branch}.lock`;
    await s.ctx.storage.mkdir(path.dirname(lock));
    await s.ctx.storage.writeFile(lock, '');
    const held = await update(goodPack, [{ old: ZERO, new: c1, ref: branch }]);
    expectRefused(held, 'ok', /^failed to lock$/);
    expect(held.progress).toContain(`error: cannot lock ref '${branch}': Unable to create '${branch}.lock': File exists.`);
    // eleven minutes old: a crashed writer's, broken as C Git advises
    const old = new Date(Date.now() - 11 * 60 * 1000);
    await s.ctx.storage.fs.promises.utimes(lock, old, old);
    const taken = await update(goodPack, [{ old: ZERO, new: c1, ref: branch }]);
    expect(taken.report).toEqual({ unpack: 'ok', refs: [{ ref: branch, ok: true }] });
    await update(null, [{ old: c1, new: ZERO, ref: branch }]);
    await unchanged();
  });

  it('applies an atomic push all or nothing', async () => {
    const cmds = [
      { old: ZERO, new: c1, ref: 'refs/heads/atomic-a' },
      { old: 'e'.repeat(40), new: c1, ref: MAIN }, // stale
      { old: ZERO, new: c1, ref: 'refs/heads/atomic-b' },
    ];
    const r = await update(goodPack, cmds, [...DEFAULT_CAPS, 'atomic']);
    expect(r.report!.unpack).toBe('ok');
    expect(r.report!.refs).toEqual([
      { ref: 'refs/heads/atomic-a', ok: false, reason: 'atomic push failure' },
      { ref: MAIN, ok: false, reason: expect.stringMatching(/^stale info/) },
      { ref: 'refs/heads/atomic-b', ok: false, reason: 'atomic push failure' },
    ]);
    // an atomic push refused by validation (funny refname) is all-or-nothing too
    const r2 = await update(goodPack, [cmds[0]!, { old: ZERO, new: c1, ref: 'refs/heads/bad..x' }], [...DEFAULT_CAPS, 'atomic']);
    expect(r2.report!.refs.map((x) => x.reason)).toEqual(['atomic push failure', 'funny refname']);
    await unchanged();
  });

  it('refuses a branch that points at something other than a commit', async () => {
    const blob = (await gitOk(['rev-parse', `${c1}:b.txt`], { cwd: w })).trim();
    const r = await update(goodPack, [{ old: ZERO, new: blob, ref: 'refs/heads/blobby' }]);
    expectRefused(r, 'ok', /^not a commit/);
    await unchanged();
  });

  it('refuses duplicate objects and trailing bytes after the pack', async () => {
    // the same blob twice, by hand (git dedupes its input)
    const blob = Buffer.from('blob dup\n');
    const zlib = await import('node:zlib');
    const entry = Buffer.concat([Buffer.from([0x30 | blob.length]), zlib.deflateSync(blob)]); // type 3 (blob), size < 16
    const body = Buffer.concat([Buffer.from('PACK'), Buffer.from([0, 0, 0, 2, 0, 0, 0, 2]), entry, entry]);
    const twice = Buffer.concat([body, createHash('sha1').update(body).digest()]);
    const r = await update(twice, [{ old: ZERO, new: c1, ref: 'refs/heads/dup' }]);
    expectRefused(r, /^Invalid pack: duplicate object/, /^unpacker error$/);
    const trailing = await update(Buffer.concat([goodPack, Buffer.from('garbage after the pack')]), [{ old: ZERO, new: c1, ref: 'refs/heads/t' }]);
    expectRefused(trailing, /^Invalid pack: /, /^unpacker error$/);
    await unchanged();
  });

  it('answers garbage pkt-lines with 400 and a clear message', async () => {
    const bodies = [
      Buffer.from('garbage that is not a pkt-line'),
      Buffer.from('00zz'),
      pktText(`${base} ${c1}`), // not a command
      Buffer.concat([pktText(`${base} ${c1} ${MAIN}\0report-status`)]), // no flush
      Buffer.concat([pktText(`${base} ${c1} ${MAIN}\0report-status push-options`), FLUSH, pktText('opt')]), // options not terminated
      Buffer.from('0003'),
    ];
    for (const body of bodies) {
      const r = await rawPush(s, id, body);
      expect(r.status, body.toString()).toBe(400);
      expect(r.body.toString()).toMatch(/^Protocol error: /);
    }
    await unchanged();
  });

  it('takes gzip request bodies, plain report-status without side-band, report-status-v2 and push options', async () => {
    const branch = `refs/heads/gz-${kind}`;
    const gz = await rawPush(s, id, receiveRequest([{ old: ZERO, new: c1, ref: branch }], goodPack), { gzip: true });
    expect(gz.report).toEqual({ unpack: 'ok', refs: [{ ref: branch, ok: true }] });
    const empty = await packObjects(w, []);
    const plain = await rawPush(s, id, receiveRequest([{ old: c1, new: base, ref: branch }], empty, { caps: ['report-status'] }));
    expect(plain.body.toString()).toBe(Buffer.concat([pktText('unpack ok'), pktText(`ok ${branch}`), FLUSH]).toString());
    const v2 = await rawPush(
      s,
      id,
      receiveRequest([{ old: base, new: ZERO, ref: branch }], null, { caps: ['report-status-v2', 'side-band-64k', 'push-options', 'quiet'], pushOptions: ['ci.skip', 'a=b'] }),
    );
    expect(v2.report).toEqual({ unpack: 'ok', refs: [{ ref: branch, ok: true }] });
    const none = await rawPush(s, id, receiveRequest([{ old: ZERO, new: base, ref: branch }], empty, { caps: [] }));
    expect(none.status).toBe(200);
    expect(none.body.length).toBe(0);
    expect(await refLines(s, id)).toContain(`${base} ${branch}`);
    await gitOk(['push', '-q', s.gitUrl(id, s.admin), `:${branch}`]);
    await unchanged();
  });
});

describe('push limits', () => {
  let s: TestServer;
  let id: string;
  let w: string;
  let base: string;
  beforeAll(async () => {
    s = await startTestServer('fs', { GITGATE_MAX_PUSH_REFS: '3', GITGATE_MAX_PUSH_OBJECTS: '5', GITGATE_MAX_PUSH_BYTES: '65536' });
    id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), w]);
    base = await rev(w, 'HEAD');
  });
  afterAll(async () => {
    await s.close();
  });

  async function settled(): Promise<void> {
    await s.fsck(id);
    expect(await leftovers(s, id)).toEqual([]);
    expect(await refLines(s, id)).toBe(`${base} refs/heads/main`);
  }

  it('refuses more ref updates than GITGATE_MAX_PUSH_REFS, readably in git push', async () => {
    const r = await git(['push', 'origin', ...[1, 2, 3, 4].map((i) => `HEAD:refs/heads/b${i}`)], { cwd: w });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/error: remote unpack failed: too many ref updates in one push \(4, the limit is 3\)/);
    const ok = await git(['push', 'origin', 'HEAD:refs/heads/b1', 'HEAD:refs/heads/b2'], { cwd: w });
    expect(ok.code, ok.stderr).toBe(0);
    await gitOk(['push', '-q', 'origin', ':refs/heads/b1', ':refs/heads/b2'], { cwd: w });
    await settled();
  });

  it('refuses a pack with more objects than GITGATE_MAX_PUSH_OBJECTS', async () => {
    await commitFiles(w, { 'x/1.txt': '1\n', 'x/2.txt': '2\n', 'x/3.txt': '3\n', 'x/4.txt': '4\n' }, 'many objects');
    const r = await git(['push', 'origin', 'HEAD:refs/heads/many'], { cwd: w });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/error: remote unpack failed: Invalid pack: pack announces \d+ objects, more than the limit of 5/);
    expect(r.stderr).toMatch(/\[remote rejected\] HEAD -> many \(unpacker error\)/);
    await gitOk(['reset', '-q', '--hard', base], { cwd: w });
    await settled();
  });

  it('refuses a pack over GITGATE_MAX_PUSH_BYTES, readably even though it stops reading it early', async () => {
    const crypto = await import('node:crypto');
    const fs = await import('node:fs');
    fs.writeFileSync(path.join(w, 'big.bin'), crypto.randomBytes(3 * 1024 * 1024));
    await commitFiles(w, {}, 'too big');
    const r = await git(['push', 'origin', 'HEAD:refs/heads/big'], { cwd: w });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/error: remote unpack failed: Pack exceeds the maximum push size of 65536 bytes/);
    await gitOk(['reset', '-q', '--hard', base], { cwd: w });
    await settled();
  });
});
