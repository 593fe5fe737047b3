// Deleting a repository takes its webhooks and their queued deliveries with it, and its events
// stay invisible to every token that could not read it (including tokens of a new repository
// that reuses its name).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { webhookReceiver, type Receiver } from '../helpers/webhook-receiver.js';

const SECRET = 'whsec-repo-delete';

describe('deleting a repository', () => {
  let s: TestServer;
  let r: Receiver;
  beforeAll(async () => {
    s = await startTestServer('fs', { GITGATE_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8', GITGATE_WEBHOOK_BACKOFF_MS: '60000' });
    r = await webhookReceiver(SECRET);
  });
  afterAll(async () => {
    await s.close();
    await r.close();
  });
  const auth = (t: string) => ({ Authorization: `Bearer ${t}` });

  it('deletes its webhooks and their pending deliveries; other webhooks stay', async () => {
    const doomed = await s.createRepo({ name: 'doomed', source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    const kept = await s.createRepo({ name: 'kept' });
    const hook = await s.api.post('/v1/webhooks').set(auth(s.admin)).send({ url: r.url, repo_id: doomed, events: ['ref.update'], secret: SECRET });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    const other = await s.api.post('/v1/webhooks').set(auth(s.admin)).send({ url: r.url, repo_id: kept, events: ['ref.update'], secret: SECRET });
    expect(other.status).toBe(201);

    r.status = 500; // the first attempt fails: the delivery stays queued for a retry a minute later
    expect((await s.api.put(`/v1/repo/${doomed}/file/b.txt`).set(auth(s.admin)).send('b\n')).status).toBe(200);
    const first = await r.next();
    expect(first.body.repo_id).toBe(doomed);
    // the failed attempt is recorded and the retry queued (the only pending delivery: a minute away)
    for (;;) {
      const next = await s.ctx.webhooks.store.nextDue();
      if (next !== null && next > Date.now() + 30_000) break;
      await new Promise((res) => setTimeout(res, 20));
    }

    expect((await s.api.delete(`/v1/repo/${doomed}`).set(auth(s.admin))).status).toBe(204);
    expect((await s.api.get(`/v1/webhooks/${hook.body.id}`).set(auth(s.admin))).status).toBe(404);
    expect((await s.api.get(`/v1/webhooks/${hook.body.id}/deliveries`).set(auth(s.admin))).status).toBe(404);
    const listed = await s.api.get('/v1/webhooks').set(auth(s.admin));
    expect(listed.body.items.map((h: { id: string }) => h.id)).toEqual([other.body.id]);
    expect(await s.ctx.webhooks.store.nextDue()).toBe(null); // its queued retry went with it
    expect((await s.api.get(`/v1/webhooks/${other.body.id}`).set(auth(s.admin))).status).toBe(200);
  });

  it("keeps a deleted repository's events from tokens that could not read it, even after its name is reused", async () => {
    const a = await s.createRepo({ name: 'reused', source: { type: 'files', files: [{ filename: 'x.txt', content: 'private\n' }] } });
    const b = await s.createRepo({ name: 'bystander' });
    const tokA = (await s.mint({ repo_ids: [a], permission: 'read', name: 'a-reader' })).token;
    const tokB = (await s.mint({ repo_ids: [b], permission: 'read', name: 'b-reader' })).token;
    await s.api.put(`/v1/repo/${a}/file/y.txt`).set(auth(s.admin)).send('y\n');
    const feed = async (t: string) => {
      const res = await s.api.get('/v1/events?after=0&limit=1000').set(auth(t));
      expect(res.status).toBe(200);
      return res.body.items as { repo_ids: string[]; type: string }[];
    };
    expect((await feed(tokA)).some((e) => e.repo_ids.includes(a))).toBe(true); // control: visible while it can read it

    expect((await s.api.delete(`/v1/repo/${a}`).set(auth(s.admin))).status).toBe(204);
    const again = await s.createRepo({ name: 'reused' });
    const tokAgain = (await s.mint({ repo_ids: [again], permission: 'admin', name: 'new-owner' })).token;
    for (const t of [tokB, tokAgain]) {
      expect((await feed(t)).filter((e) => e.repo_ids.includes(a))).toEqual([]);
    }
    // the old reader keeps only its own record's event (a token always sees itself), nothing of the repository
    expect((await feed(tokA)).filter((e) => e.repo_ids.includes(a)).map((e) => e.type)).toEqual(['token.create']);
    // the workspace admin, who could read it, still sees its history, deletion included
    const adminSees = (await feed(s.admin)).filter((e) => e.repo_ids.includes(a)).map((e) => e.type);
    expect(adminSees).toContain('repo.delete');
  });
});
