// SPEC §3 over the wire: credentials forms, 401/404/403 rules, revocation and expiry.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('authentication on git endpoints', () => {
  let s: TestServer;
  let repo: string;
  let other: string;
  beforeAll(async () => {
    s = await startTestServer('fs');
    repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    other = await s.createRepo({ source: { type: 'files', files: [{ filename: 'b.txt', content: 'b\n' }] } });
  });
  afterAll(async () => {
    await s.close();
  });

  const refsPath = (id: string, service = 'git-upload-pack') => `/v1/repo/${id}.git/info/refs?service=${service}`;

  it('answers 401 with a Basic challenge without credentials or with bad ones', async () => {
    const { token } = await s.mint({ name: 't', repo_ids: [repo] });
    const typo = token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a');
    for (const auth of [undefined, 'Bearer nonsense', `Bearer ${typo}`, `Basic ${Buffer.from('x:ggr_notatoken').toString('base64')}`]) {
      const req = s.api.get(refsPath(repo));
      if (auth) req.set('Authorization', auth);
      const res = await req;
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="gitgate"');
    }
  });

  it('accepts the token as Basic password with any user, as user with empty password, and as Bearer', async () => {
    const { token } = await s.mint({ name: 't', repo_ids: [repo], permission: 'read' });
    const forms = [
      `Basic ${Buffer.from(`token:${token}`).toString('base64')}`,
      `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`,
      `Basic ${Buffer.from(`${token}:`).toString('base64')}`,
      `Bearer ${token}`,
    ];
    for (const auth of forms) {
      const res = await s.api.get(refsPath(repo)).set('Authorization', auth);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/x-git-upload-pack-advertisement');
      expect(res.headers['cache-control']).toBe('no-cache');
    }
  });

  it('clones with the token as user name (empty password) and with a Bearer extra header', async () => {
    const { token } = await s.mint({ name: 't', repo_ids: [repo], permission: 'read' });
    const askpass = path.join(tmpDir(), 'askpass.sh');
    fs.writeFileSync(askpass, '#!/bin/sh\necho ""\n', { mode: 0o755 });
    const u = new URL(`${s.url}/v1/repo/${repo}.git`);
    u.username = token;
    await gitOk(['clone', '-q', u.toString(), path.join(tmpDir(), 'a')], { env: { GIT_ASKPASS: askpass } });
    await gitOk(['-c', `http.extraHeader=Authorization: Bearer ${token}`, 'clone', '-q', `${s.url}/v1/repo/${repo}.git`, path.join(tmpDir(), 'b')]);
  });

  it('asks the credential helper (GIT_ASKPASS) on 401', async () => {
    const { token } = await s.mint({ name: 't', repo_ids: [repo], permission: 'read' });
    const dir = tmpDir();
    const log = path.join(dir, 'asked.log');
    const askpass = path.join(dir, 'askpass.sh');
    fs.writeFileSync(askpass, `#!/bin/sh\necho "$1" >> ${log}\ncase "$1" in Username*) echo token;; *) echo ${token};; esac\n`, { mode: 0o755 });
    await gitOk(['clone', '-q', `${s.url}/v1/repo/${repo}.git`, path.join(dir, 'c')], { env: { GIT_ASKPASS: askpass } });
    const asked = fs.readFileSync(log, 'utf8');
    expect(asked).toMatch(/Username for/);
    expect(asked).toMatch(/Password for/);
  });

  it('hides repositories outside a token scope behind the same 404 as a missing one', async () => {
    const { token } = await s.mint({ name: 't', repo_ids: [repo] });
    const outside = await s.api.get(refsPath(other)).set('Authorization', `Bearer ${token}`);
    const missing = await s.api.get(refsPath('00000000-0000-0000-0000-000000000000')).set('Authorization', `Bearer ${token}`);
    expect(outside.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(outside.text).toBe(missing.text);
    const r = await git(['ls-remote', s.gitUrl(other, token)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not found/i);
  });

  it('refuses a push with a read token with 403 and git shows why', async () => {
    const { token } = await s.mint({ name: 'reader', repo_ids: [repo], permission: 'read' });
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', s.gitUrl(repo, token), w]);
    const before = (await gitOk(['ls-remote', s.gitUrl(repo, token), 'refs/heads/main'])).split('\t')[0];
    await commitFiles(w, { 'z.txt': 'z\n' }, 'not allowed');
    const r = await git(['push', 'origin', 'main'], { cwd: w });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/remote: Permission denied: this token has read access; pushing needs write/);
    expect(r.stderr).toMatch(/403/);
    const after = (await gitOk(['ls-remote', s.gitUrl(repo, token), 'refs/heads/main'])).split('\t')[0];
    expect(after).toBe(before);
  });

  it('fails a revoked token on its very next request', async () => {
    const { token, id } = await s.mint({ name: 'short', repo_ids: [repo] });
    const ok = await s.api.get(refsPath(repo)).set('Authorization', `Bearer ${token}`);
    expect(ok.status).toBe(200); // now cached
    const del = await s.api.delete(`/v1/repo_token/${id}`).set('Authorization', `Bearer ${s.admin}`);
    expect(del.status).toBe(204);
    const after = await s.api.get(refsPath(repo)).set('Authorization', `Bearer ${token}`);
    expect(after.status).toBe(401);
    const r = await git(['ls-remote', s.gitUrl(repo, token)]);
    expect(r.code).not.toBe(0);
  });

  it('fails an expired token like an unknown one', async () => {
    const { token } = await s.mint({ name: 'brief', repo_ids: [repo], ttl_seconds: 1 });
    expect((await s.api.get(refsPath(repo)).set('Authorization', `Bearer ${token}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const res = await s.api.get(refsPath(repo)).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="gitgate"');
  });

  it('refuses the dumb protocol with a clear message', async () => {
    const res = await s.api.get(`/v1/repo/${repo}.git/info/refs`).set('Authorization', `Bearer ${s.admin}`);
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/smart HTTP/);
  });
});
