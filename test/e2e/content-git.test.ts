// Git sources: POST /v1/repo with source.type "git" (import) and update with source.type "git"
// (pull & merge), against another gitgate repository on the same server and against URLs
// that are not there. Credentials in URLs never come back in errors or logs.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/http/server.js';
import { createServices } from '../../src/service/services.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { STORAGE_KINDS, type TestServer, useTestServer } from '../helpers/server.js';

const auth = (t: string) => ({ Authorization: `Bearer ${t}` });
// the sources here are on this loopback server: allowed explicitly, as an operator would
const ALLOW_LOOPBACK = { GITGATE_IMPORT_ALLOW_NETWORKS: '127.0.0.0/8' };

describe.each(STORAGE_KINDS)('git sources (%s storage)', (kind) => {
  let s: TestServer;
  useTestServer(kind, (started) => (s = started), ALLOW_LOOPBACK);

  const repoCount = async () => (await s.api.get('/v1/repo').set(auth(s.admin))).body.total_items as number;
  const repoDirs = async () => (await s.ctx.storage.readdir(s.ctx.storage.root)).filter((n) => n.endsWith('.git')).sort();
  const clone = async (id: string) =>
    Object.fromEntries(((await s.api.get(`/v1/repo/${id}/clone`).set(auth(s.admin))).body.files as { filename: string; content: string }[]).map((f) => [f.filename, f.content]));

  /** A source repository with history pushed by real git; returns its id, a read token and a work tree. */
  async function sourceRepo(): Promise<{ id: string; token: string; work: string; head: string }> {
    const id = await s.createRepo();
    const { token } = await s.mint({ name: 'source reader', repo_ids: [id], permission: 'read' });
    const work = path.join(tmpDir(), 'src');
    await gitOk(['init', '-q', '-b', 'main', work]);
    await commitFiles(work, { 'README.md': '# source\n', 'src/app.ts': 'export const app = 1;\n' }, 'first');
    await commitFiles(work, { 'src/lib/util.ts': 'export const util = 2;\n' }, 'second');
    fs.writeFileSync(path.join(work, 'logo.bin'), Buffer.from([0, 1, 2, 3, 255]));
    const head = await commitFiles(work, {}, 'binary');
    await gitOk(['checkout', '-q', '-b', 'feature'], { cwd: work });
    await commitFiles(work, { 'feature.txt': 'feature\n' }, 'feature');
    await gitOk(['checkout', '-q', 'main'], { cwd: work });
    await gitOk(['push', '-q', s.gitUrl(id, s.admin), 'main', 'feature'], { cwd: work });
    return { id, token, work, head };
  }

  it('imports a gitgate repository through a URL with a token in it, history and all', async () => {
    const src = await sourceRepo();
    const res = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url: s.gitUrl(src.id, src.token) }, metadata: { from: 'git' } });
    expect(res.status).toBe(201);
    expect(res.body.repo_head).toBe(src.head); // same commits, verbatim
    const id = res.body.repo_id as string;
    expect(await clone(id)).toEqual({ 'README.md': '# source\n', 'src/app.ts': 'export const app = 1;\n', 'src/lib/util.ts': 'export const util = 2;\n' });
    const bare = await s.bareRepo(id);
    expect((await gitOk(['--git-dir', bare, 'log', '--format=%s', 'main'])).trim().split('\n')).toEqual(['binary', 'second', 'first']);
    expect((await gitOk(['--git-dir', bare, 'for-each-ref', '--format=%(refname)'])).trim()).toBe('refs/heads/main'); // one branch only
    await s.fsck(id);

    // plain git clone of the import sees the same files
    const { token } = await s.mint({ name: 'r', repo_ids: [id], permission: 'read' });
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, token), w]);
    expect(fs.readFileSync(path.join(w, 'src/lib/util.ts'), 'utf8')).toBe('export const util = 2;\n');
    expect(fs.readFileSync(path.join(w, 'logo.bin'))).toEqual(Buffer.from([0, 1, 2, 3, 255]));
  });

  it('imports a named branch and a given commit of it', async () => {
    const src = await sourceRepo();
    const url = s.gitUrl(src.id, src.token);
    const feature = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url, branch: 'feature' } });
    expect(feature.status).toBe(201);
    expect(Object.keys(await clone(feature.body.repo_id))).toContain('feature.txt');
    // the branch lands on the repository's default branch
    const bare = await s.bareRepo(feature.body.repo_id);
    expect((await gitOk(['--git-dir', bare, 'symbolic-ref', 'HEAD'])).trim()).toBe('refs/heads/main');

    const first = (await gitOk(['rev-list', '--max-parents=0', 'main'], { cwd: src.work })).trim();
    const atHash = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url, branch: 'main', hash: first } });
    expect(atHash.status).toBe(201);
    expect(atHash.body.repo_head).toBe(first);
    expect(await clone(atHash.body.repo_id)).toEqual({ 'README.md': '# source\n', 'src/app.ts': 'export const app = 1;\n' });

    const reposBefore = await repoCount();
    const missingBranch = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url, branch: 'nope' } });
    expect(missingBranch.status).toBe(400);
    expect(missingBranch.body.error.code).toBe('SOURCE_BRANCH_NOT_FOUND');
    const foreignHash = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url, hash: 'a'.repeat(40) } });
    expect(foreignHash.status).toBe(400);
    expect(await repoCount()).toBe(reposBefore);
  });

  it('imports an empty repository as an empty repository', async () => {
    const empty = await s.createRepo();
    const res = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url: s.gitUrl(empty, s.admin) } });
    expect(res.status).toBe(201);
    expect(res.body.repo_head).toBe(null);
  });

  it('fails cleanly for unreachable, non-git and forbidden sources, creating nothing and echoing no secret', async () => {
    const src = await sourceRepo();
    const reposBefore = await repoCount();
    const dirsBefore = await repoDirs();
    const secret = src.token;
    const cases: { url: string; status: number; code: string }[] = [
      { url: `http://token:${secret}@127.0.0.1:1/v1/repo/x.git`, status: 502, code: 'SOURCE_UNREACHABLE' },
      { url: `http://token:${secret}@nonexistent.invalid/repo.git`, status: 502, code: 'SOURCE_UNREACHABLE' },
      { url: `${s.url}/healthz`, status: 400, code: 'SOURCE_NOT_GIT' },
      { url: `${s.url}/v1/openapi.json`, status: 400, code: 'SOURCE_NOT_GIT' },
      { url: s.gitUrl(src.id, `${secret.slice(0, -3)}xyz`), status: 400, code: 'SOURCE_ACCESS_DENIED' },
      { url: s.gitUrl('00000000-0000-4000-8000-000000000000', secret), status: 400, code: 'SOURCE_NOT_GIT' },
      { url: `file:///etc`, status: 400, code: 'SOURCE_FORBIDDEN' },
      { url: `ssh://git@example.com/x.git`, status: 400, code: 'SOURCE_FORBIDDEN' },
      { url: `http://token:${secret}@10.0.0.1/x.git`, status: 400, code: 'SOURCE_FORBIDDEN' },
      { url: 'not a url', status: 400, code: 'VALIDATION' },
    ];
    for (const c of cases) {
      const res = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url: c.url }, name: `never-${kind}` });
      expect(res.status, c.url.replace(secret, '***')).toBe(c.status);
      expect(res.body.error.code).toBe(c.code);
      expect(JSON.stringify(res.body)).not.toContain(secret);
      expect(JSON.stringify(res.body)).not.toContain(secret.slice(0, -3));
    }
    expect(await repoCount()).toBe(reposBefore);
    expect(await repoDirs()).toEqual(dirsBefore);
    // the name was not taken by a half-made repository
    expect((await s.api.post('/v1/repo').set(auth(s.admin)).send({ name: `never-${kind}` })).status).toBe(201);
  });

  it('enforces the import size limit and leaves nothing behind', async () => {
    const src = await sourceRepo();
    const w = path.join(tmpDir(), 'big');
    await gitOk(['clone', '-q', s.gitUrl(src.id, s.admin), w]);
    // incompressible content well over the limit
    fs.writeFileSync(path.join(w, 'noise.bin'), crypto.randomBytes(64 * 1024));
    await commitFiles(w, {}, 'noise');
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: w });
    const config = s.ctx.config;
    const limit = config.maxImportBytes;
    const reposBefore = await repoCount();
    const dirsBefore = await repoDirs();
    config.maxImportBytes = 16 * 1024;
    try {
      const res = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url: s.gitUrl(src.id, src.token) } });
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('SOURCE_TOO_LARGE');
    } finally {
      config.maxImportBytes = limit;
    }
    expect(await repoCount()).toBe(reposBefore);
    expect(await repoDirs()).toEqual(dirsBefore);
    const ok = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url: s.gitUrl(src.id, src.token) } });
    expect(ok.status).toBe(201);
  });

  it('pulls with update: fast-forward, merge commit, already merged, conflict', async () => {
    const src = await sourceRepo();
    const url = s.gitUrl(src.id, src.token);
    const { repo_id: id } = (await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url } })).body as { repo_id: string };
    const pull = () => s.api.post(`/v1/repo/${id}/update`).set(auth(s.admin)).send({ source: { type: 'git', url, branch: 'main' } });

    // nothing new: no change
    const same = await pull();
    expect(same.body).toEqual({ repo_id: id, branch: 'main', repo_head: src.head, changed_files: [] });

    // upstream moves: fast-forward to exactly its commit
    const up1 = await commitFiles(src.work, { 'src/app.ts': 'export const app = 2;\n' }, 'upstream 1');
    await gitOk(['push', '-q', s.gitUrl(src.id, s.admin), 'main'], { cwd: src.work });
    const ff = await pull();
    expect(ff.status).toBe(200);
    expect(ff.body).toEqual({ repo_id: id, branch: 'main', repo_head: up1, changed_files: ['src/app.ts'] });

    // both sides move on different files: one merge commit with both parents
    const local = await s.api.put(`/v1/repo/${id}/file/local.txt`).set(auth(s.admin)).send('local\n');
    const up2 = await commitFiles(src.work, { 'README.md': '# source v2\n' }, 'upstream 2');
    await gitOk(['push', '-q', s.gitUrl(src.id, s.admin), 'main'], { cwd: src.work });
    const merged = await pull();
    expect(merged.status).toBe(200);
    expect(merged.body.changed_files).toEqual(['README.md']);
    const bare = await s.bareRepo(id);
    const parents = (await gitOk(['--git-dir', bare, 'log', '-1', '--format=%P%n%s', merged.body.repo_head])).trim().split('\n');
    expect(parents[0]!.split(' ')).toEqual([local.body.repo_head, up2]);
    expect(parents[1]).toMatch(/^Merge branch 'main' of http:\/\/127\.0\.0\.1:\d+\/v1\/repo\/[0-9a-f-]+\.git into main$/);
    expect(parents[1]).not.toContain(src.token);
    expect(await clone(id)).toMatchObject({ 'README.md': '# source v2\n', 'local.txt': 'local\n', 'src/app.ts': 'export const app = 2;\n' });

    // pulling again: already merged
    expect((await pull()).body).toEqual({ repo_id: id, branch: 'main', repo_head: merged.body.repo_head, changed_files: [] });

    // the same line changed on both sides: 409 MERGE_CONFLICT and the head stays
    await s.api.put(`/v1/repo/${id}/file/src%2Fapp.ts`).set(auth(s.admin)).send('export const app = "ours";\n');
    const headBefore = (await s.api.post(`/v1/repo/${id}/update`).set(auth(s.admin)).send({})).body.repo_head;
    await commitFiles(src.work, { 'src/app.ts': 'export const app = "theirs";\n' }, 'upstream 3');
    await gitOk(['push', '-q', s.gitUrl(src.id, s.admin), 'main'], { cwd: src.work });
    const conflict = await pull();
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('MERGE_CONFLICT');
    expect(conflict.body.error.message).toContain('src/app.ts');
    expect((await s.api.post(`/v1/repo/${id}/update`).set(auth(s.admin)).send({})).body.repo_head).toBe(headBefore);
    await s.fsck(id);

    // unreachable source on update: 502 and nothing moves
    const gone = await s.api.post(`/v1/repo/${id}/update`).set(auth(s.admin)).send({ source: { type: 'git', url: 'http://127.0.0.1:1/x.git' } });
    expect(gone.status).toBe(502);
  });

  it('pulls into an empty repository and into a repository with unrelated history', async () => {
    const src = await sourceRepo();
    const url = s.gitUrl(src.id, src.token);
    const empty = await s.createRepo();
    const first = await s.api.post(`/v1/repo/${empty}/update`).set(auth(s.admin)).send({ source: { type: 'git', url } });
    expect(first.body.repo_head).toBe(src.head);

    const unrelated = await s.createRepo({ source: { type: 'files', files: [{ filename: 'mine.txt', content: 'mine\n' }] } });
    const merged = await s.api.post(`/v1/repo/${unrelated}/update`).set(auth(s.admin)).send({ source: { type: 'git', url } });
    expect(merged.status).toBe(200);
    expect(Object.keys(await clone(unrelated)).sort()).toEqual(['README.md', 'mine.txt', 'src/app.ts', 'src/lib/util.ts']);
    await s.fsck(unrelated);
  });
});

describe('git source credentials never reach the logs', () => {
  it('keeps the URL secret out of request and error logs', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const dataDir = tmpDir('gitgate-data-');
    const config = loadConfig({ port: 0, host: '127.0.0.1', data: dataDir, memory: true }, { GITGATE_BCRYPT_ROUNDS: '4', ...ALLOW_LOOPBACK });
    const ctx = createServices(config, pino({ level: 'debug' }, sink));
    const { secret: admin } = await ctx.tokens.create({ kind: 'workspace', permission: 'admin', name: 'admin' }, null);
    const server = await startServer(ctx, '127.0.0.1', 0);
    try {
      const secretInUrl = 'hunter2-very-secret-password';
      for (const url of [`http://user:${secretInUrl}@127.0.0.1:1/r.git`, `${server.url.replace('http://', `http://user:${secretInUrl}@`)}/v1/repo/nope.git`]) {
        const res = await fetch(`${server.url}/v1/repo`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ source: { type: 'git', url } }),
        });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(await res.text()).not.toContain(secretInUrl);
      }
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.join('')).toContain('SOURCE_UNREACHABLE');
      expect(lines.join('')).not.toContain(secretInUrl);
    } finally {
      await server.close();
      await ctx.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
