// The audit trail: push ref updates, API commits, token creation and revocation (cascades),
// listed by admins over REST (scoped) and by the CLI.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/audit-log.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { type TestServer, useTestServer } from '../helpers/server.js';

const BIN = path.resolve(__dirname, '../../bin/gitgate.js');

type Event = AuditEvent;

describe('audit trail', () => {
  let s: TestServer;
  useTestServer('fs', (started) => (s = started));
  const list = async (secret: string, query = '') => s.api.get(`/v1/audit${query}`).set('Authorization', `Bearer ${secret}`);

  it('records pushes, API commits, token creation and revocation cascades; admins list them by scope', async () => {
    const repoA = await s.createRepo();
    const repoB = await s.createRepo();
    const adminA = await s.mint({ repo_ids: [repoA], permission: 'admin', name: 'admin A' });
    const writerA = await s.mint({ repo_ids: [repoA], permission: 'write', name: 'writer A' }, adminA.token);
    const readerA = await s.mint({ repo_ids: [repoA], permission: 'read' });

    // push with the writer: create main, then fast-forward it
    const work = tmpDir();
    await gitOk(['init', '-q', '-b', 'main', work]);
    const c1 = await commitFiles(work, { 'a.txt': '1\n' }, 'one');
    await gitOk(['push', '-q', s.gitUrl(repoA, writerA.token), 'main'], { cwd: work });
    const c2 = await commitFiles(work, { 'a.txt': '2\n' }, 'two');
    await gitOk(['push', '-q', s.gitUrl(repoA, writerA.token), 'main', 'main:refs/heads/topic'], { cwd: work });
    // an API commit
    const put = await s.api.put(`/v1/repo/${repoA}/file/b.txt`).set('Authorization', `Bearer ${writerA.token}`).send('b\n');
    expect(put.status).toBe(200);
    const c3 = put.body.repo_head as string;
    // revoking the repo admin revokes the writer it minted
    expect((await s.api.delete(`/v1/repo_token/${adminA.id}`).set('Authorization', `Bearer ${s.admin}`)).status).toBe(204);
    // something in repo B
    expect((await s.api.put(`/v1/repo/${repoB}/file/x.txt`).set('Authorization', `Bearer ${s.admin}`).send('x')).status).toBe(200);

    const all = await list(s.admin, `?repo_id=${repoA}&page_size=1000`);
    expect(all.status).toBe(200);
    const events = all.body.items as Event[];
    const refs = events.filter((e) => e.action === 'ref.update').reverse();
    expect(refs.map((e) => [e.ref, e.old_oid, e.new_oid, e.actor_token_id, e.detail?.via])).toEqual([
      ['refs/heads/main', null, c1, writerA.id, 'push'],
      ['refs/heads/main', c1, c2, writerA.id, 'push'],
      ['refs/heads/topic', null, c2, writerA.id, 'push'],
      ['refs/heads/main', c2, c3, writerA.id, 'api'],
    ]);
    for (const e of refs) expect(e).toMatchObject({ repo_id: repoA, client_ip: '127.0.0.1' });
    const created = events.filter((e) => e.action === 'token.create');
    expect(created.map((e) => e.target_token_id).sort()).toEqual([adminA.id, writerA.id, readerA.id].sort());
    expect(created.find((e) => e.target_token_id === writerA.id)!.actor_token_id).toBe(adminA.id);
    const revoked = events.filter((e) => e.action === 'token.revoke');
    expect(revoked.map((e) => [e.target_token_id, e.detail?.cascade_from ?? null]).sort()).toEqual(
      [
        [adminA.id, null],
        [writerA.id, adminA.id],
      ].sort(),
    );
    for (const e of revoked) expect(e.actor_token_id).not.toBe(null);
    expect(JSON.stringify(all.body)).not.toMatch(/gg[wr]_/); // never a secret

    // workspace admins see everything, newest first, paginated
    const page = await list(s.admin, '?page_size=2');
    expect(page.body.items).toHaveLength(2);
    expect(page.body.next_page).toBe(2);
    expect(page.body.total_items).toBeGreaterThan(events.length);
    expect(page.body.items[0].repo_id).toBe(repoB);

    // a repo admin sees its repository's events only; other repositories are 404
    const adminA2 = await s.mint({ repo_ids: [repoA], permission: 'admin' });
    const scoped = await list(adminA2.token, '?page_size=1000');
    expect(scoped.status).toBe(200);
    expect((scoped.body.items as Event[]).every((e) => e.repo_ids.length > 0 && e.repo_ids.every((r) => r === repoA))).toBe(true);
    expect((scoped.body.items as Event[]).some((e) => e.ref === 'refs/heads/topic')).toBe(true);
    expect((await list(adminA2.token, `?repo_id=${repoB}`)).status).toBe(404);
    // non-admins: 403; bad query: 400; no token: 401
    const denied = await list(readerA.token);
    expect(denied.status).toBe(403);
    expect((await list(s.admin, '?page_size=0')).status).toBe(400);
    expect((await s.api.get('/v1/audit')).status).toBe(401);
  });

  it('gitgate audit list reads the same trail from the data directory', async () => {
    const repo = await s.createRepo();
    expect((await s.api.put(`/v1/repo/${repo}/file/c.txt`).set('Authorization', `Bearer ${s.admin}`).send('c')).status).toBe(200);
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LOG_LEVEL: 'silent' } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    const json = await run(['audit', 'list', '--repo', repo, '--json', '--data', s.dataDir]);
    expect(json.code, json.stderr).toBe(0);
    const items = JSON.parse(json.stdout) as Event[];
    // newest first: the API commit, then the repository's creation
    expect(items).toHaveLength(2);
    expect(items[0]).toMatchObject({ action: 'ref.update', repo_id: repo, ref: 'refs/heads/main', old_oid: null });
    expect(items[1]).toMatchObject({ action: 'repo.create', repo_id: repo, detail: { source: 'empty' } });
    const text = await run(['audit', 'list', '--repo', repo, '--data', s.dataDir]);
    expect(text.stdout).toMatch(new RegExp(`\tref\\.update\t\\S+@127\\.0\\.0\\.1\t${repo} refs/heads/main - -> [0-9a-f]{12} \\(api\\)\n.*\trepo\\.create\t\\S+@127\\.0\\.0\\.1\t${repo}\n$`));
    const bad = await run(['audit', 'list', '--action', 'nope', '--data', s.dataDir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/gitgate: .*nope/);
  });
});
