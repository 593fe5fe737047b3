// Token authority, tried as an attacker would against a running server (issue 13, points
// 1-3): rotation and revocation are takeovers unless the caller could have minted the
// target; a revocation racing parallel mints leaves no live child; a ref scope bounds
// repository administration.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, gitOk, tmpDir } from '../helpers/git.js';
import { startTestServer, type TestServer, useTestServer } from '../helpers/server.js';

const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });
const SECRET = /gg[rw]_[0-9A-Za-z]{20,}/;

describe('token authority: read, rotate and revoke only what you could have minted', () => {
  let s: TestServer;
  let repo: string;
  let bootstrapId: string;
  beforeAll(async () => {
    s = await startTestServer('fs');
    repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'f.txt', content: '0\n' }] } });
    bootstrapId = (await s.api.get(`/v1/repo_token/${s.admin}`).set(bearer(s.admin))).body.id;
  });
  afterAll(async () => {
    await s.close();
  });
  const meta = (secret: string) => s.api.get(`/v1/repo/${repo}`).set(bearer(secret));
  const rotate = (caller: string, target: string, body: object = {}) => s.api.post(`/v1/repo_token/${target}/rotate`).set(bearer(caller)).send(body);
  const revoke = (caller: string, target: string) => s.api.delete(`/v1/repo_token/${target}`).set(bearer(caller));
  const read = (caller: string, target: string) => s.api.get(`/v1/repo_token/${target}`).set(bearer(caller));

  it('a 300 s ref-scoped workspace admin cannot take over the bootstrap token (rotate, revoke, read: 403)', async () => {
    const minted = await s.api
      .post('/v1/workspace_token')
      .set(bearer(s.admin))
      .send({ name: 'scoped ws admin', permission: 'admin', ttl_seconds: 300, refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: false });
    expect(minted.status).toBe(201);
    const scoped = minted.body as { token: string; id: string };

    const r = await rotate(scoped.token, bootstrapId, { grace_seconds: 604800 });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('TOKEN_TOO_STRONG');
    expect(r.text).not.toMatch(SECRET);
    // by secret as well as by id
    expect((await rotate(scoped.token, s.admin)).status).toBe(403);
    expect((await revoke(scoped.token, bootstrapId)).status).toBe(403);
    const seen = await read(scoped.token, bootstrapId);
    expect(seen.status).toBe(403);
    expect(seen.body.error.code).toBe('TOKEN_TOO_STRONG');
    const listed = await s.api.get('/v1/repo_token').set(bearer(scoped.token));
    expect(listed.status).toBe(200);
    expect((listed.body.items as { id: string }[]).map((t) => t.id)).not.toContain(bootstrapId);

    // the owner's secret is untouched and still the only one
    expect((await meta(s.admin)).status).toBe(200);
    const audit = await s.api.get('/v1/audit?action=token.rotate').set(bearer(s.admin));
    expect((audit.body.items as { target_token_id: string }[]).filter((e) => e.target_token_id === bootstrapId)).toEqual([]);

    // a peer workspace token with the same limits is within its reach; itself always
    const narrower = await s.api
      .post('/v1/workspace_token')
      .set(bearer(scoped.token))
      .send({ permission: 'write', refs: ['refs/heads/agent/x/*'] });
    expect(narrower.status).toBe(201);
    const r2 = await rotate(scoped.token, narrower.body.id);
    expect(r2.status).toBe(200);
    expect(r2.body.token).toMatch(/^ggw_/);
    const self = await rotate(scoped.token, scoped.id);
    expect(self.status).toBe(200);
    expect((await meta(self.body.token)).status).toBe(200);
  });

  it('a ref-scoped 60 s child cannot rotate or revoke its parent; the parent may rotate the child', async () => {
    const parent = await s.mint({ name: 'parent', repo_ids: [repo], permission: 'admin' });
    const child = await s.mint({ name: 'child', repo_ids: [repo], permission: 'admin', ttl_seconds: 60, refs: ['refs/heads/agent/*'] }, parent.token);

    const r = await rotate(child.token, parent.id, { grace_seconds: 600 });
    expect(r.status).toBe(403);
    expect(r.text).not.toMatch(SECRET);
    expect((await revoke(child.token, parent.id)).status).toBe(403);
    expect((await git(['ls-remote', s.gitUrl(repo, parent.token)])).code).toBe(0);

    const down = await rotate(parent.token, child.id);
    expect(down.status).toBe(200);
    expect((await git(['ls-remote', s.gitUrl(repo, down.body.token)])).code).toBe(0);
    expect((await meta(child.token)).status).toBe(401);
  });

  it('between repository tokens: 404 outside your repositories, 403 for a stronger token inside them', async () => {
    const other = await s.createRepo();
    const target = await s.mint({ name: 'target', repo_ids: [repo], permission: 'write' });
    const straddling = await s.mint({ name: 'straddling', repo_ids: [repo, other], permission: 'read' });
    const writePeer = await s.mint({ repo_ids: [repo], permission: 'write' });
    const otherAdmin = await s.mint({ repo_ids: [other], permission: 'admin' });
    const expiringAdmin = await s.mint({ repo_ids: [repo], permission: 'admin', ttl_seconds: 3600 });
    const repoAdmin = await s.mint({ repo_ids: [repo], permission: 'admin' });

    for (const [caller, t, status] of [
      [writePeer.token, target.id, 404], // no token-management right at all
      [otherAdmin.token, target.id, 404], // another repository
      [repoAdmin.token, straddling.id, 404], // reaches into a repository it cannot see
      [expiringAdmin.token, target.id, 403], // could only have minted an expiring token
      [expiringAdmin.token, repoAdmin.id, 403],
    ] as const) {
      for (const [what, res] of [['rotate', await rotate(caller, t)], ['revoke', await revoke(caller, t)], ['read', await read(caller, t)]] as const) {
        expect(res.status, `${what} ${t}`).toBe(status);
        expect(res.text).not.toMatch(SECRET);
      }
    }
    expect((await meta(target.token)).status).toBe(200);
    expect((await meta(repoAdmin.token)).status).toBe(200);
    // it could have minted the target: reading, rotating and revoking are fine
    expect((await read(repoAdmin.token, target.id)).status).toBe(200);
    const ok = await rotate(repoAdmin.token, target.id);
    expect(ok.status).toBe(200);
    expect((await meta(ok.body.token)).status).toBe(200);
    expect((await revoke(repoAdmin.token, target.id)).status).toBe(204);
    expect((await meta(ok.body.token)).status).toBe(401);
  });
});

describe('token authority: mints racing a revocation', () => {
  let s: TestServer;
  let repo: string;
  beforeAll(async () => {
    // bcrypt at a realistic cost widens the window between the minter check and the insert;
    // every dead child below is a failed authentication, so the address block is off
    s = await startTestServer('fs', { GITGATE_BCRYPT_ROUNDS: '7', GITGATE_AUTH_FAIL_LIMIT: '0', GITGATE_MAX_CONCURRENT_PER_TOKEN: '0' });
    repo = await s.createRepo();
  });
  afterAll(async () => {
    await s.close();
  });

  it('no child minted around a revocation of its parent outlives it (6 rounds of 12 parallel mints)', async () => {
    let refused = 0;
    for (let round = 0; round < 6; round++) {
      const parent = await s.mint({ name: `parent ${round}`, repo_ids: [repo], permission: 'admin' });
      // a middle generation: the revocation must reach grandchildren too
      const middle = await s.mint({ name: `middle ${round}`, repo_ids: [repo], permission: 'admin' }, parent.token);
      expect((await s.api.get(`/v1/repo/${repo}`).set(bearer(middle.token))).status).toBe(200); // verified and cached
      const mints = Array.from({ length: 12 }, (_, i) =>
        s.api
          .post('/v1/repo_token')
          .set(bearer(middle.token))
          .send({ name: `child ${round}.${i}`, repo_ids: [repo], permission: 'read' })
          .then((r) => r),
      );
      await Promise.race(mints); // one child is in; the rest are hashing their secrets
      expect((await s.api.delete(`/v1/repo_token/${parent.id}`).set(bearer(s.admin))).status).toBe(204);
      const results = await Promise.all(mints);
      for (const r of results) {
        expect([201, 401], JSON.stringify(r.body)).toContain(r.status);
        if (r.status === 401) {
          refused++;
          continue;
        }
        const use = await s.api.get(`/v1/repo/${repo}`).set(bearer(r.body.token));
        expect(use.status, `child ${r.body.name} minted before the revocation still works`).toBe(401);
      }
      // and nothing the parent's tree holds is live
      const live = (await s.ctx.tokens.list({ page_size: 1000 })).items.filter((t) => t.name.startsWith(`child ${round}.`));
      expect(live).toEqual([]);
    }
    // the race was real: some mints lost it
    expect(refused).toBeGreaterThan(0);
  }, 60_000);

  it('rotations by a token racing its revocation: none is stored after the revocation (audit order)', async () => {
    const actor = await s.api.post('/v1/workspace_token').set(bearer(s.admin)).send({ name: 'rotator', permission: 'admin' });
    expect((await s.api.get(`/v1/repo/${repo}`).set(bearer(actor.body.token))).status).toBe(200);
    const targets = await Promise.all(Array.from({ length: 12 }, (_, i) => s.mint({ name: `rotated ${i}`, repo_ids: [repo], permission: 'read' })));
    const rotations = targets.map((t) =>
      s.api
        .post(`/v1/repo_token/${t.id}/rotate`)
        .set(bearer(actor.body.token))
        .send({})
        .then((r) => r),
    );
    await Promise.race(rotations);
    expect((await s.api.delete(`/v1/repo_token/${actor.body.id}`).set(bearer(s.admin))).status).toBe(204);
    const results = await Promise.all(rotations);
    for (const r of results) expect([200, 401]).toContain(r.status);

    const events = (await s.api.get('/v1/audit?page_size=1000').set(bearer(s.admin))).body.items as { id: number; action: string; actor_token_id: string | null; target_token_id: string }[];
    const revokedAt = events.find((e) => e.action === 'token.revoke' && e.target_token_id === actor.body.id)!.id;
    const byActor = events.filter((e) => e.action === 'token.rotate' && e.actor_token_id === actor.body.id);
    expect(byActor.length).toBe(results.filter((r) => r.status === 200).length);
    for (const e of byActor) expect(e.id, `rotation of ${e.target_token_id} stored after the rotator was revoked`).toBeLessThan(revokedAt);
    // the race was real: some rotations lost it
    expect(results.filter((r) => r.status === 401).length).toBeGreaterThan(0);
  }, 60_000);
});

describe('token authority: a ref scope bounds repository administration', () => {
  let s: TestServer;
  useTestServer('fs', (started) => (s = started));

  it('a ref-scoped admin (repository or workspace) cannot delete the repository or change its protected refs', async () => {
    const repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'f.txt', content: '1\n' }] } });
    expect((await s.api.put(`/v1/repo/${repo}/protected_refs`).set(bearer(s.admin)).send({ patterns: ['refs/heads/main'] })).status).toBe(200);
    const repoScoped = await s.mint({ repo_ids: [repo], permission: 'admin', refs: ['refs/heads/agent/*'], allow_delete: true });
    const ws = await s.api.post('/v1/workspace_token').set(bearer(s.admin)).send({ permission: 'admin', refs: ['refs/heads/agent/*'], allow_delete: true });
    expect(ws.status).toBe(201);

    for (const secret of [repoScoped.token, ws.body.token as string]) {
      const del = await s.api.delete(`/v1/repo/${repo}`).set(bearer(secret));
      expect(del.status).toBe(403);
      expect(del.body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/ref scope/) });
      const put = await s.api.put(`/v1/repo/${repo}/protected_refs`).set(bearer(secret)).send({ patterns: [] });
      expect(put.status).toBe(403);
      expect(put.body.error.code).toBe('FORBIDDEN');
    }
    // nothing changed: the repository is whole, main still protected
    expect((await s.api.get(`/v1/repo/${repo}/protected_refs`).set(bearer(s.admin))).body).toEqual({ patterns: ['refs/heads/main'] });
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(repo, s.admin), w]);
    await s.fsck(repo);
  });

  it('deleting a repository needs allow_delete', async () => {
    const repo = await s.createRepo();
    const noDelete = await s.mint({ repo_ids: [repo], permission: 'admin', allow_delete: false });
    const del = await s.api.delete(`/v1/repo/${repo}`).set(bearer(noDelete.token));
    expect(del.status).toBe(403);
    expect(del.body.error.message).toMatch(/allow_delete/);
    expect((await s.api.get(`/v1/repo/${repo}`).set(bearer(s.admin))).status).toBe(200);
    await s.fsck(repo);
    const canDelete = await s.mint({ repo_ids: [repo], permission: 'admin' });
    expect((await s.api.delete(`/v1/repo/${repo}`).set(bearer(canDelete.token))).status).toBe(204);
    expect((await s.api.get(`/v1/repo/${repo}`).set(bearer(s.admin))).status).toBe(404);
  });

  it('a ref-scoped admin cannot mint or rotate anything wider than itself', async () => {
    const repo = await s.createRepo();
    const scoped = await s.mint({ repo_ids: [repo], permission: 'admin', refs: ['refs/heads/agent/*'] });
    const unrestricted = await s.api.post('/v1/repo_token').set(bearer(scoped.token)).send({ repo_ids: [repo], refs: [] });
    expect(unrestricted.status).toBe(403);
    expect(unrestricted.body.error.code).toBe('ATTENUATION');
    const key = await s.api.post(`/v1/repo/${repo}/apikey`).set(bearer(scoped.token)).send({ accessType: 'WRITE' });
    expect(key.status).toBe(201); // inherits the ref scope
    expect((await s.api.get(`/v1/repo_token/${key.body.id}`).set(bearer(s.admin))).body).toMatchObject({ refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: false });
    const wide = await s.mint({ repo_ids: [repo], permission: 'write' });
    expect((await s.api.post(`/v1/repo_token/${wide.id}/rotate`).set(bearer(scoped.token)).send({})).status).toBe(403);
  });
});
