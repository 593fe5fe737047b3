// REST reads and ref writes that name a commit by id (`?commit=`, `hash`, compare sides, a new
// ref's target) obey the fetch rule: the commit must be reachable from a ref. The attacker is a
// ref-scoped agent token (and even the admin) asking for a commit only a deleted branch reached,
// or one of another repository.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary } from '../helpers/binary.js';
import { STORAGE_KINDS, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(STORAGE_KINDS)('commits named by id must be reachable (%s storage)', (kind) => {
  let s: TestServer;
  let repo: string;
  let initial: string;
  let orphan: string;
  let agent: string;
  let foreign: string;
  beforeAll(async () => {
    s = await startTestServer(kind);
    const created = await s.api
      .post('/v1/repo')
      .set('Authorization', `Bearer ${s.admin}`)
      .send({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'public\n' }] } });
    repo = created.body.repo_id;
    initial = created.body.repo_head;
    await s.api.put(`/v1/repo/${repo}/file/a.txt`).set('Authorization', `Bearer ${s.admin}`).send('public, v2\n');
    // a commit on a branch that is then deleted: still stored, reached by no ref
    const w = await s.api.put(`/v1/repo/${repo}/file/secret.txt?branch=tmp/leak`).set('Authorization', `Bearer ${s.admin}`).send('do not read\n');
    expect(w.status, JSON.stringify(w.body)).toBe(200);
    orphan = w.body.repo_head;
    expect((await s.api.delete(`/v1/repo/${repo}/refs/heads/tmp/leak`).set('Authorization', `Bearer ${s.admin}`)).status).toBe(204);
    agent = (await s.mint({ repo_ids: [repo], permission: 'write', refs: ['refs/heads/agent/*'], name: 'agent' })).token;
    const other = await s.api
      .post('/v1/repo')
      .set('Authorization', `Bearer ${s.admin}`)
      .send({ source: { type: 'files', files: [{ filename: 'b.txt', content: 'other repo\n' }] } });
    foreign = other.body.repo_head;
  });
  afterAll(async () => {
    await s.close();
  });

  const reads = (c: string) => [
    { what: 'clone', req: (t: string) => s.api.get(`/v1/repo/${repo}/clone?commit=${c}`).set('Authorization', `Bearer ${t}`) },
    { what: 'file', req: (t: string) => s.api.get(`/v1/repo/${repo}/file/a.txt?commit=${c}`).set('Authorization', `Bearer ${t}`) },
    { what: 'retrieve', req: (t: string) => s.api.post(`/v1/repo/${repo}/retrieve`).set('Authorization', `Bearer ${t}`).send({ query: 'read', hash: c }) },
    { what: 'search', req: (t: string) => s.api.post(`/v1/repo/${repo}/search`).set('Authorization', `Bearer ${t}`).send({ query: 'read', hash: c }) },
    { what: 'embedding_status', req: (t: string) => s.api.get(`/v1/repo/${repo}/embedding_status?hash=${c}`).set('Authorization', `Bearer ${t}`) },
    { what: 'compare head', req: (t: string) => s.api.get(`/v1/repo/${repo}/compare/main...${c}`).set('Authorization', `Bearer ${t}`) },
    { what: 'compare base', req: (t: string) => s.api.get(`/v1/repo/${repo}/compare/${c}...main?format=patch`).set('Authorization', `Bearer ${t}`) },
  ];

  it('an unreachable commit (its branch was deleted) is 404 COMMIT_NOT_FOUND for every read, whoever asks', async () => {
    for (const t of [agent, s.admin]) {
      for (const { what, req } of reads(orphan)) {
        const res = await req(t);
        expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(404);
        expect(res.body.error?.code, what).toBe('COMMIT_NOT_FOUND');
        expect(JSON.stringify(res.body)).not.toContain('do not read');
      }
    }
  });

  it('a commit of another repository is 404 here', async () => {
    for (const { what, req } of reads(foreign)) expect((await req(agent)).status, what).toBe(404);
  });

  it('an unreachable commit cannot be brought back as a new branch or tag', async () => {
    for (const ref of ['refs/heads/agent/revive', 'refs/tags/revive']) {
      const res = await s.api.post(`/v1/repo/${repo}/refs`).set('Authorization', `Bearer ${s.admin}`).send({ ref, commit: orphan });
      expect(res.status, JSON.stringify(res.body)).toBe(404);
      expect(res.body.error.code).toBe('COMMIT_NOT_FOUND');
    }
    const listed = await s.api.get(`/v1/repo/${repo}/refs`).set('Authorization', `Bearer ${s.admin}`);
    expect(listed.body.items.map((i: { ref: string }) => i.ref)).toEqual(['refs/heads/main']);
  });

  it('an old commit a ref still reaches reads fine (the rule is reachability, not "tips only")', async () => {
    for (const { what, req } of reads(initial)) {
      const res = await req(agent);
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(200);
    }
    const file = await s.api.get(`/v1/repo/${repo}/file/a.txt?commit=${initial}`).set('Authorization', `Bearer ${agent}`).buffer(true).parse(binary);
    expect((file.body as Buffer).toString()).toBe('public\n');
  });
});

describe('GITGATE_ALLOW_ANY_SHA1_IN_WANT lifts the rule for REST reads too', () => {
  it('reads a commit no ref reaches', async () => {
    const s = await startTestServer('fs', { GITGATE_ALLOW_ANY_SHA1_IN_WANT: '1' });
    try {
      const repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
      const w = await s.api.put(`/v1/repo/${repo}/file/b.txt?branch=tmp`).set('Authorization', `Bearer ${s.admin}`).send('b\n');
      await s.api.delete(`/v1/repo/${repo}/refs/heads/tmp`).set('Authorization', `Bearer ${s.admin}`);
      const res = await s.api.get(`/v1/repo/${repo}/clone?commit=${w.body.repo_head}`).set('Authorization', `Bearer ${s.admin}`);
      expect(res.status).toBe(200);
      expect(res.body.files).toEqual([
        { filename: 'a.txt', content: 'a\n' },
        { filename: 'b.txt', content: 'b\n' },
      ]);
    } finally {
      await s.close();
    }
  });
});
