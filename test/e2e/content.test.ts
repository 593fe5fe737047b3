// The content API over real HTTP: paths, bodies, commits, permissions, locking, races.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoLockKey, withRepoLock } from '../../src/repo/repo-lock.js';
import { binary } from '../helpers/binary.js';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { diskState, STORAGE_KINDS, type TestServer, useTestServer } from '../helpers/server.js';

const auth = (t: string) => ({ Authorization: `Bearer ${t}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(STORAGE_KINDS)('content API (%s storage)', (kind) => {
  let s: TestServer;
  useTestServer(kind, (started) => (s = started), { GITGATE_MAX_JSON_BYTES: '65536', GITGATE_AUTHOR_NAME: 'Content Bot', GITGATE_AUTHOR_EMAIL: 'bot@example.com' });

  const files = (entries: Record<string, string>) => ({ source: { type: 'files', files: Object.entries(entries).map(([filename, content]) => ({ filename, content })) } });
  const update = (id: string, body: object, token = s.admin) => s.api.post(`/v1/repo/${id}/update`).set(auth(token)).send(body);
  const clone = async (id: string, query = '') => {
    const res = await s.api.get(`/v1/repo/${id}/clone${query}`).set(auth(s.admin));
    expect(res.status).toBe(200);
    return Object.fromEntries((res.body.files as { filename: string; content: string }[]).map((f) => [f.filename, f.content]));
  };

  it('accepts file paths URL-encoded as one segment and with plain slashes', async () => {
    const id = await s.createRepo(files({ 'src/a.ts': 'a\n' }));
    for (const url of [`/v1/repo/${id}/file/src%2Fa.ts`, `/v1/repo/${id}/file/src/a.ts`, `/v1/repo/${id}/file/src%2fa.ts`]) {
      const res = await s.api.get(url).set(auth(s.admin)).buffer(true).parse(binary);
      expect(res.status, url).toBe(200);
      expect(res.body.toString()).toBe('a\n');
    }
    const put = await s.api.put(`/v1/repo/${id}/file/docs/guide%20one.md`).set(auth(s.admin)).set('Content-Type', 'text/markdown').send('# guide\n');
    expect(put.status).toBe(200);
    expect(put.body.changed_files).toEqual(['docs/guide one.md']);
    expect(await clone(id)).toEqual({ 'src/a.ts': 'a\n', 'docs/guide one.md': '# guide\n' });
  });

  it('stores PUT bodies byte for byte whatever their content type', async () => {
    const id = await s.createRepo();
    const json = '{ "not": "reformatted" ,"x":1}';
    expect((await s.api.put(`/v1/repo/${id}/file/a.json`).set(auth(s.admin)).set('Content-Type', 'application/json').send(json)).status).toBe(200);
    const form = 'a=1&b=2';
    expect((await s.api.put(`/v1/repo/${id}/file/form.txt`).set(auth(s.admin)).set('Content-Type', 'application/x-www-form-urlencoded').send(form)).status).toBe(200);
    const empty = await s.api.put(`/v1/repo/${id}/file/empty.txt`).set(auth(s.admin));
    expect(empty.status).toBe(200);
    expect(await clone(id)).toEqual({ 'a.json': json, 'empty.txt': '', 'form.txt': form });
    await s.fsck(id);
  });

  it('rejects traversal, absolute, .git and NUL paths with 400 BAD_PATH and changes nothing', async () => {
    const id = await s.createRepo(files({ 'a.txt': 'a' }));
    const before = await diskState(s, id);
    const bad = ['..%2Fetc%2Fpasswd', '%2E%2E/x', 'a/%2E%2E/%2E%2E/b', '%2Fetc%2Fpasswd', '.git%2Fconfig', 'sub/.git/config', 'sub/.GIT/x', 'a%00b', 'git~1/x', 'a//b', 'x%5Cy', '%ZZ'];
    for (const p of bad) {
      for (const req of [
        s.api.get(`/v1/repo/${id}/file/${p}`),
        s.api.put(`/v1/repo/${id}/file/${p}`).send('x'),
        s.api.delete(`/v1/repo/${id}/file/${p}`),
      ]) {
        const res = await req.set(auth(s.admin));
        expect(res.status, p).toBe(400);
        expect(res.body.error.code, p).toBe('BAD_PATH');
      }
    }
    for (const op of [
      { type: 'write', filename: '../x', content: 'x' },
      { type: 'write', filename: '/abs', content: 'x' },
      { type: 'delete', filename: '.git/HEAD' },
      { type: 'rename', old_filename: 'a.txt', new_filename: 'x/../../y' },
      { type: 'write', filename: 'a.txt/child', content: 'x' }, // a.txt is a file
    ]) {
      const res = await update(id, { source: { type: 'diff', operations: [{ type: 'write', filename: 'ok.txt', content: 'ok' }, op] } });
      expect(res.status, JSON.stringify(op)).toBe(400);
      expect(res.body.error.code).toBe('BAD_PATH');
    }
    const snap = await update(id, files({ 'ok.txt': 'x', '.git/hooks/pre-receive': 'x' }));
    expect(snap.status).toBe(400);
    const dup = await update(id, { source: { type: 'files', files: [{ filename: 'x', content: '1' }, { filename: 'x', content: '2' }] } });
    expect(dup.status).toBe(400);
    expect(await diskState(s, id)).toEqual(before);
  });

  it('answers bad JSON, bad shapes and oversized bodies with clear errors and changes nothing', async () => {
    const id = await s.createRepo(files({ 'a.txt': 'a' }));
    const before = await diskState(s, id);
    const badJson = await s.api.post(`/v1/repo/${id}/update`).set(auth(s.admin)).set('Content-Type', 'application/json').send('{"source": ');
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('BAD_JSON');
    for (const body of [
      { source: { type: 'tarball' } },
      { source: { type: 'diff', operations: [{ type: 'chmod', filename: 'a.txt' }] } },
      { source: { type: 'diff', operations: [{ type: 'rename', from: 'a.txt', to: 'b.txt' }] } },
      { source: { type: 'files', files: [{ filename: 'a.txt' }] } },
      { metadata: { n: 1 } },
    ]) {
      const res = await update(id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION');
    }
    const notJson = await s.api.post(`/v1/repo/${id}/update`).set(auth(s.admin)).set('Content-Type', 'text/plain').send('{"source":{"type":"files","files":[]}}');
    expect(notJson.status).toBe(415);
    expect(notJson.body.error.code).toBe('UNSUPPORTED_MEDIA');
    const big = 'x'.repeat(70_000);
    const bigUpdate = await update(id, files({ 'big.txt': big }));
    expect(bigUpdate.status).toBe(413);
    expect(bigUpdate.body.error.code).toBe('BODY_TOO_LARGE');
    const bigPut = await s.api.put(`/v1/repo/${id}/file/big.txt`).set(auth(s.admin)).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(70_000, 1));
    expect(bigPut.status).toBe(413);
    const badRetrieve = await s.api.post(`/v1/repo/${id}/retrieve`).set(auth(s.admin)).send({ query: '' });
    expect(badRetrieve.status).toBe(400);
    expect(await diskState(s, id)).toEqual(before);
  });

  it('answers unknown and malformed commits with 404 and 400', async () => {
    const id = await s.createRepo(files({ 'a.txt': 'a' }));
    const unknown = await s.api.get(`/v1/repo/${id}/clone?commit=${'1'.repeat(40)}`).set(auth(s.admin));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('COMMIT_NOT_FOUND');
    const malformed = await s.api.get(`/v1/repo/${id}/clone?commit=xyz`).set(auth(s.admin));
    expect(malformed.status).toBe(400);
    // a blob id is not a commit
    const blob = (await gitOk(['--git-dir', await s.bareRepo(id), 'rev-parse', 'HEAD:a.txt'])).trim();
    expect((await s.api.get(`/v1/repo/${id}/clone?commit=${blob}`).set(auth(s.admin))).status).toBe(404);
    const fileAt = await s.api.get(`/v1/repo/${id}/file/a.txt?commit=${'2'.repeat(40)}`).set(auth(s.admin));
    expect(fileAt.status).toBe(404);
    const retr = await s.api.post(`/v1/repo/${id}/retrieve`).set(auth(s.admin)).send({ query: 'a', hash: '3'.repeat(40) });
    expect(retr.status).toBe(404);
    const branch = await s.api.post(`/v1/repo/${id}/retrieve`).set(auth(s.admin)).send({ query: 'a', branch: 'nope' });
    expect(branch.status).toBe(404);
    expect(branch.body.error.code).toBe('BRANCH_NOT_FOUND');
    expect((await s.api.get(`/v1/repo/${id}/file/dir-that-is-missing/x`).set(auth(s.admin))).status).toBe(404);
  });

  it('serves an empty repository and makes its first commit through the API', async () => {
    const id = await s.createRepo();
    expect(await clone(id)).toEqual({});
    expect((await s.api.get(`/v1/repo/${id}/file/a.txt`).set(auth(s.admin))).status).toBe(404);
    expect((await s.api.delete(`/v1/repo/${id}/file/a.txt`).set(auth(s.admin))).status).toBe(404);
    const noop = await update(id, files({}));
    expect(noop.body).toEqual({ repo_id: id, branch: 'main', repo_head: null, changed_files: [] });
    const first = await update(id, { source: { type: 'diff', operations: [{ type: 'write', filename: 'a/b/c.txt', content: 'c' }] } });
    expect(first.status).toBe(200);
    expect(first.body.changed_files).toEqual(['a/b/c.txt']);
    const bare = await s.bareRepo(id);
    expect((await gitOk(['--git-dir', bare, 'log', '--format=%an <%ae>|%s|%P', 'main'])).trim()).toBe('Content Bot <bot@example.com>|Update 1 file: write a/b/c.txt|');
    await s.fsck(id);
  });

  it('deletes and renames directories, keeps executable bits, and refuses file/directory clashes', async () => {
    const id = await s.createRepo(files({ 'keep.txt': 'k' }));
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), w]);
    fs.mkdirSync(path.join(w, 'dir/sub'), { recursive: true });
    fs.writeFileSync(path.join(w, 'dir/sub/x.txt'), 'x');
    fs.writeFileSync(path.join(w, 'dir/y.txt'), 'y');
    fs.writeFileSync(path.join(w, 'run.sh'), '#!/bin/sh\necho 1\n', { mode: 0o755 });
    await commitFiles(w, {}, 'tree');
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: w });

    const wr = await s.api.put(`/v1/repo/${id}/file/run.sh`).set(auth(s.admin)).send('#!/bin/sh\necho 2\n');
    expect(wr.status).toBe(200);
    const bare = await s.bareRepo(id);
    expect(await gitOk(['--git-dir', bare, 'ls-tree', 'HEAD', 'run.sh'])).toMatch(/^100755 /);

    const clash = await s.api.put(`/v1/repo/${id}/file/dir`).set(auth(s.admin)).send('x');
    expect(clash.status).toBe(400);

    const mv = await update(id, { source: { type: 'diff', operations: [{ type: 'rename', old_filename: 'dir/sub', new_filename: 'moved' }] } });
    expect(mv.status).toBe(200);
    expect(mv.body.changed_files).toEqual(['dir/sub/x.txt', 'moved/x.txt']);
    const del = await s.api.delete(`/v1/repo/${id}/file/dir`).set(auth(s.admin));
    expect(del.status).toBe(200);
    expect(del.body.changed_files).toEqual(['dir/y.txt']);
    expect(Object.keys(await clone(id)).sort()).toEqual(['keep.txt', 'moved/x.txt', 'run.sh']);
    await s.fsck(id);
  });

  it('applies diff phases as Relace documents: deletes, then writes (last wins), then renames', async () => {
    const id = await s.createRepo(files({ 'a.txt': 'a', 'b.txt': 'b' }));
    const res = await update(id, {
      source: {
        type: 'diff',
        operations: [
          { type: 'rename', old_filename: 'new.txt', new_filename: 'renamed.txt' }, // new.txt exists once writes ran
          { type: 'write', filename: 'new.txt', content: 'first' },
          { type: 'delete', filename: 'a.txt' },
          { type: 'write', filename: 'new.txt', content: 'second' },
          { type: 'write', filename: 'a.txt', content: 'recreated' },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(await clone(id)).toEqual({ 'a.txt': 'recreated', 'b.txt': 'b', 'renamed.txt': 'second' });
  });

  it('lets a Flashback READ key clone and read but not push, update or write (403)', async () => {
    const id = await s.createRepo(files({ 'f.txt': 'f\n' }));
    const key = await s.api.post(`/v1/repo/${id}/apikey`).set(auth(s.admin)).send({ name: 'reader', accessType: 'READ' });
    expect(key.status).toBe(201);
    const secret = key.body.secret as string;
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, secret), w]);
    expect(fs.readFileSync(path.join(w, 'f.txt'), 'utf8')).toBe('f\n');
    expect((await s.api.get(`/v1/repo/${id}/clone`).set(auth(secret))).status).toBe(200);
    expect((await s.api.post(`/v1/repo/${id}/retrieve`).set(auth(secret)).send({ query: 'f' })).status).toBe(200);
    const before = await diskState(s, id);
    await commitFiles(w, { 'g.txt': 'g' }, 'try');
    const push = await git(['push', 'origin', 'main'], { cwd: w });
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/403|Permission denied/);
    for (const res of [
      await update(id, files({ 'x.txt': 'x' }), secret),
      await s.api.put(`/v1/repo/${id}/file/x.txt`).set(auth(secret)).send('x'),
      await s.api.delete(`/v1/repo/${id}/file/f.txt`).set(auth(secret)),
    ]) {
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    expect(await diskState(s, id)).toEqual(before);
    const writer = await s.api.post(`/v1/repo/${id}/apikey`).set(auth(s.admin)).send({ name: 'writer', accessType: 'WRITE' });
    expect((await update(id, files({ 'x.txt': 'x' }), writer.body.secret)).status).toBe(200);
  });

  it('returns 423 REPO_LOCKED while the repository lock is held, and succeeds after', async () => {
    const id = await s.createRepo(files({ 'a.txt': 'a' }));
    const key = repoLockKey(s.ctx.manager.gitdirOf(id));
    let release!: () => void;
    const held = withRepoLock(key, () => new Promise<void>((r) => (release = r)));
    try {
      const locked = await update(id, files({ 'a.txt': 'b' }));
      expect(locked.status).toBe(423);
      expect(locked.body.error.code).toBe('REPO_LOCKED');
      expect((await s.api.put(`/v1/repo/${id}/file/a.txt`).set(auth(s.admin)).send('c')).status).toBe(423);
      // reads are not blocked
      expect((await s.api.get(`/v1/repo/${id}/file/a.txt`).set(auth(s.admin))).status).toBe(200);
    } finally {
      release();
      await held;
    }
    expect((await update(id, files({ 'a.txt': 'b' }))).status).toBe(200);
  });

  it('never loses an acknowledged push or update when they race', async () => {
    const id = await s.createRepo(files({ 'base.txt': 'base' }));
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), w]);
    const acknowledged: string[] = [];
    const outcomes = { push: 0, update: 0, refused: 0 };
    const rounds = 16;
    for (let i = 0; i < rounds; i++) {
      await gitOk(['fetch', '-q', 'origin'], { cwd: w });
      await gitOk(['reset', '-q', '--hard', 'origin/main'], { cwd: w });
      const local = await commitFiles(w, { [`push-${i}.txt`]: `push ${i}\n` }, `push ${i}`);
      const [push, upd] = await Promise.all([
        git(['push', 'origin', 'HEAD:main'], { cwd: w }),
        // sweep the update across the push's lifetime so that it lands before, during and after the ref update
        sleep(i * 15).then(() => update(id, { source: { type: 'diff', operations: [{ type: 'write', filename: `api-${i}.txt`, content: `api ${i}\n` }] } })),
      ]);
      if (push.code === 0) {
        acknowledged.push(local);
        outcomes.push++;
      } else outcomes.refused++;
      if (upd.status === 200) {
        acknowledged.push(upd.body.repo_head);
        outcomes.update++;
      } else {
        expect([409, 423]).toContain(upd.status);
        outcomes.refused++;
      }
    }
    expect(outcomes.push + outcomes.update).toBeGreaterThanOrEqual(rounds); // at least one side wins every round
    const bare = await s.bareRepo(id);
    for (const oid of acknowledged) {
      const r = await git(['--git-dir', bare, 'merge-base', '--is-ancestor', oid, 'main']);
      expect(r.code, `acknowledged ${oid} is lost`).toBe(0);
    }
    await s.fsck(id);
  });
});
