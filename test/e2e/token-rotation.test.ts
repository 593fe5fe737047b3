// Token rotation (REST and CLI, with and without a grace period), last-use bookkeeping, and
// the CLI surface for ref scopes and protected refs, against a running server on node fs.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BIN = path.resolve(__dirname, '../../bin/gitgate.js');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, GITGATE_BCRYPT_ROUNDS: '4', LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('token rotation, last use and the CLI', () => {
  let s: TestServer;
  let repo: string;
  beforeAll(async () => {
    s = await startTestServer('fs');
    repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'f.txt', content: '0\n' }] } });
  });
  afterAll(async () => {
    await s.close();
  });
  const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });
  const meta = (secret: string) => s.api.get(`/v1/repo/${repo}`).set(bearer(secret));

  it('a token rotates itself: the cached old secret is 401 at once, the new one works; audited', async () => {
    const tok = await s.mint({ repo_ids: [repo], permission: 'write', refs: ['refs/heads/agent/*'], name: 'rotating' });
    expect((await meta(tok.token)).status).toBe(200);
    expect((await meta(tok.token)).status).toBe(200); // second use: from the verification cache

    const res = await s.api.post(`/v1/repo_token/${tok.id}/rotate`).set(bearer(tok.token)).send({});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: tok.id,
      kind: 'repo',
      name: 'rotating',
      repo_ids: [repo],
      permission: 'write',
      refs: ['refs/heads/agent/*'],
      allow_force: false,
      allow_delete: false,
      previous_secret_valid_until: null,
    });
    expect(res.body.token).toMatch(/^ggr_/);
    expect(res.body.token).not.toBe(tok.token);
    expect(res.body.token.slice(4, 20)).toBe(tok.id.slice(4)); // same public id inside

    const old = await meta(tok.token);
    expect(old.status).toBe(401);
    expect(old.headers['www-authenticate']).toBe('Basic realm="gitgate"');
    expect((await meta(res.body.token)).status).toBe(200);
    // git too
    const url = s.gitUrl(repo, res.body.token);
    expect((await git(['ls-remote', url])).code).toBe(0);
    const stale = await git(['ls-remote', s.gitUrl(repo, tok.token)]);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toMatch(/Authentication failed|401/);

    const audit = await s.api.get(`/v1/audit?action=token.rotate`).set(bearer(s.admin));
    expect(audit.status).toBe(200);
    const event = (audit.body.items as { target_token_id: string }[]).find((e) => e.target_token_id === tok.id);
    expect(event).toMatchObject({ action: 'token.rotate', actor_token_id: tok.id, client_ip: '127.0.0.1', repo_ids: [repo], detail: { grace_seconds: 0, via: 'api' } });
  });

  it('with grace_seconds the old secret keeps working until the grace ends', async () => {
    const tok = await s.mint({ repo_ids: [repo], permission: 'read' });
    expect((await meta(tok.token)).status).toBe(200);
    const res = await s.api.post(`/v1/repo_token/${tok.id}/rotate`).set(bearer(s.admin)).send({ grace_seconds: 3 });
    expect(res.status).toBe(200);
    const until = Date.parse(res.body.previous_secret_valid_until);
    expect(until - Date.now()).toBeGreaterThan(1500);
    expect(until - Date.now()).toBeLessThanOrEqual(3000);
    expect((await meta(tok.token)).status).toBe(200);
    expect((await meta(res.body.token)).status).toBe(200);
    await sleep(until - Date.now() + 100);
    expect((await meta(tok.token)).status).toBe(401);
    expect((await meta(res.body.token)).status).toBe(200);
  });

  // who may rotate whom: test/e2e/token-authority.test.ts
  it('bad grace is 400 and changes nothing; a revoked token cannot be rotated back to life', async () => {
    const target = await s.mint({ repo_ids: [repo], permission: 'write' });
    const rotate = (secret: string, body: object = {}) => s.api.post(`/v1/repo_token/${target.id}/rotate`).set(bearer(secret)).send(body);
    expect((await rotate('ggr_nope')).status).toBe(401);
    for (const grace of [-1, 8 * 24 * 3600, 'soon']) {
      const bad = await rotate(s.admin, { grace_seconds: grace });
      expect(bad.status, String(grace)).toBe(400);
      expect(bad.body.error.code).toBe('VALIDATION');
    }
    expect((await meta(target.token)).status).toBe(200); // nothing rotated so far
    const ok = await rotate(target.token);
    expect(ok.status).toBe(200);
    expect((await meta(target.token)).status).toBe(401);
    expect((await s.api.delete(`/v1/repo_token/${target.id}`).set(bearer(s.admin))).status).toBe(204);
    expect((await rotate(s.admin)).status).toBe(400);
    expect((await meta(ok.body.token)).status).toBe(401);
  });

  it('last use: time and client address after a real git request, in REST and CLI listings', async () => {
    const tok = await s.mint({ repo_ids: [repo], permission: 'write', refs: ['refs/heads/agent/*'], allow_delete: true, name: 'used' });
    const before = await s.api.get(`/v1/repo_token/${tok.id}`).set(bearer(s.admin));
    expect(before.body).toMatchObject({ last_used_at: null, last_used_ip: null });
    const started = Date.now();
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(repo, tok.token), w]);
    await commitFiles(w, { 'a.txt': 'a\n' }, 'a');
    await gitOk(['push', '-q', 'origin', 'HEAD:refs/heads/agent/used'], { cwd: w });

    const one = await s.api.get(`/v1/repo_token/${tok.id}`).set(bearer(s.admin));
    expect(one.body.last_used_ip).toBe('127.0.0.1');
    expect(Date.parse(one.body.last_used_at)).toBeGreaterThanOrEqual(started - 1000);
    expect(Date.parse(one.body.last_used_at)).toBeLessThanOrEqual(Date.now());
    const list = await s.api.get(`/v1/repo_token?repo_id=${repo}`).set(bearer(s.admin));
    expect((list.body.items as { id: string }[]).find((t) => t.id === tok.id)).toMatchObject({
      last_used_at: one.body.last_used_at,
      last_used_ip: '127.0.0.1',
      refs: ['refs/heads/agent/*'],
      allow_force: false,
      allow_delete: true,
    });

    const cli = await run(['token', 'list', '--repo', repo, '--data', s.dataDir]);
    expect(cli.code, cli.stderr).toBe(0);
    const line = cli.stdout.split('\n').find((l) => l.startsWith(`${tok.id}\t`));
    expect(line).toBe(`${tok.id}\twrite\t${repo}\tused\tno expiry\trefs=refs/heads/agent/*\tforce=no delete=yes\tlast used ${one.body.last_used_at} from 127.0.0.1`);
    const never = await s.mint({ repo_ids: [repo], permission: 'read', name: 'idle' });
    const cli2 = await run(['token', 'list', '--repo', repo, '--data', s.dataDir]);
    expect(cli2.stdout.split('\n').find((l) => l.startsWith(`${never.id}\t`))).toBe(`${never.id}\tread\t${repo}\tidle\tno expiry\trefs=all\tforce=yes delete=yes\tnever used`);
    const json = JSON.parse((await run(['token', 'list', '--repo', repo, '--json', '--data', s.dataDir])).stdout) as { id: string }[];
    expect(json.find((t) => t.id === tok.id)).toMatchObject({ last_used_ip: '127.0.0.1', refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: true });
    await s.fsck(repo);
  });

  it('gitgate token rotate prints only the new secret; the running server drops the old one at once', async () => {
    const tok = await s.mint({ repo_ids: [repo], permission: 'read' });
    expect((await meta(tok.token)).status).toBe(200); // cached by the server
    const r = await run(['token', 'rotate', tok.id, '--data', s.dataDir]);
    expect(r.code, r.stderr).toBe(0);
    const secret = r.stdout.trim();
    expect(secret).toMatch(/^ggr_[A-Za-z0-9]+$/);
    expect(r.stdout).toBe(`${secret}\n`);
    expect((await meta(tok.token)).status).toBe(401);
    expect((await meta(secret)).status).toBe(200);

    const graced = await run(['token', 'rotate', tok.id, '--grace', '600', '--json', '--data', s.dataDir]);
    expect(graced.code, graced.stderr).toBe(0);
    const body = JSON.parse(graced.stdout);
    expect(body).toMatchObject({ id: tok.id, token: expect.stringMatching(/^ggr_/), previous_secret_valid_until: expect.any(String) });
    expect((await meta(secret)).status).toBe(200); // within the grace
    expect((await meta(body.token)).status).toBe(200);

    const audit = JSON.parse((await run(['audit', 'list', '--action', 'token.rotate', '--json', '--data', s.dataDir])).stdout) as { target_token_id: string; actor_token_id: string | null; detail: { via: string } }[];
    expect(audit.filter((e) => e.target_token_id === tok.id).map((e) => [e.actor_token_id, e.detail.via])).toEqual([
      [null, 'local'],
      [null, 'local'],
    ]);
    for (const args of [
      ['token', 'rotate', tok.id, '--grace', 'soon'],
      ['token', 'rotate', tok.id, '--grace', '-5'],
      ['token', 'rotate', 'tok_0000000000000000'],
    ]) {
      const bad = await run([...args, '--data', s.dataDir]);
      expect(bad.code, args.join(' ')).not.toBe(0);
      expect(bad.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(bad.stderr).toMatch(/^gitgate: /);
    }
  });

  it('gitgate token create --ref / --allow-force / --allow-delete, and repo protect|unprotect|protected', async () => {
    const created = await run(['token', 'create', '--repo', repo, '--ref', 'refs/heads/agent/*', '--ref', 'refs/tags/v*', '--allow-delete', '--json', '--data', s.dataDir]);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ refs: ['refs/heads/agent/*', 'refs/tags/v*'], allow_force: false, allow_delete: true });
    const noForce = await run(['token', 'create', '--repo', repo, '--no-allow-force', '--json', '--data', s.dataDir]);
    expect(JSON.parse(noForce.stdout)).toMatchObject({ refs: [], allow_force: false, allow_delete: true });
    const bad = await run(['token', 'create', '--repo', repo, '--ref', 'heads/main', '--data', s.dataDir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^gitgate: .*must start with refs\/.*\n$/);

    const id = await s.createRepo({ name: 'cli-protect' });
    const p1 = await run(['repo', 'protect', 'cli-protect', 'refs/heads/main', 'refs/tags/*', '--data', s.dataDir]);
    expect(p1.code, p1.stderr).toBe(0);
    expect(p1.stdout).toBe('refs/heads/main\nrefs/tags/*\n');
    expect((await s.api.get(`/v1/repo/${id}/protected_refs`).set(bearer(s.admin))).body).toEqual({ patterns: ['refs/heads/main', 'refs/tags/*'] });
    expect((await run(['repo', 'protect', id, 'refs/heads/main', '--data', s.dataDir])).stdout).toBe('refs/heads/main\nrefs/tags/*\n'); // idempotent
    const listed = await run(['repo', 'protected', id, '--json', '--data', s.dataDir]);
    expect(JSON.parse(listed.stdout)).toEqual({ patterns: ['refs/heads/main', 'refs/tags/*'] });
    const un = await run(['repo', 'unprotect', id, 'refs/tags/*', '--data', s.dataDir]);
    expect(un.code, un.stderr).toBe(0);
    expect((await run(['repo', 'protected', id, '--data', s.dataDir])).stdout).toBe('refs/heads/main\n');
    for (const args of [
      ['repo', 'protect', id, 'main'],
      ['repo', 'unprotect', id, 'refs/heads/nope'],
      ['repo', 'protected', 'no-such-repo'],
    ]) {
      const r = await run([...args, '--data', s.dataDir]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const help = await run(['repo', '--help']);
    expect(help.stdout).toMatch(/protect .*\n.*unprotect|protect[\s\S]*unprotect[\s\S]*protected/);
    const tokHelp = await run(['token', 'create', '--help']);
    expect(tokHelp.stdout).toContain('--ref <pattern>');
    expect(tokHelp.stdout).toContain('--allow-force');
  });
});
