// Forks: POST /v1/repo with source {type: "relace", repo_id}. A new repository with every ref
// and HEAD of the source, sharing its pack files by hard links (fs) or copies (memfs), fully
// independent afterwards: pushes, repacks and deletion on either side leave the other intact.
import fs from 'node:fs';
import path from 'node:path';
import Relace from '@relace-ai/relace';
import { describe, expect, it } from 'vitest';
import { repack } from '../../src/repo/repack.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { leftovers } from '../helpers/push.js';
import { STORAGE_KINDS, type TestServer, bearer, useTestServer } from '../helpers/server.js';

describe.each(STORAGE_KINDS)('forks (%s storage)', (kind) => {
  let s: TestServer;
  useTestServer(kind, (started) => (s = started));


  /** A source with several packs (pushes), loose objects (a REST write), branches, an annotated tag and HEAD on trunk. */
  async function source(): Promise<string> {
    const id = await s.createRepo({ name: `src-${Math.random().toString(36).slice(2)}`, metadata: { team: 'a', kind: 'template' } });
    const w = path.join(tmpDir(), 'w');
    await gitOk(['init', '-q', '-b', 'trunk', w]);
    await commitFiles(w, { 'a.txt': 'a\n' }, 'one');
    await gitOk(['push', '-q', s.gitUrl(id, s.admin), 'trunk'], { cwd: w });
    await commitFiles(w, { 'b.txt': 'b\n' }, 'two');
    await gitOk(['tag', '-a', 'v1', '-m', 'v1'], { cwd: w });
    await gitOk(['push', '-q', s.gitUrl(id, s.admin), 'trunk', 'v1', 'trunk:refs/heads/agent/x'], { cwd: w });
    // HEAD follows the first branch pushed into the empty repository (trunk, not main)
    const put = await s.api.put(`/v1/repo/${id}/file/loose.txt`).set(bearer(s.admin)).send('written over REST\n');
    expect(put.status).toBe(200);
    await s.ctx.manager.get(id).maintenance.idle(); // a settled source: its packs are already geometric
    return id;
  }

  async function refsOf(id: string): Promise<string> {
    const dir = await s.bareRepo(id);
    return (await gitOk(['--git-dir', dir, 'for-each-ref', '--format=%(refname) %(objectname)'])) + (await gitOk(['--git-dir', dir, 'symbolic-ref', 'HEAD']));
  }

  async function fork(src: string, secret = s.admin, extra: object = {}) {
    return s.api.post('/v1/repo').set(bearer(secret)).send({ source: { type: 'relace', repo_id: src, ...extra } });
  }

  async function settled(id: string): Promise<void> {
    await s.fsck(id);
    expect(await leftovers(s, id)).toEqual([]);
  }

  it('who may fork: workspace tokens with write; read-only, repository and out-of-scope tokens are refused and nothing is created', async () => {
    const src = await source();
    const count = async () => (await s.api.get('/v1/repo?page_size=1000').set(bearer(s.admin))).body.total_items as number;
    const before = await count();
    const repoAdmin = await s.mint({ repo_ids: [src], permission: 'admin', name: 'repo admin' });
    const r1 = await fork(src, repoAdmin.token);
    expect([r1.status, r1.body.error.code]).toEqual([403, 'CONTROL_PLANE_ONLY']);
    const wsRead = await s.api.post('/v1/workspace_token').set(bearer(s.admin)).send({ name: 'ro', permission: 'read' });
    const r2 = await fork(src, wsRead.body.token);
    expect([r2.status, r2.body.error.code]).toEqual([403, 'FORBIDDEN']);
    // a ref-scoped workspace token may not create refs outside its scope, and a fork creates all of them
    const wsScoped = await s.api.post('/v1/workspace_token').set(bearer(s.admin)).send({ name: 'bots', permission: 'write', refs: ['refs/heads/agent/*'] });
    const r3 = await fork(src, wsScoped.body.token);
    expect(r3.status).toBe(403);
    expect(r3.body.error.message).toContain("outside this token's ref scope");
    const r4 = await fork('00000000-0000-0000-0000-000000000000');
    expect([r4.status, r4.body.error.code]).toEqual([404, 'REPO_NOT_FOUND']);
    const r5 = await s.api.post('/v1/repo').set(bearer(s.admin)).send({ source: { type: 'relace' } });
    expect(r5.status).toBe(400);
    expect(await count()).toBe(before);
    if (kind === 'fs') expect(fs.readdirSync(s.dataDir).filter((n) => n.endsWith('.git'))).toHaveLength(before);

    const wsWrite = await s.api.post('/v1/workspace_token').set(bearer(s.admin)).send({ name: 'orchestrator', permission: 'write' });
    const ok = await fork(src, wsWrite.body.token);
    expect(ok.status).toBe(201);
    const audit = await s.api.get(`/v1/audit?action=repo.fork&repo_id=${ok.body.repo_id}`).set(bearer(s.admin));
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0]).toMatchObject({ action: 'repo.fork', actor_token_id: wsWrite.body.id, repo_id: ok.body.repo_id, detail: { source: src, refs: 3 } });
  });

  it('has every ref and HEAD of the source, shares its packs, and is independent afterwards', async () => {
    const src = await source();
    const res = await fork(src, s.admin, { copy_metadata: true });
    expect(res.status).toBe(201);
    const id = res.body.repo_id as string;
    expect(id).not.toBe(src);
    expect(res.body.repo_head).toBe((await gitOk(['--git-dir', await s.bareRepo(src), 'rev-parse', 'HEAD'])).trim());
    expect(await refsOf(id)).toBe(await refsOf(src));
    expect((await s.api.get(`/v1/repo/${id}`).set(bearer(s.admin))).body.metadata).toEqual({ team: 'a', kind: 'template' });
    await settled(id);

    if (kind === 'fs') {
      // pack files are the same inodes, not copies (and the fork's own upkeep finds nothing to rewrite)
      await s.ctx.manager.get(id).maintenance.idle();
      const packDir = (r: string) => path.join(s.ctx.manager.gitdirOf(r), 'objects', 'pack');
      const packs = fs.readdirSync(packDir(src)).filter((n) => n.endsWith('.pack'));
      expect(packs.length).toBeGreaterThan(0);
      for (const p of packs) {
        expect(fs.statSync(path.join(packDir(id), p)).ino).toBe(fs.statSync(path.join(packDir(src), p)).ino);
      }
    }

    // pushes to either side stay there
    const wf = path.join(tmpDir(), 'f');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), wf]);
    const onFork = await commitFiles(wf, { 'fork.txt': 'fork\n' }, 'on the fork');
    await gitOk(['push', '-q', 'origin', 'HEAD'], { cwd: wf });
    const ws = path.join(tmpDir(), 's');
    await gitOk(['clone', '-q', s.gitUrl(src, s.admin), ws]);
    const onSource = await commitFiles(ws, { 'source.txt': 'source\n' }, 'on the source');
    await gitOk(['push', '-q', 'origin', 'HEAD', ':refs/heads/agent/x'], { cwd: ws });
    const head = async (r: string) => (await gitOk(['--git-dir', await s.bareRepo(r), 'rev-parse', 'trunk'])).trim();
    expect(await head(id)).toBe(onFork);
    expect(await head(src)).toBe(onSource);
    expect(await refsOf(id)).toContain('refs/heads/agent/x');

    // a full repack of the source (new pack, old ones unlinked) leaves the fork whole
    await repack(s.ctx.manager.get(src), { all: true });
    await repack(s.ctx.manager.get(id), { all: true });
    await settled(src);
    await settled(id);

    // deleting the source: the fork still clones, fscks and serves its history
    expect((await s.api.delete(`/v1/repo/${src}`).set(bearer(s.admin))).status).toBe(204);
    const again = path.join(tmpDir(), 'again');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), again]);
    expect((await gitOk(['rev-parse', 'HEAD'], { cwd: again })).trim()).toBe(onFork);
    expect(fs.readFileSync(path.join(again, 'loose.txt'), 'utf8')).toBe('written over REST\n');
    await settled(id);
  });

  it('the SDK forks with RepoCreateRelaceSource; an empty source forks into an empty repository', async () => {
    const client = new Relace({ apiKey: s.admin, baseURL: `${s.url}/v1`, maxRetries: 0 });
    const src = await source();
    const made = await client.repo.create({ source: { type: 'relace', repo_id: src }, metadata: { task: '1' } });
    expect(made.repo_head).toMatch(/^[0-9a-f]{40}$/);
    expect((await client.repo.get(made.repo_id)).metadata).toEqual({ task: '1' }); // copy_metadata defaults to false
    const files = (await client.repo.clone(made.repo_id)).files.map((f) => f.filename).sort();
    expect(files).toEqual(['a.txt', 'b.txt', 'loose.txt']);

    const empty = await s.createRepo();
    const e = await client.repo.create({ source: { type: 'relace', repo_id: empty } });
    expect(e.repo_head).toBeNull();
    await settled(e.repo_id);
  });
});
