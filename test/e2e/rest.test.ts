// REST API for repositories and tokens through real HTTP requests.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { STORAGE_KINDS, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(STORAGE_KINDS)('REST API (%s storage)', (kind) => {
  let s: TestServer;
  const auth = (t: string) => ({ Authorization: `Bearer ${t}` });
  beforeAll(async () => {
    s = await startTestServer(kind);
  });
  afterAll(async () => {
    await s.close();
  });

  it('creates, describes, lists and deletes repositories', async () => {
    const res = await s.api.post('/v1/repo').set(auth(s.admin)).send({ metadata: { team: 'a' }, name: `r-${kind}` });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ repo_id: expect.stringMatching(/^[0-9a-f-]{36}$/), repo_head: null });
    const id = res.body.repo_id;
    const meta = await s.api.get(`/v1/repo/${id}`).set(auth(s.admin));
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({ repo_id: id, metadata: { team: 'a' }, name: `r-${kind}`, created_at: expect.any(String) });
    expect((await s.api.get(`/v1/repo/r-${kind}`).set(auth(s.admin))).body.repo_id).toBe(id);

    const dup = await s.api.post('/v1/repo').set(auth(s.admin)).send({ name: `r-${kind}` });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('NAME_TAKEN');

    const filtered = await s.api.get('/v1/repo').query({ filter_metadata: JSON.stringify({ team: 'a' }) }).set(auth(s.admin));
    expect(filtered.body.items.map((r: { repo_id: string }) => r.repo_id)).toEqual([id]);
    expect(filtered.body.total_items).toBe(1);

    const del = await s.api.delete(`/v1/repo/${id}`).set(auth(s.admin));
    expect(del.status).toBe(204);
    expect((await s.api.get(`/v1/repo/${id}`).set(auth(s.admin))).status).toBe(404);
    expect(await s.ctx.storage.exists(s.ctx.manager.gitdirOf(id))).toBe(false);
  });

  it('paginates the repository list', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await s.createRepo({ metadata: { page: 'test' } }));
    const q = { filter_metadata: JSON.stringify({ page: 'test' }), page_size: 2, order_by: 'created_at' };
    const p1 = await s.api.get('/v1/repo').query({ ...q, page_start: 0 }).set(auth(s.admin));
    expect(p1.body.items).toHaveLength(2);
    expect(p1.body.total_items).toBe(5);
    expect(p1.body.next_page).toBe(2);
    const p3 = await s.api.get('/v1/repo').query({ ...q, page_start: 4 }).set(auth(s.admin));
    expect(p3.body.items).toHaveLength(1);
    expect(p3.body.next_page).toBe(null);
    const all = [...p1.body.items, ...(await s.api.get('/v1/repo').query({ ...q, page_start: 2 }).set(auth(s.admin))).body.items, ...p3.body.items];
    expect(all.map((r: { repo_id: string }) => r.repo_id).sort()).toEqual([...ids].sort());
  });

  it('mints repo tokens with the Relace shape and reads and revokes them by secret or id', async () => {
    const id = await s.createRepo();
    const res = await s.api.post('/v1/repo_token').set(auth(s.admin)).send({ name: 'agent', repo_ids: [id], ttl_seconds: 3600, permission: 'read' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ token: expect.stringMatching(/^ggr_/), id: expect.any(String), name: 'agent', repo_ids: [id], permission: 'read' });
    expect(Date.parse(res.body.expires_at) - Date.now()).toBeGreaterThan(3500_000);
    const bySecret = await s.api.get(`/v1/repo_token/${res.body.token}`).set(auth(s.admin));
    expect(bySecret.status).toBe(200);
    expect(bySecret.body).toMatchObject({ id: res.body.id, name: 'agent', repo_ids: [id], revoked_at: null, created_by: expect.any(String) });
    expect(JSON.stringify(bySecret.body)).not.toContain(res.body.token);
    const list = await s.api.get('/v1/repo_token').query({ repo_id: id }).set(auth(s.admin));
    expect(list.body.items.map((t: { id: string }) => t.id)).toContain(res.body.id);
    expect(list.body).toHaveProperty('total_items');
    const del = await s.api.delete(`/v1/repo_token/${res.body.token}`).set(auth(s.admin));
    expect(del.status).toBe(204);
    const after = await s.api.get(`/v1/repo_token/${res.body.id}`).set(auth(s.admin));
    expect(after.body.revoked_at).not.toBe(null);
  });

  it('keeps repo tokens off the control plane', async () => {
    const id = await s.createRepo();
    const { token } = await s.mint({ name: 'admin of one', repo_ids: [id], permission: 'admin' });
    const create = await s.api.post('/v1/repo').set(auth(token)).send({});
    expect(create.status).toBe(403);
    expect(create.body.error.code).toBe('CONTROL_PLANE_ONLY');
    const ws = await s.api.post('/v1/workspace_token').set(auth(token)).send({ name: 'escalate' });
    expect(ws.status).toBe(403);
    const list = await s.api.get('/v1/repo').set(auth(token));
    expect(list.body.items.map((r: { repo_id: string }) => r.repo_id)).toEqual([id]);
  });

  it('enforces attenuation: permission, repositories and expiry', async () => {
    const a = await s.createRepo();
    const b = await s.createRepo();
    const writer = await s.mint({ name: 'writer', repo_ids: [a], permission: 'write' });
    const cannot = await s.api.post('/v1/repo_token').set(auth(writer.token)).send({ name: 'child', repo_ids: [a], permission: 'read' });
    expect(cannot.status).toBe(403);

    const admin = await s.mint({ name: 'repo admin', repo_ids: [a], permission: 'admin', ttl_seconds: 600 });
    const ok = await s.api.post('/v1/repo_token').set(auth(admin.token)).send({ name: 'child', repo_ids: [a], permission: 'write', ttl_seconds: 60 });
    expect(ok.status).toBe(201);
    const otherRepo = await s.api.post('/v1/repo_token').set(auth(admin.token)).send({ name: 'child', repo_ids: [b] });
    expect(otherRepo.status).toBe(404); // b is invisible to this token
    const longer = await s.api.post('/v1/repo_token').set(auth(admin.token)).send({ name: 'child', repo_ids: [a], ttl_seconds: 6000 });
    expect(longer.status).toBe(403);
    expect(longer.body.error.code).toBe('ATTENUATION');
    const readAdmin = await s.mint({ name: 'ra', repo_ids: [a], permission: 'read' });
    const stronger = await s.api.post('/v1/repo_token').set(auth(readAdmin.token)).send({ name: 'c', repo_ids: [a], permission: 'admin' });
    expect(stronger.status).toBe(403);
  });

  it('revokes transitively: revoking a parent kills its children and grandchildren at once', async () => {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'x', content: 'x' }] } });
    const parent = await s.mint({ name: 'p', repo_ids: [id], permission: 'admin' });
    const child = await s.mint({ name: 'c', repo_ids: [id], permission: 'admin' }, parent.token);
    const grandchild = await s.mint({ name: 'g', repo_ids: [id], permission: 'read' }, child.token);
    expect((await git(['ls-remote', s.gitUrl(id, grandchild.token)])).code).toBe(0);
    expect((await s.api.delete(`/v1/repo_token/${parent.id}`).set(auth(s.admin))).status).toBe(204);
    for (const t of [parent, child, grandchild]) {
      const r = await s.api.get(`/v1/repo/${id}.git/info/refs?service=git-upload-pack`).set(auth(t.token));
      expect(r.status).toBe(401);
    }
  });

  it('lets workspace admins mint workspace tokens and nobody else', async () => {
    const res = await s.api.post('/v1/workspace_token').set(auth(s.admin)).send({ name: 'ci', permission: 'write' });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^ggw_/);
    const again = await s.api.post('/v1/workspace_token').set(auth(res.body.token)).send({ name: 'x', permission: 'read' });
    expect(again.status).toBe(403);
    const create = await s.api.post('/v1/repo').set(auth(res.body.token)).send({});
    expect(create.status).toBe(201);
  });

  it('issues Flashback API keys whose access type limits them', async () => {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'f', content: 'f\n' }] } });
    const res = await s.api.post(`/v1/repo/${id}/apikey`).set(auth(s.admin)).send({ name: 'fb', accessType: 'READ' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ success: true, id: expect.any(String), key: expect.any(String), secret: expect.stringMatching(/^ggr_/) });
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, res.body.secret, res.body.key), w]);
    await commitFiles(w, { g: 'g\n' }, 'try');
    const push = await git(['push', 'origin', 'main'], { cwd: w });
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/403|Permission denied/);
    const del = await s.api.delete(`/v1/repo/${id}`).set(auth(res.body.secret));
    expect(del.status).toBe(403);
    const bad = await s.api.post(`/v1/repo/${id}/apikey`).set(auth(s.admin)).send({ name: 'fb', accessType: 'OWNER' });
    expect(bad.status).toBe(400);
  });

  it('removes a deleted repository from token scopes', async () => {
    const id = await s.createRepo();
    const t = await s.mint({ name: 'scoped', repo_ids: [id], permission: 'admin' });
    expect((await s.api.delete(`/v1/repo/${id}`).set(auth(t.token))).status).toBe(204);
    const rec = await s.api.get(`/v1/repo_token/${t.id}`).set(auth(s.admin));
    expect(rec.body.repo_ids).toEqual([]);
  });
});
