// Issue 16 point 1: REST writes and reads take a branch. A token scoped to refs/heads/agent/*
// does a whole task over REST (create its branch from a base, write, delete, read back) and is
// refused everywhere else; expected_head is a lease (409 STALE_REF when the branch moved).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { STORAGE_KINDS, startTestServer, type TestServer } from '../helpers/server.js';

const auth = (t: string) => ({ Authorization: `Bearer ${t}` });

describe.each(STORAGE_KINDS)('branches over REST (%s storage)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind, { GITGATE_IMPORT_ALLOW_NETWORKS: '127.0.0.0/8' }); // pulls from this server
  });
  afterAll(async () => {
    await s.close();
  });

  /** refname -> commit, as C Git sees the bare repository. */
  const refs = async (id: string): Promise<Record<string, string>> => {
    const out = await gitOk(['--git-dir', await s.bareRepo(id), 'for-each-ref', '--format=%(refname) %(objectname)']);
    return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
  };
  const parentOf = async (id: string, commit: string) => (await gitOk(['--git-dir', await s.bareRepo(id), 'rev-parse', `${commit}^`])).trim();

  async function setup() {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }, { filename: 'src/app.ts', content: 'export const app = 1;\n' }] } });
    const protect = await s.api.put(`/v1/repo/${id}/protected_refs`).set(auth(s.admin)).send({ patterns: ['refs/heads/main'] });
    expect(protect.status).toBe(200);
    const agent = await s.mint({ name: 'agent', repo_ids: [id], permission: 'write', refs: ['refs/heads/agent/*'] });
    const main = (await refs(id))['refs/heads/main']!;
    return { id, agent: agent.token, main };
  }

  it('refuses a ref-scoped token everywhere outside its scope, changing nothing', async () => {
    const { id, agent } = await setup();
    const before = await refs(id);
    const put = (q: string) => s.api.put(`/v1/repo/${id}/file/b.txt${q}`).set(auth(agent)).send('b\n');

    const onMain = await put(''); // HEAD's branch, the default
    expect(onMain.status).toBe(403);
    expect(onMain.body.error.message).toContain('outside this token\'s ref scope');
    expect((await put('?branch=main')).status).toBe(403);
    expect((await put('?branch=refs/heads/feature')).status).toBe(403); // creating outside the scope
    const viaBody = await s.api.post(`/v1/repo/${id}/update`).set(auth(agent)).send({ branch: 'main', source: { type: 'diff', operations: [{ type: 'write', filename: 'b.txt', content: 'b\n' }] } });
    expect(viaBody.status).toBe(403);
    const del = await s.api.delete(`/v1/repo/${id}/file/a.txt`).set(auth(agent));
    expect(del.status).toBe(403);
    const merge = await s.api.post(`/v1/repo/${id}/merge`).set(auth(agent)).send({ base: 'main', head: 'main' });
    expect(merge.status).toBe(403);

    // bad names and bases: clear 4xx, nothing created
    const badName = await put('?branch=agent/..x');
    expect([badName.status, badName.body.error.code]).toEqual([400, 'BAD_REF_NAME']);
    expect((await put('?branch=refs/tags/agent/x')).body.error.code).toBe('BAD_REF_NAME');
    const noBase = await put('?branch=agent/x&base=no-such-branch');
    expect([noBase.status, noBase.body.error.code]).toEqual([404, 'COMMIT_NOT_FOUND']);
    const badLease = await put('?branch=agent/x&expected_head=123');
    expect([badLease.status, badLease.body.error.code]).toEqual([400, 'VALIDATION']);
    expect(await refs(id)).toEqual(before);
    await s.fsck(id);
  });

  it('never starts a branch or a merge from a commit no ref reaches (like a fetch want), changing nothing', async () => {
    const { id, agent } = await setup();
    // a commit left behind by a deleted branch: still stored, no longer served
    const work = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), work]);
    const secret = await commitFiles(work, { 'secret.txt': 'deleted on purpose\n' }, 'secret');
    await gitOk(['push', '-q', 'origin', 'HEAD:refs/heads/secret'], { cwd: work });
    await gitOk(['push', '-q', 'origin', ':refs/heads/secret'], { cwd: work });
    expect(await s.ctx.manager.get(id).objects.has(secret)).toBe(true);
    const before = await refs(id);

    const fromSecret = await s.api.put(`/v1/repo/${id}/file/x.txt?branch=agent/leak&base=${secret}`).set(auth(agent)).send('x\n');
    expect([fromSecret.status, fromSecret.body.error.code]).toEqual([404, 'COMMIT_NOT_FOUND']);
    const ok = await s.api.put(`/v1/repo/${id}/file/x.txt?branch=agent/leak&base=main`).set(auth(agent)).send('x\n');
    expect(ok.status).toBe(200);
    const merged = await s.api.post(`/v1/repo/${id}/merge`).set(auth(agent)).send({ base: 'agent/leak', head: secret });
    expect(merged.status).toBe(404);
    expect((await refs(id))['refs/heads/agent/leak']).toBe(ok.body.repo_head);
    expect(Object.keys(await refs(id)).sort()).toEqual([...Object.keys(before), 'refs/heads/agent/leak'].sort());
    await s.fsck(id);
  });

  it('lets an agent/* token create its branch from a base, write, delete and read it back', async () => {
    const { id, agent, main } = await setup();
    // create from main (named), with a file write
    const created = await s.api.put(`/v1/repo/${id}/file/notes%2Fplan.md?branch=agent/task-1&base=main`).set(auth(agent)).send('# plan\n');
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ repo_id: id, branch: 'agent/task-1', changed_files: ['notes/plan.md'] });
    expect(await parentOf(id, created.body.repo_head)).toBe(main);

    // write more on the branch (body field), then delete a file (query)
    const updated = await s.api
      .post(`/v1/repo/${id}/update`)
      .set(auth(agent))
      .send({ branch: 'agent/task-1', expected_head: created.body.repo_head, source: { type: 'diff', operations: [{ type: 'write', filename: 'src/app.ts', content: 'export const app = 2;\n' }] } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ branch: 'agent/task-1', changed_files: ['src/app.ts'] });
    const deleted = await s.api.delete(`/v1/repo/${id}/file/a.txt?branch=refs/heads/agent/task-1`).set(auth(agent));
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ branch: 'agent/task-1', changed_files: ['a.txt'] });
    const tip = deleted.body.repo_head as string;

    // reads with ?branch= see the branch; without, main
    const file = await s.api.get(`/v1/repo/${id}/file/src%2Fapp.ts?branch=agent/task-1`).set(auth(agent));
    expect([file.status, file.headers['x-gitgate-commit'], file.text ?? file.body.toString()]).toEqual([200, tip, 'export const app = 2;\n']);
    const cloned = await s.api.get(`/v1/repo/${id}/clone?branch=agent/task-1`).set(auth(agent));
    expect(cloned.body.files).toEqual([
      { filename: 'notes/plan.md', content: '# plan\n' },
      { filename: 'src/app.ts', content: 'export const app = 2;\n' },
    ]);
    expect((await s.api.get(`/v1/repo/${id}/clone`).set(auth(agent))).body.files.map((f: { filename: string }) => f.filename)).toEqual(['a.txt', 'src/app.ts']);
    const found = await s.api.post(`/v1/repo/${id}/retrieve`).set(auth(agent)).send({ query: 'plan', branch: 'agent/task-1' });
    expect([found.status, found.body.hash]).toEqual([200, tip]);
    const missing = await s.api.get(`/v1/repo/${id}/clone?branch=agent/nope`).set(auth(agent));
    expect([missing.status, missing.body.error.code]).toEqual([404, 'BRANCH_NOT_FOUND']);

    // main did not move; C Git sees three commits on the branch, one per call
    const after = await refs(id);
    expect(after['refs/heads/main']).toBe(main);
    expect(after['refs/heads/agent/task-1']).toBe(tip);
    const bare = await s.bareRepo(id);
    expect((await gitOk(['--git-dir', bare, 'rev-list', '--count', `main..agent/task-1`])).trim()).toBe('3');

    // creating from a tag and from a commit id; a no-op write still creates the branch
    const work = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), work]);
    await gitOk(['tag', 'v1', 'HEAD'], { cwd: work });
    const later = await commitFiles(work, { 'later.txt': 'later\n' }, 'later');
    await gitOk(['push', '-q', 'origin', 'v1', 'HEAD:refs/heads/dev'], { cwd: work });
    const fromTag = await s.api.put(`/v1/repo/${id}/file/t.txt?branch=agent/from-tag&base=v1`).set(auth(agent)).send('t\n');
    expect(await parentOf(id, fromTag.body.repo_head)).toBe(main);
    const fromCommit = await s.api.put(`/v1/repo/${id}/file/t.txt?branch=agent/from-commit&base=${later}`).set(auth(agent)).send('t\n');
    expect(await parentOf(id, fromCommit.body.repo_head)).toBe(later);
    const noop = await s.api.put(`/v1/repo/${id}/file/a.txt?branch=agent/noop&base=main`).set(auth(agent)).send('a\n');
    expect(noop.body).toEqual({ repo_id: id, branch: 'agent/noop', repo_head: main, changed_files: [] });
    expect((await refs(id))['refs/heads/agent/noop']).toBe(main);

    // a case variant of an existing branch is another ref on case-insensitive file systems: refused
    const variant = await s.api.put(`/v1/repo/${id}/file/x.txt?branch=agent/TASK-1`).set(auth(agent)).send('x\n');
    expect([variant.status, variant.body.error.code]).toEqual([409, 'REF_CONFLICT']);
    expect((await refs(id))['refs/heads/agent/TASK-1']).toBeUndefined();

    // audited as ref moves by the agent's token, the creation with no old value
    const audit = await s.api.get(`/v1/audit?repo_id=${id}&action=ref.update&page_size=100`).set(auth(s.admin));
    const creation = audit.body.items.find((e: { ref: string; old_oid: string | null }) => e.ref === 'refs/heads/agent/task-1' && e.old_oid === null);
    expect(creation).toMatchObject({ new_oid: created.body.repo_head, detail: { via: 'api' } });
    expect(creation.actor_token_id).toBeTruthy();
    await s.fsck(id);
  });

  it('pulls a git source into the agent branch, not into main', async () => {
    const { id, agent, main } = await setup();
    const src = await s.createRepo({ source: { type: 'files', files: [{ filename: 'upstream.txt', content: 'up\n' }] } });
    const reader = await s.mint({ name: 'src reader', repo_ids: [src], permission: 'read' });
    const source = { type: 'git', url: s.gitUrl(src, reader.token) };
    const refused = await s.api.post(`/v1/repo/${id}/update`).set(auth(agent)).send({ source });
    expect(refused.status).toBe(403);
    const pulled = await s.api.post(`/v1/repo/${id}/update`).set(auth(agent)).send({ branch: 'agent/pull', base: 'main', source });
    expect(pulled.status).toBe(200);
    expect(pulled.body).toMatchObject({ branch: 'agent/pull', changed_files: ['upstream.txt'] });
    const srcHead = (await refs(src))['refs/heads/main']!;
    const bare = await s.bareRepo(id);
    expect((await gitOk(['--git-dir', bare, 'log', '-1', '--format=%P', pulled.body.repo_head])).trim()).toBe(`${main} ${srcHead}`);
    expect((await refs(id))['refs/heads/main']).toBe(main);
    await s.fsck(id);
  });

  it('expected_head: of two writers leasing the same head, one commits and the other gets 409 STALE_REF', async () => {
    const { id, agent, main } = await setup();
    const start = await s.api.put(`/v1/repo/${id}/file/n.txt?branch=agent/race&base=main`).set(auth(agent)).send('0\n');
    const lease = start.body.repo_head as string;
    expect(await parentOf(id, lease)).toBe(main);

    /** A write under the lease; 423 (the other writer holds the repository) is retried, as a client would. */
    const write = async (content: string) => {
      for (;;) {
        const r = await s.api.put(`/v1/repo/${id}/file/n.txt?branch=agent/race&expected_head=${lease}`).set(auth(agent)).send(content);
        if (r.status !== 423) return r;
      }
    };
    const results = await Promise.all([write('1\n'), write('2\n')]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const loser = results.find((r) => r.status === 409)!;
    expect(loser.body.error.code).toBe('STALE_REF');
    const winner = results.find((r) => r.status === 200)!;
    expect((await refs(id))['refs/heads/agent/race']).toBe(winner.body.repo_head);
    expect(await parentOf(id, winner.body.repo_head)).toBe(lease); // exactly one commit on the lease

    // a lease on a branch that does not exist is stale too; a fresh lease works
    const gone = await s.api.put(`/v1/repo/${id}/file/n.txt?branch=agent/none&expected_head=${lease}`).set(auth(agent)).send('x\n');
    expect([gone.status, gone.body.error.code]).toEqual([409, 'STALE_REF']);
    const ok = await s.api.put(`/v1/repo/${id}/file/n.txt?branch=agent/race&expected_head=${winner.body.repo_head}`).set(auth(agent)).send('3\n');
    expect(ok.status).toBe(200);
    await s.fsck(id);
  });
});
