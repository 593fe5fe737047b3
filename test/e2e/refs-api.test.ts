// Branches and tags over REST: GET/POST/DELETE /v1/repo/:id/refs. Writes obey the push rules
// (write permission, ref scope, allow_delete, protected refs), run under the repository lock
// with compare-and-swap, are audited, and what they write is what git then clones.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { leftovers } from '../helpers/push.js';
import { STORAGE_KINDS, type TestServer, bearer, useTestServer } from '../helpers/server.js';

describe.each(STORAGE_KINDS)('refs API (%s storage)', (kind) => {
  let s: TestServer;
  useTestServer(kind, (started) => (s = started));


  /** A repository with two commits on main and an annotated tag, pushed by git. */
  async function seeded(): Promise<{ id: string; first: string; second: string; w: string }> {
    const id = await s.createRepo();
    const w = path.join(tmpDir(), 'w');
    await gitOk(['init', '-q', '-b', 'main', w]);
    const first = await commitFiles(w, { 'a.txt': '1\n' }, 'one');
    const second = await commitFiles(w, { 'a.txt': '2\n' }, 'two');
    await gitOk(['tag', '-a', 'v1', '-m', 'v1', first], { cwd: w });
    await gitOk(['push', '-q', s.gitUrl(id, s.admin), 'main', 'v1'], { cwd: w });
    return { id, first, second, w };
  }

  async function bareRefs(id: string): Promise<string> {
    return gitOk(['--git-dir', await s.bareRepo(id), 'for-each-ref', '--format=%(refname) %(objectname)']);
  }

  async function settled(id: string): Promise<void> {
    await s.fsck(id);
    expect(await leftovers(s, id)).toEqual([]);
  }

  it('a token scoped to refs/heads/agent/* creates its branches but not main, tags or protected refs; nothing moves on refusal', async () => {
    const { id, first, second } = await seeded();
    const agent = await s.mint({ repo_ids: [id], permission: 'write', refs: ['refs/heads/agent/*'], name: 'agent' });
    const before = await bareRefs(id);
    for (const ref of ['refs/heads/main', 'refs/heads/other', 'refs/tags/v2']) {
      const res = await s.api.post(`/v1/repo/${id}/refs`).set(bearer(agent.token)).send({ ref, commit: first });
      expect(res.status, ref).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      expect(res.body.error.message).toContain("outside this token's ref scope (refs/heads/agent/*)");
    }
    // deleting needs allow_delete, whatever the scope says
    const delMain = await s.api.delete(`/v1/repo/${id}/refs/heads/main`).set(bearer(agent.token));
    expect(delMain.status).toBe(403);
    expect(await bareRefs(id)).toBe(before);

    const made = await s.api.post(`/v1/repo/${id}/refs`).set(bearer(agent.token)).send({ ref: 'refs/heads/agent/task-1', commit: 'main' });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({ ref: 'refs/heads/agent/task-1', type: 'branch', object: second, commit: second });
    const del = await s.api.delete(`/v1/repo/${id}/refs/heads/agent/task-1`).set(bearer(agent.token));
    expect(del.status).toBe(403);
    expect(del.body.error.message).toContain('deletion refused: this token may not delete refs (refs/heads/agent/task-1)');

    // protected refs: only admins, even for an unrestricted write token
    await s.api.put(`/v1/repo/${id}/protected_refs`).set(bearer(s.admin)).send({ patterns: ['refs/heads/release/*'] }).expect(200);
    const writer = await s.mint({ repo_ids: [id], permission: 'write', name: 'writer' });
    const prot = await s.api.post(`/v1/repo/${id}/refs`).set(bearer(writer.token)).send({ ref: 'refs/heads/release/1', commit: first });
    expect(prot.status).toBe(403);
    expect(prot.body.error.message).toContain('protected ref: only admins may create refs/heads/release/1');
    const admin = await s.mint({ repo_ids: [id], permission: 'admin', name: 'repo admin' });
    expect((await s.api.post(`/v1/repo/${id}/refs`).set(bearer(admin.token)).send({ ref: 'refs/heads/release/1', commit: first })).status).toBe(201);
    expect((await s.api.delete(`/v1/repo/${id}/refs/heads/release/1`).set(bearer(writer.token))).status).toBe(403);

    // read tokens read, never write; other repositories' tokens see nothing
    const reader = await s.mint({ repo_ids: [id], permission: 'read' });
    expect((await s.api.post(`/v1/repo/${id}/refs`).set(bearer(reader.token)).send({ ref: 'refs/heads/r', commit: first })).status).toBe(403);
    expect((await s.api.get(`/v1/repo/${id}/refs`).set(bearer(reader.token))).status).toBe(200);
    const other = await s.mint({ repo_ids: [await s.createRepo()], permission: 'admin' });
    expect((await s.api.get(`/v1/repo/${id}/refs`).set(bearer(other.token))).status).toBe(404);
    expect((await s.api.delete(`/v1/repo/${id}/refs/heads/agent/task-1`).set(bearer(other.token))).status).toBe(404);
    await settled(id);
  });

  it('bad input: a clear error and no change on disk', async () => {
    const { id, first } = await seeded();
    const before = await bareRefs(id);
    const cases: [object, number, string][] = [
      [{ ref: 'refs/heads/a..b', commit: first }, 400, 'BAD_REF_NAME'],
      [{ ref: 'refs/heads/x.lock', commit: first }, 400, 'BAD_REF_NAME'],
      [{ ref: 'refs/notes/x', commit: first }, 400, 'BAD_REF_NAME'],
      [{ ref: 'HEAD', commit: first }, 400, 'BAD_REF_NAME'],
      [{ ref: 'refs/heads/../../config', commit: first }, 400, 'BAD_REF_NAME'],
      [{ ref: 'refs/heads/new', commit: 'f'.repeat(40) }, 404, 'COMMIT_NOT_FOUND'],
      [{ ref: 'refs/heads/new', commit: 'no-such-branch' }, 404, 'COMMIT_NOT_FOUND'],
      [{ ref: 'refs/heads/new' }, 400, 'VALIDATION'],
      [{ ref: 'refs/heads/main', commit: first }, 409, 'REF_EXISTS'],
      [{ ref: 'refs/heads/main/sub', commit: first }, 409, 'REF_CONFLICT'],
    ];
    for (const [body, status, code] of cases) {
      const res = await s.api.post(`/v1/repo/${id}/refs`).set(bearer(s.admin)).send(body);
      expect([res.status, res.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
    const notJson = await s.api.post(`/v1/repo/${id}/refs`).set(bearer(s.admin)).set('Content-Type', 'application/json').send('{"ref":');
    expect(notJson.status).toBe(400);
    expect((await s.api.delete(`/v1/repo/${id}/refs/heads/nope`).set(bearer(s.admin))).body.error.code).toBe('REF_NOT_FOUND');
    const current = await s.api.delete(`/v1/repo/${id}/refs/heads/main`).set(bearer(s.admin));
    expect(current.status).toBe(409);
    expect(current.body.error.message).toContain('deletion of the current branch prohibited');
    expect((await s.api.get(`/v1/repo/${id}/refs?page_size=0`).set(bearer(s.admin))).status).toBe(400);
    expect(await bareRefs(id)).toBe(before);
    await settled(id);
  });

  it('lists branches and tags with their commits, paginated and by prefix, as git sees them', async () => {
    const { id, first, second } = await seeded();
    for (const name of ['agent/b', 'agent/a', 'feature']) {
      expect((await s.api.post(`/v1/repo/${id}/refs`).set(bearer(s.admin)).send({ ref: `refs/heads/${name}`, commit: first })).status).toBe(201);
    }
    // a lightweight tag from a tag name peels to its commit
    const light = await s.api.post(`/v1/repo/${id}/refs`).set(bearer(s.admin)).send({ ref: 'refs/tags/light', commit: 'v1' });
    expect(light.body).toMatchObject({ type: 'tag', commit: first });
    const all = await s.api.get(`/v1/repo/${id}/refs`).set(bearer(s.admin));
    expect(all.status).toBe(200);
    const lines = (await bareRefs(id)).trim().split('\n').map((l) => l.split(' '));
    expect(all.body.items.map((i: { ref: string; object: string }) => [i.ref, i.object])).toEqual(lines);
    expect(all.body.total_items).toBe(lines.length);
    const v1 = all.body.items.find((i: { ref: string }) => i.ref === 'refs/tags/v1');
    expect(v1.commit).toBe(first);
    expect(v1.object).not.toBe(first); // the annotated tag object
    expect(all.body.items.find((i: { ref: string }) => i.ref === 'refs/heads/main').commit).toBe(second);

    const page1 = await s.api.get(`/v1/repo/${id}/refs?prefix=refs/heads/&page_size=2`).set(bearer(s.admin));
    expect(page1.body.items.map((i: { ref: string }) => i.ref)).toEqual(['refs/heads/agent/a', 'refs/heads/agent/b']);
    expect(page1.body).toMatchObject({ total_items: 4, next_page: 2 });
    const page2 = await s.api.get(`/v1/repo/${id}/refs?prefix=refs/heads/&page_size=2&page_start=2`).set(bearer(s.admin));
    expect(page2.body.items.map((i: { ref: string }) => i.ref)).toEqual(['refs/heads/feature', 'refs/heads/main']);
    expect(page2.body.next_page).toBeNull();

    // deletion: gone for git too, and git can clone the branches the API made
    expect((await s.api.delete(`/v1/repo/${id}/refs/heads/agent/a`).set(bearer(s.admin))).status).toBe(204);
    expect((await s.api.delete(`/v1/repo/${id}/refs/${encodeURIComponent('refs/tags/light')}`).set(bearer(s.admin))).status).toBe(204);
    const remote = await gitOk(['ls-remote', s.gitUrl(id, s.admin)]);
    expect(remote).not.toContain('refs/heads/agent/a');
    expect(remote).not.toContain('refs/tags/light');
    expect(remote).toContain(`${first}\trefs/heads/agent/b`);
    const w = path.join(tmpDir(), 'c');
    await gitOk(['clone', '-q', '-b', 'feature', s.gitUrl(id, s.admin), w]);
    expect((await gitOk(['rev-parse', 'HEAD'], { cwd: w })).trim()).toBe(first);
    await settled(id);
  });

  it('concurrent creations of one ref: exactly one wins (compare-and-swap under the lock), and each is audited', async () => {
    const { id, first, second } = await seeded();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => s.api.post(`/v1/repo/${id}/refs`).set(bearer(s.admin)).send({ ref: 'refs/heads/race', commit: i % 2 ? first : second })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.error.code === 'REF_EXISTS')).toBe(true);
    expect(results.filter((r) => r.status === 409)).toHaveLength(7);
    const winner = results.find((r) => r.status === 201)!.body.commit;
    expect((await gitOk(['--git-dir', await s.bareRepo(id), 'rev-parse', 'refs/heads/race'])).trim()).toBe(winner);

    // a push racing a REST deletion: one of them wins cleanly
    const w = path.join(tmpDir(), 'p');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), w]);
    await gitOk(['checkout', '-q', '-b', 'race', `origin/race`], { cwd: w });
    await commitFiles(w, { 'b.txt': 'b\n' }, 'on race');
    const [push, del] = await Promise.all([git(['push', 'origin', 'race'], { cwd: w }), s.api.delete(`/v1/repo/${id}/refs/heads/race`).set(bearer(s.admin))]);
    expect(push.code === 0 || del.status === 204).toBe(true);

    const audit = await s.api.get(`/v1/audit?repo_id=${id}&action=ref.update`).set(bearer(s.admin));
    const api = audit.body.items.filter((e: { detail: { via?: string } | null }) => e.detail?.via === 'api:refs');
    expect(api.some((e: { ref: string; new_oid: string; old_oid: string | null }) => e.ref === 'refs/heads/race' && e.new_oid === winner && e.old_oid === null)).toBe(true);
    await settled(id);
  });
});
