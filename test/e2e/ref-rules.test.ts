// Ref scopes, force/delete rights and protected refs, end to end: real git pushes over smart
// HTTP (the refusal reasons must reach git's output), REST writes, and attenuation when minting.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { leftovers, rev } from '../helpers/push.js';
import { STORAGE_KINDS, type TestServer, bearer, useTestServer } from '../helpers/server.js';

const AGENT_SCOPE_REFUSAL = "refusing to update refs/heads/main: outside this token's ref scope (refs/heads/agent/*)";

describe.each(STORAGE_KINDS)('ref rules (%s storage)', (kind) => {
  let s: TestServer;
  useTestServer(kind, (started) => (s = started));


  /** A repository with one commit on main. */
  async function seeded(): Promise<{ id: string; base: string }> {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'f.txt', content: '0\n' }] } });
    const base = await bareRef(id, 'refs/heads/main');
    return { id, base: base! };
  }

  /** A ref as the bare repository on disk has it (git rev-parse), null when absent. */
  async function bareRef(id: string, ref: string): Promise<string | null> {
    const r = await git(['--git-dir', await s.bareRepo(id), 'rev-parse', '--verify', '-q', ref]);
    return r.code === 0 ? r.stdout.trim() : null;
  }

  async function cloneWith(id: string, secret: string): Promise<string> {
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, secret), w]);
    return w;
  }

  async function settled(id: string): Promise<void> {
    await s.fsck(id);
    expect(await leftovers(s, id)).toEqual([]);
  }

  it('a token scoped to refs/heads/agent/* reads everything but pushes only agent branches', async () => {
    const { id, base } = await seeded();
    const agent = await s.mint({ repo_ids: [id], permission: 'write', refs: ['refs/heads/agent/*'], name: 'agent' });
    const w = await cloneWith(id, agent.token); // reading is not restricted
    expect(await rev(w, 'HEAD')).toBe(base);
    const c1 = await commitFiles(w, { 'f.txt': '1\n' }, 'one');

    const ok = await git(['push', 'origin', 'HEAD:refs/heads/agent/x'], { cwd: w });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('* [new branch]      HEAD -> agent/x');
    expect(await bareRef(id, 'refs/heads/agent/x')).toBe(c1);

    const main = await git(['push', 'origin', 'HEAD:main'], { cwd: w });
    expect(main.code).not.toBe(0);
    expect(main.stderr).toContain(`! [remote rejected] HEAD -> main (${AGENT_SCOPE_REFUSAL})`);
    expect(await bareRef(id, 'refs/heads/main')).toBe(base);

    // deeper names match too; tags are outside the scope
    expect((await git(['push', 'origin', 'HEAD:refs/heads/agent/team/y'], { cwd: w })).code).toBe(0);
    await gitOk(['tag', 'v1'], { cwd: w });
    const tag = await git(['push', 'origin', 'v1'], { cwd: w });
    expect(tag.code).not.toBe(0);
    expect(tag.stderr).toContain("(refusing to create refs/tags/v1: outside this token's ref scope (refs/heads/agent/*))");
    expect(await bareRef(id, 'refs/tags/v1')).toBeNull();

    // a non-atomic push of both: the agent branch moves, main does not
    const c2 = await commitFiles(w, { 'f.txt': '2\n' }, 'two');
    const mixed = await git(['push', 'origin', 'HEAD:refs/heads/agent/x', 'HEAD:main'], { cwd: w });
    expect(mixed.code).not.toBe(0);
    expect(mixed.stderr).toMatch(/\w+\.\.\w+\s+HEAD -> agent\/x/);
    expect(await bareRef(id, 'refs/heads/agent/x')).toBe(c2);
    expect(await bareRef(id, 'refs/heads/main')).toBe(base);

    // an atomic push mixing both changes nothing
    const c3 = await commitFiles(w, { 'f.txt': '3\n' }, 'three');
    const atomic = await git(['push', '--atomic', 'origin', 'HEAD:refs/heads/agent/x', 'HEAD:refs/heads/agent/new', 'HEAD:main'], { cwd: w });
    expect(atomic.code).not.toBe(0);
    expect(atomic.stderr).toContain(AGENT_SCOPE_REFUSAL);
    expect(atomic.stderr).toMatch(/HEAD -> agent\/x \(atomic push failure\)/);
    expect(await bareRef(id, 'refs/heads/agent/x')).toBe(c2);
    expect(await bareRef(id, 'refs/heads/agent/new')).toBeNull();
    expect(await bareRef(id, 'refs/heads/main')).toBe(base);
    expect(c3).not.toBe(c2);
    await settled(id);
  });

  it('force-pushes and deletions need allow_force / allow_delete', async () => {
    const { id, base } = await seeded();
    const weak = await s.mint({ repo_ids: [id], permission: 'write', refs: ['refs/heads/agent/*'] });
    const w = await cloneWith(id, weak.token);
    const c1 = await commitFiles(w, { 'f.txt': '1\n' }, 'one');
    await gitOk(['push', '-q', 'origin', 'HEAD:refs/heads/agent/x'], { cwd: w });

    // diverge from c1 and force
    await gitOk(['reset', '-q', '--hard', base], { cwd: w });
    const other = await commitFiles(w, { 'g.txt': 'g\n' }, 'diverged');
    const forced = await git(['push', '--force', 'origin', 'HEAD:refs/heads/agent/x'], { cwd: w });
    expect(forced.code).not.toBe(0);
    expect(forced.stderr).toContain('(non-fast-forward update refused: this token may not force-push (refs/heads/agent/x))');
    expect(await bareRef(id, 'refs/heads/agent/x')).toBe(c1);

    // a fast-forward is still fine
    await gitOk(['reset', '-q', '--hard', c1], { cwd: w });
    const c2 = await commitFiles(w, { 'f.txt': '2\n' }, 'two');
    const ff = await git(['push', 'origin', 'HEAD:refs/heads/agent/x'], { cwd: w });
    expect(ff.code, ff.stderr).toBe(0);
    expect(await bareRef(id, 'refs/heads/agent/x')).toBe(c2);

    const del = await git(['push', 'origin', '--delete', 'agent/x'], { cwd: w });
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain('(deletion refused: this token may not delete refs (refs/heads/agent/x))');
    expect(await bareRef(id, 'refs/heads/agent/x')).toBe(c2);

    // the same with the rights
    const strong = await s.mint({ repo_ids: [id], permission: 'write', refs: ['refs/heads/agent/*'], allow_force: true, allow_delete: true });
    expect(strong).toMatchObject({ refs: ['refs/heads/agent/*'], allow_force: true, allow_delete: true });
    await gitOk(['remote', 'set-url', 'origin', s.gitUrl(id, strong.token)], { cwd: w });
    await gitOk(['reset', '-q', '--hard', other], { cwd: w });
    const forcedOk = await git(['push', '--force', 'origin', 'HEAD:refs/heads/agent/x'], { cwd: w });
    expect(forcedOk.code, forcedOk.stderr).toBe(0);
    expect(forcedOk.stderr).toContain('(forced update)');
    expect(await bareRef(id, 'refs/heads/agent/x')).toBe(other);
    const delOk = await git(['push', 'origin', '--delete', 'agent/x'], { cwd: w });
    expect(delOk.code, delOk.stderr).toBe(0);
    expect(await bareRef(id, 'refs/heads/agent/x')).toBeNull();

    // an unrestricted token keeps both rights by default (nothing changes for existing users)
    const plain = await s.mint({ repo_ids: [id], permission: 'write' });
    expect(plain).toMatchObject({ refs: [], allow_force: true, allow_delete: true });
    await settled(id);
  });

  it('a token without allow_force may not move an existing tag', async () => {
    const { id, base } = await seeded();
    const tok = await s.mint({ repo_ids: [id], permission: 'write', refs: ['refs/tags/*', 'refs/heads/*'] });
    const w = await cloneWith(id, tok.token);
    await gitOk(['tag', 'v1', base], { cwd: w });
    expect((await git(['push', 'origin', 'v1'], { cwd: w })).code).toBe(0);
    const c1 = await commitFiles(w, { 'f.txt': '1\n' }, 'one');
    await gitOk(['tag', '-f', 'v1', c1], { cwd: w });
    const moved = await git(['push', '--force', 'origin', 'v1'], { cwd: w });
    expect(moved.code).not.toBe(0);
    expect(moved.stderr).toContain('non-fast-forward update refused: this token may not force-push (refs/tags/v1)');
    expect(await bareRef(id, 'refs/tags/v1')).toBe(base);
  });

  it('protected refs: only admins update them, by push or REST', async () => {
    const { id, base } = await seeded();
    const admin = await s.mint({ repo_ids: [id], permission: 'admin' });
    const writer = await s.mint({ repo_ids: [id], permission: 'write' });
    const reader = await s.mint({ repo_ids: [id], permission: 'read' });

    expect((await s.api.get(`/v1/repo/${id}/protected_refs`).set(bearer(reader.token))).body).toEqual({ patterns: [] });
    const denied = await s.api.put(`/v1/repo/${id}/protected_refs`).set(bearer(writer.token)).send({ patterns: ['refs/heads/main'] });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');
    const bad = await s.api.put(`/v1/repo/${id}/protected_refs`).set(bearer(admin.token)).send({ patterns: ['main'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION', message: expect.stringContaining('must start with refs/') });
    const set = await s.api.put(`/v1/repo/${id}/protected_refs`).set(bearer(admin.token)).send({ patterns: ['refs/heads/main', 'refs/tags/*'] });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ patterns: ['refs/heads/main', 'refs/tags/*'] });
    expect((await s.api.get(`/v1/repo/${id}/protected_refs`).set(bearer(reader.token))).body).toEqual({ patterns: ['refs/heads/main', 'refs/tags/*'] });
    const events = await s.api.get(`/v1/audit?repo_id=${id}&action=repo.protected_refs`).set(bearer(admin.token));
    expect(events.status).toBe(200);
    expect(events.body.items).toHaveLength(1); // the refused and invalid attempts changed nothing
    expect(events.body.items[0]).toMatchObject({ actor_token_id: admin.id, repo_id: id, detail: { before: [], after: ['refs/heads/main', 'refs/tags/*'] } });

    const w = await cloneWith(id, writer.token);
    const c1 = await commitFiles(w, { 'f.txt': '1\n' }, 'one');
    const refused = await git(['push', 'origin', 'HEAD:main'], { cwd: w });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('! [remote rejected] HEAD -> main (protected ref: only admins may update refs/heads/main)');
    expect(await bareRef(id, 'refs/heads/main')).toBe(base);
    expect((await git(['push', 'origin', 'HEAD:refs/heads/feature'], { cwd: w })).code).toBe(0); // others are fine
    await gitOk(['tag', 't1'], { cwd: w });
    const tag = await git(['push', 'origin', 't1'], { cwd: w });
    expect(tag.stderr).toContain('(protected ref: only admins may create refs/tags/t1)');

    await gitOk(['remote', 'set-url', 'origin', s.gitUrl(id, admin.token)], { cwd: w });
    const allowed = await git(['push', 'origin', 'HEAD:main'], { cwd: w });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(await bareRef(id, 'refs/heads/main')).toBe(c1);

    // REST writes go to HEAD's branch, main
    const put = await s.api.put(`/v1/repo/${id}/file/rest.txt`).set(bearer(writer.token)).send('x');
    expect(put.status).toBe(403);
    expect(put.body.error).toEqual({ code: 'FORBIDDEN', message: 'Permission denied: protected ref: only admins may update refs/heads/main' });
    const del = await s.api.delete(`/v1/repo/${id}/file/f.txt`).set(bearer(writer.token));
    expect(del.status).toBe(403);
    const upd = await s.api.post(`/v1/repo/${id}/update`).set(bearer(writer.token)).send({ source: { type: 'diff', operations: [{ type: 'write', filename: 'u.txt', content: 'u' }] } });
    expect(upd.status).toBe(403);
    expect(await bareRef(id, 'refs/heads/main')).toBe(c1);
    const putAdmin = await s.api.put(`/v1/repo/${id}/file/rest.txt`).set(bearer(admin.token)).send('x');
    expect(putAdmin.status).toBe(200);
    expect(await bareRef(id, 'refs/heads/main')).toBe(putAdmin.body.repo_head);
    const putWorkspace = await s.api.put(`/v1/repo/${id}/file/rest2.txt`).set(bearer(s.admin)).send('y');
    expect(putWorkspace.status).toBe(200);

    // unprotecting opens it again; deleting the repository drops its patterns
    expect((await s.api.put(`/v1/repo/${id}/protected_refs`).set(bearer(admin.token)).send({ patterns: ['refs/tags/*'] })).body).toEqual({ patterns: ['refs/tags/*'] });
    expect((await s.api.put(`/v1/repo/${id}/file/rest3.txt`).set(bearer(writer.token)).send('z')).status).toBe(200);
    await s.fsck(id);
    expect((await s.api.delete(`/v1/repo/${id}`).set(bearer(s.admin))).status).toBe(204);
    expect(await s.ctx.repos.protectedRefs(id)).toEqual([]);
  });

  it('REST writes honour ref scopes', async () => {
    const { id, base } = await seeded();
    const agent = await s.mint({ repo_ids: [id], permission: 'write', refs: ['refs/heads/agent/*'] });
    const mainOnly = await s.mint({ repo_ids: [id], permission: 'write', refs: ['refs/heads/main'] });

    const put = await s.api.put(`/v1/repo/${id}/file/a.txt`).set(bearer(agent.token)).send('a');
    expect(put.status).toBe(403);
    expect(put.body.error).toEqual({ code: 'FORBIDDEN', message: `Permission denied: ${AGENT_SCOPE_REFUSAL}` });
    expect((await s.api.delete(`/v1/repo/${id}/file/f.txt`).set(bearer(agent.token))).status).toBe(403);
    const upd = await s.api.post(`/v1/repo/${id}/update`).set(bearer(agent.token)).send({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a' }] } });
    expect(upd.status).toBe(403);
    expect(await bareRef(id, 'refs/heads/main')).toBe(base);
    // metadata alone moves no ref; reading is not restricted
    const meta = await s.api.post(`/v1/repo/${id}/update`).set(bearer(agent.token)).send({ metadata: { k: 'v' } });
    expect(meta.status).toBe(200);
    expect((await s.api.get(`/v1/repo/${id}/file/f.txt`).set(bearer(agent.token))).status).toBe(200);

    const ok = await s.api.put(`/v1/repo/${id}/file/a.txt`).set(bearer(mainOnly.token)).send('a');
    expect(ok.status).toBe(200);
    expect(ok.body.changed_files).toEqual(['a.txt']);
    expect(await bareRef(id, 'refs/heads/main')).toBe(ok.body.repo_head);
    const upd2 = await s.api.post(`/v1/repo/${id}/update`).set(bearer(mainOnly.token)).send({ source: { type: 'diff', operations: [{ type: 'delete', filename: 'a.txt' }] } });
    expect(upd2.status).toBe(200);
    expect(upd2.body.changed_files).toEqual(['a.txt']);
    await s.fsck(id);
  });

  it('minting: ref scopes and rights are attenuated and shown in listings', async () => {
    const { id } = await seeded();
    const parent = await s.mint({ repo_ids: [id], permission: 'admin', refs: ['refs/heads/agent/*'], allow_delete: true });
    expect(parent).toMatchObject({ refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: true });

    const child = await s.mint({ repo_ids: [id], permission: 'write', refs: ['refs/heads/agent/sub/*'] }, parent.token);
    expect(child).toMatchObject({ refs: ['refs/heads/agent/sub/*'], allow_force: false, allow_delete: false });
    const inherited = await s.mint({ repo_ids: [id], permission: 'read' }, parent.token);
    expect(inherited).toMatchObject({ refs: ['refs/heads/agent/*'] });

    const attempt = (body: object) => s.api.post('/v1/repo_token').set(bearer(parent.token)).send({ repo_ids: [id], permission: 'write', ...body });
    const outside = await attempt({ refs: ['refs/heads/main'] });
    expect(outside.status).toBe(403);
    expect(outside.body.error.code).toBe('ATTENUATION');
    expect(outside.body.error.message).toContain("ref pattern refs/heads/main is outside the minting token's ref scope (refs/heads/agent/*)");
    const wider = await attempt({ refs: ['refs/heads/*'] });
    expect(wider.status).toBe(403);
    const unrestricted = await attempt({ refs: [] });
    expect(unrestricted.status).toBe(403);
    expect(unrestricted.body.error.code).toBe('ATTENUATION');
    const force = await attempt({ refs: ['refs/heads/agent/a'], allow_force: true });
    expect(force.status).toBe(403);
    expect(force.body.error.message).toContain('may not force-push');
    expect((await attempt({ refs: ['refs/heads/agent/a'], allow_delete: true })).status).toBe(201);
    for (const refs of [['heads/x'], ['refs/heads/a*b*'], ['refs/heads/a b'], 'refs/heads/x']) {
      const bad = await attempt({ refs });
      expect(bad.status, JSON.stringify(refs)).toBe(400);
      expect(bad.body.error.code).toBe('VALIDATION');
    }
    // workspace tokens take ref scopes too
    const ws = await s.api.post('/v1/workspace_token').set(bearer(s.admin)).send({ permission: 'write', refs: ['refs/heads/bots/*'] });
    expect(ws.status).toBe(201);
    expect(ws.body).toMatchObject({ refs: ['refs/heads/bots/*'], allow_force: false, allow_delete: false });
    // and a ref-scoped workspace token cannot create a repository with content on main
    const create = await s.api.post('/v1/repo').set(bearer(ws.body.token)).send({ source: { type: 'files', files: [{ filename: 'a', content: 'a' }] } });
    expect(create.status).toBe(403);
    expect((await s.api.post('/v1/repo').set(bearer(ws.body.token)).send({})).status).toBe(201);

    const one = await s.api.get(`/v1/repo_token/${child.id}`).set(bearer(s.admin));
    expect(one.body).toMatchObject({ id: child.id, refs: ['refs/heads/agent/sub/*'], allow_force: false, allow_delete: false });
    const list = await s.api.get(`/v1/repo_token?repo_id=${id}`).set(bearer(s.admin));
    const byId = new Map((list.body.items as { id: string }[]).map((t) => [t.id, t]));
    expect(byId.get(parent.id)).toMatchObject({ refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: true });
    expect(byId.get(child.id)).toMatchObject({ refs: ['refs/heads/agent/sub/*'], allow_force: false, allow_delete: false });
  });
});
