// `gitgate credential` as git uses it: real git clones and pushes with only a parent token in
// the environment; the helper mints a child token per repository, caches it, renews it near
// expiry, revokes it when git reports it rejected, and never prints the parent secret.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir, type GitResult } from '../helpers/git.js';
import { recordingListener } from '../helpers/listener.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BIN = path.resolve(__dirname, '../../bin/gitgate.js');
const NODE = process.execPath;

interface TokenInfo {
  id: string;
  kind: string;
  permission: string;
  repo_ids: string[];
  expires_at: string | null;
  revoked_at: string | null;
  created_by: string | null;
  refs?: string[];
  allow_force?: boolean;
}

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer('fs');
});
afterAll(async () => {
  await server?.close();
});

/** A clean git environment (fresh HOME, XDG dirs) with only the parent token and the server's URL. */
function cleanEnv(parent: string | null, extra: Record<string, string> = {}): Record<string, string> {
  const home = tmpDir('gitgate-cred-home-');
  fs.writeFileSync(path.join(home, '.gitconfig'), '[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n');
  return {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    GITGATE_URL: server.url,
    ...(parent === null ? {} : { GITGATE_TOKEN: parent }),
    ...extra,
  };
}

interface Helper {
  cacheDir: string;
  stderrLog: string;
  /** git -c arguments that install the helper (and nothing else) */
  config: (extraFlags?: string) => string[];
}

function helper(): Helper {
  const dir = tmpDir('gitgate-cred-');
  const cacheDir = path.join(dir, 'cache');
  const stderrLog = path.join(dir, 'helper.stderr');
  fs.writeFileSync(stderrLog, '');
  return {
    cacheDir,
    stderrLog,
    // git runs "!cmd" through the shell and appends the action ("get", "store", "erase")
    config: (extraFlags = '') => [
      '-c', 'credential.helper=',
      '-c', `credential.helper=!'${NODE}' '${BIN}' credential --cache-dir '${cacheDir}' ${extraFlags} 2>>'${stderrLog}'`,
      '-c', 'credential.useHttpPath=true',
    ],
  };
}

function repoUrl(repo: string): string {
  return `${server.url}/v1/repo/${repo}.git`;
}

async function children(parentId: string, repoId: string): Promise<TokenInfo[]> {
  const res = await server.api.get('/v1/repo_token').query({ repo_id: repoId, include_revoked: 'true', page_size: 100 }).set('Authorization', `Bearer ${server.admin}`);
  expect(res.status).toBe(200);
  return (res.body.items as TokenInfo[]).filter((t) => t.created_by === parentId);
}

async function tokenInfo(id: string): Promise<TokenInfo> {
  const res = await server.api.get(`/v1/repo_token/${id}`).set('Authorization', `Bearer ${server.admin}`);
  expect(res.status).toBe(200);
  return res.body as TokenInfo;
}

function cacheFiles(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.json')) : [];
}

async function newRepo(name?: string): Promise<string> {
  return server.createRepo({ ...(name ? { name } : {}), source: { type: 'files', files: [{ filename: 'README.md', content: 'hello\n' }] } });
}

/** Run the helper directly, as git would, with the given credential description on stdin. */
function runHelper(args: string[], input: string, env: Record<string, string>): Promise<GitResult> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [BIN, 'credential', ...args], { env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

function describeUrl(repo: string, password?: string): string {
  const u = new URL(repoUrl(repo));
  return `protocol=http\nhost=${u.host}\npath=${u.pathname.slice(1)}\nusername=x-access-token\n${password ? `password=${password}\n` : ''}\n`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('gitgate credential with real git', () => {
  it('clones and pushes with only a parent token, minting one scoped child and reusing it', async () => {
    const id = await newRepo();
    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const h = helper();
    const env = cleanEnv(parent.token);
    const w = path.join(tmpDir(), 'w');

    const clone = await git([...h.config(), 'clone', '-q', repoUrl(id), w], { env });
    expect(clone.code, clone.stderr).toBe(0);
    const mintedAt = Date.now();
    await commitFiles(w, { 'b.txt': 'pushed through the helper\n' }, 'via credential helper');
    const push = await git([...h.config(), 'push', 'origin', 'HEAD:main'], { cwd: w, env });
    expect(push.code, push.stderr).toBe(0);

    const kids = await children(parent.id, id);
    expect(kids).toHaveLength(1);
    const child = kids[0]!;
    expect(child).toMatchObject({ kind: 'repo', permission: 'write', repo_ids: [id], revoked_at: null });
    expect(Math.abs(Date.parse(child.expires_at!) - (mintedAt + 3600_000))).toBeLessThan(60_000);

    // the cache: one 0600 file in a 0700 directory, holding the child but never the parent
    const files = cacheFiles(h.cacheDir);
    expect(files).toHaveLength(1);
    expect(fs.statSync(h.cacheDir).mode & 0o777).toBe(0o700);
    const file = path.join(h.cacheDir, files[0]!);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const cached = fs.readFileSync(file, 'utf8');
    expect(JSON.parse(cached)).toMatchObject({ id: child.id, token: expect.stringMatching(/^ggr_/) });
    expect(cached).not.toContain(parent.token);
    expect(files[0]).not.toContain(parent.id);

    // a second clone and a fetch reuse the cached child
    const again = await git([...h.config(), 'clone', '-q', repoUrl(id), path.join(tmpDir(), 'w2')], { env });
    expect(again.code, again.stderr).toBe(0);
    await gitOk([...h.config(), 'fetch', '-q', 'origin'], { cwd: w, env });
    expect(await children(parent.id, id)).toHaveLength(1);

    const log = await gitOk(['--git-dir', await server.bareRepo(id), 'log', '--format=%s', 'main']);
    expect(log.split('\n')[0]).toBe('via credential helper');
    await server.fsck(id);
    for (const out of [clone.stdout, clone.stderr, push.stdout, push.stderr, again.stderr, fs.readFileSync(h.stderrLog, 'utf8')]) {
      expect(out).not.toContain(parent.token);
    }
    expect(fs.readFileSync(h.stderrLog, 'utf8')).toBe('');
  });

  it('takes the repository by name, and a parent file via GITGATE_TOKEN_FILE or --token-file', async () => {
    const id = await newRepo('cred-by-name');
    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const dir = tmpDir();
    const tokenFile = path.join(dir, 'parent-token');
    fs.writeFileSync(tokenFile, `${parent.token}\n`, { mode: 0o600 });

    const h = helper();
    const viaEnvFile = await git([...h.config(), 'ls-remote', repoUrl('cred-by-name')], { env: cleanEnv(null, { GITGATE_TOKEN_FILE: tokenFile }) });
    expect(viaEnvFile.code, viaEnvFile.stderr).toBe(0);
    expect(viaEnvFile.stdout).toMatch(/refs\/heads\/main/);
    const kids = await children(parent.id, id);
    expect(kids).toHaveLength(1);
    expect(kids[0]!.repo_ids).toEqual([id]);

    const h2 = helper();
    const viaFlag = await git([...h2.config(`--token-file '${tokenFile}' --permission read`), 'ls-remote', repoUrl('cred-by-name')], { env: cleanEnv(null) });
    expect(viaFlag.code, viaFlag.stderr).toBe(0);
    const after = await children(parent.id, id);
    expect(after).toHaveLength(2);
    expect(after.map((t) => t.permission).sort()).toEqual(['read', 'write']);
  });

  it('renews a child that is close to expiry or expired', async () => {
    const id = await newRepo();
    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const h = helper();
    const env = cleanEnv(parent.token);

    const w = path.join(tmpDir(), 'w');
    await gitOk([...h.config('--ttl 20 --min-remaining 1'), 'clone', '-q', repoUrl(id), w], { env });
    const [first] = await children(parent.id, id);
    expect(first).toBeDefined();
    expect(Date.parse(first!.expires_at!) - Date.now()).toBeLessThanOrEqual(20_000);
    // more than a second left: reused
    await gitOk([...h.config('--ttl 20 --min-remaining 1'), 'fetch', '-q', 'origin'], { cwd: w, env });
    expect(await children(parent.id, id)).toHaveLength(1);

    // a margin longer than what is left: the cached child counts as expired, a new one is minted
    await gitOk([...h.config('--ttl 20 --min-remaining 30'), 'fetch', '-q', 'origin'], { cwd: w, env });
    expect(await children(parent.id, id)).toHaveLength(2);
    expect(Date.parse(first!.expires_at!)).toBeGreaterThan(Date.now()); // renewed before it expired

    // a short-lived child that really expires: the next operation mints a fresh one and works
    // (8 s, not less: the fetch itself must finish with it, even on a loaded machine)
    await gitOk([...h.config('--ttl 8 --min-remaining 30'), 'fetch', '-q', 'origin'], { cwd: w, env });
    const three = await children(parent.id, id);
    expect(three).toHaveLength(3);
    const shortest = three.map((t) => Date.parse(t.expires_at!)).sort((a, b) => a - b)[0]!;
    expect(shortest - Date.now()).toBeLessThanOrEqual(8_000);
    await sleep(Math.max(0, shortest - Date.now()) + 1_200);
    await commitFiles(w, { 'late.txt': 'after expiry\n' }, 'after expiry');
    const push = await git([...h.config('--ttl 8 --min-remaining 0'), 'push', '-q', 'origin', 'HEAD:main'], { cwd: w, env });
    expect(push.code, push.stderr).toBe(0);
    expect(await children(parent.id, id)).toHaveLength(4);
    await server.fsck(id);
  }, 60_000);

  it('never mints a child that outlives its parent', async () => {
    const id = await newRepo();
    const parent = await server.mint({ name: 'short parent', repo_ids: [id], permission: 'admin', ttl_seconds: 120 });
    const parentInfo = await tokenInfo(parent.id);
    const h = helper();
    const r = await git([...h.config('--ttl 3600'), 'ls-remote', repoUrl(id)], { env: cleanEnv(parent.token) });
    expect(r.code, r.stderr).toBe(0);
    const [child] = await children(parent.id, id);
    expect(Date.parse(child!.expires_at!)).toBeLessThanOrEqual(Date.parse(parentInfo.expires_at!));
  });

  it('erase revokes the cached child and forgets it; git erases a rejected child by itself', async () => {
    const id = await newRepo();
    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const h = helper();
    const env = cleanEnv(parent.token);
    const w = path.join(tmpDir(), 'w');
    await gitOk([...h.config(), 'clone', '-q', repoUrl(id), w], { env });
    const [child] = await children(parent.id, id);
    const cachedSecret = JSON.parse(fs.readFileSync(path.join(h.cacheDir, cacheFiles(h.cacheDir)[0]!), 'utf8')).token as string;

    // a credential the helper did not mint is left alone
    const foreign = await server.mint({ name: 'foreign', repo_ids: [id], permission: 'read' });
    const ignored = await runHelper(['--cache-dir', h.cacheDir, 'erase'], describeUrl(id, foreign.token), env);
    expect(ignored.code).toBe(0);
    expect((await tokenInfo(foreign.id)).revoked_at).toBeNull();
    expect((await tokenInfo(child!.id)).revoked_at).toBeNull();
    expect(cacheFiles(h.cacheDir)).toHaveLength(1);

    // what git sends after a 401 with the cached child: revoked server-side, gone from the cache
    const erased = await runHelper(['--cache-dir', h.cacheDir, 'erase'], describeUrl(id, cachedSecret), env);
    expect(erased.code).toBe(0);
    expect(erased.stdout).toBe('');
    expect((await tokenInfo(child!.id)).revoked_at).not.toBeNull();
    expect(cacheFiles(h.cacheDir)).toHaveLength(0);
    expect(erased.stderr).not.toContain(parent.token);

    // git itself: the cached child is revoked behind the helper's back; the fetch that gets
    // the 401 makes git call erase, and the next fetch gets a fresh child
    await gitOk([...h.config(), 'fetch', '-q', 'origin'], { cwd: w, env });
    const second = (await children(parent.id, id)).find((t) => t.revoked_at === null)!;
    await server.api.delete(`/v1/repo_token/${second.id}`).set('Authorization', `Bearer ${server.admin}`).expect(204);
    const rejected = await git([...h.config(), 'fetch', '-q', 'origin'], { cwd: w, env });
    expect(rejected.code).not.toBe(0);
    expect(rejected.stderr).toMatch(/Authentication failed/);
    expect(cacheFiles(h.cacheDir)).toHaveLength(0);
    await gitOk([...h.config(), 'fetch', '-q', 'origin'], { cwd: w, env });
    const all = await children(parent.id, id);
    expect(all).toHaveLength(3);
    expect(all.filter((t) => t.revoked_at === null)).toHaveLength(1);
  });

  it('a read-only parent gets no write child: push fails cleanly and nothing is minted', async () => {
    const id = await newRepo();
    const admin = await server.mint({ name: 'admin parent', repo_ids: [id], permission: 'admin' });
    const readParent = await server.mint({ name: 'read parent', repo_ids: [id], permission: 'read' });
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', server.gitUrl(id, admin.token), w]);
    await gitOk(['remote', 'set-url', 'origin', repoUrl(id)], { cwd: w });
    await commitFiles(w, { 'x.txt': 'x\n' }, 'should not land');

    const h = helper();
    const push = await git([...h.config(), 'push', 'origin', 'HEAD:main'], { cwd: w, env: cleanEnv(readParent.token) });
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/could not read Username|Authentication failed/);
    const helperErr = fs.readFileSync(h.stderrLog, 'utf8');
    expect(helperErr).toMatch(/^gitgate credential: cannot mint a write token .*403/m);
    expect(helperErr).not.toContain(readParent.token);
    expect(push.stderr).not.toContain(readParent.token);
    expect(await children(readParent.id, id)).toHaveLength(0);
    expect(cacheFiles(h.cacheDir)).toHaveLength(0);
    const head = await gitOk(['--git-dir', await server.bareRepo(id), 'log', '--format=%s', '-1', 'main']);
    expect(head.trim()).not.toBe('should not land');
  });

  it('a read child (--permission read) clones but cannot push', async () => {
    const id = await newRepo();
    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const h = helper();
    const env = cleanEnv(parent.token);
    const w = path.join(tmpDir(), 'w');
    await gitOk([...h.config('--permission read'), 'clone', '-q', repoUrl(id), w], { env });
    await commitFiles(w, { 'y.txt': 'y\n' }, 'read child push');
    const push = await git([...h.config('--permission read'), 'push', 'origin', 'HEAD:main'], { cwd: w, env });
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/denied|403/i);
    const kids = await children(parent.id, id);
    expect(kids).toHaveLength(1);
    expect(kids[0]!.permission).toBe('read');
  });

  it('forwards ref scopes (--ref, --no-allow-force) to the minted child', async () => {
    const id = await newRepo();
    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const h = helper();
    const env = cleanEnv(parent.token);
    const flags = "--ref 'refs/heads/agent/*' --no-allow-force";
    const w = path.join(tmpDir(), 'w');
    await gitOk([...h.config(flags), 'clone', '-q', repoUrl(id), w], { env });
    await commitFiles(w, { 'agent.txt': 'agent\n' }, 'agent work');
    await gitOk([...h.config(flags), 'push', '-q', 'origin', 'HEAD:refs/heads/agent/one'], { cwd: w, env });
    const main = await git([...h.config(flags), 'push', 'origin', 'HEAD:main'], { cwd: w, env });
    expect(main.code).not.toBe(0);
    const kids = await children(parent.id, id);
    expect(kids).toHaveLength(1);
    expect(kids[0]).toMatchObject({ refs: ['refs/heads/agent/*'], allow_force: false });
    const bare = await server.bareRepo(id);
    expect((await gitOk(['--git-dir', bare, 'log', '--format=%s', '-1', 'refs/heads/agent/one'])).trim()).toBe('agent work');
    expect((await gitOk(['--git-dir', bare, 'log', '--format=%s', '-1', 'main'])).trim()).not.toBe('agent work');
    expect(fs.readFileSync(h.stderrLog, 'utf8')).toBe('');
    await server.fsck(id);
  });

  it('answers nothing without a path (credential.useHttpPath unset) or for other URLs', async () => {
    const id = await newRepo();
    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const env = cleanEnv(parent.token);
    const h = helper();
    const u = new URL(repoUrl(id));
    const noPath = await runHelper(['--cache-dir', h.cacheDir, 'get'], `protocol=http\nhost=${u.host}\n\n`, env);
    expect(noPath).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const other = await runHelper(['--cache-dir', h.cacheDir, 'get'], `url=http://${u.host}/some/other/repo.git\n\n`, env);
    expect(other).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const otherServer = await runHelper(['--cache-dir', h.cacheDir, '--server', 'https://git.example.com', 'get'], describeUrl(id), env);
    expect(otherServer).toMatchObject({ code: 0, stdout: '' });
    const unknownAction = await runHelper(['--cache-dir', h.cacheDir, 'frobnicate'], describeUrl(id), env);
    expect(unknownAction).toMatchObject({ code: 0, stdout: '' });

    // with git: the helper is asked without a path, stays silent, and git gives up
    const config = ['-c', 'credential.helper=', '-c', h.config()[3]!]; // the helper, without useHttpPath
    const r = await git([...config, 'ls-remote', repoUrl(id)], { env });
    expect(r.code).not.toBe(0);
    expect(await children(parent.id, id)).toHaveLength(0);
    expect(fs.readFileSync(h.stderrLog, 'utf8')).toBe('');
  });

  it('answers get in the protocol format, with the expiry, and never prints the parent secret', async () => {
    const id = await newRepo();
    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const env = cleanEnv(parent.token);
    const h = helper();
    const u = new URL(repoUrl(id));
    const r = await runHelper(['--cache-dir', h.cacheDir, '--ttl', '600', 'get'], `url=${u.href}\n\n`, env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('username=x-access-token');
    expect(lines[1]).toMatch(/^password=ggr_[0-9A-Za-z]{54}$/);
    const expiry = Number(/^password_expiry_utc=(\d+)$/.exec(lines[2]!)![1]);
    expect(Math.abs(expiry - (Date.now() / 1000 + 600))).toBeLessThan(30);
    const [child] = await children(parent.id, id);
    expect(Math.floor(Date.parse(child!.expires_at!) / 1000)).toBe(expiry);
    // the child works as a password for git directly
    const child2 = lines[1]!.slice('password='.length);
    await gitOk(['ls-remote', server.gitUrl(id, child2, 'x-access-token')]);

    // through a wrapper that records everything the helper writes, during git operations too
    const log = path.join(tmpDir(), 'helper.log');
    const wrapper = path.join(tmpDir(), 'helper.sh');
    fs.writeFileSync(wrapper, `#!/bin/sh\n'${NODE}' '${BIN}' credential --cache-dir '${h.cacheDir}' "$@" 2>>'${log}' | tee -a '${log}'\n`, { mode: 0o755 });
    const cfg = ['-c', 'credential.helper=', '-c', `credential.helper=${wrapper}`, '-c', 'credential.useHttpPath=true'];
    const w = path.join(tmpDir(), 'w');
    await gitOk([...cfg, 'clone', '-q', repoUrl(id), w], { env });
    await commitFiles(w, { 'z.txt': 'z\n' }, 'wrapped');
    await gitOk([...cfg, 'push', '-q', 'origin', 'HEAD:main'], { cwd: w, env });
    const bad = await git([...cfg, 'ls-remote', repoUrl('no-such-repo')], { env });
    expect(bad.code).not.toBe(0);
    const recorded = fs.readFileSync(log, 'utf8');
    expect(recorded).toMatch(/password=ggr_/); // it did record the helper's answers
    expect(recorded).toMatch(/gitgate credential: cannot mint/); // and its errors
    expect(recorded).not.toContain(parent.token);
    expect(recorded).not.toContain(parent.token.slice(4, 40));
    await server.fsck(id);
  });

  it('fails with one line and no answer without a parent token or with a bad one', async () => {
    const id = await newRepo();
    const h = helper();
    const none = await runHelper(['--cache-dir', h.cacheDir, 'get'], describeUrl(id), cleanEnv(null));
    expect(none.code).not.toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^gitgate credential: no parent token: set GITGATE_TOKEN/);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);

    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const typo = parent.token.slice(0, -1) + (parent.token.endsWith('a') ? 'b' : 'a');
    const bad = await runHelper(['--cache-dir', h.cacheDir, 'get'], describeUrl(id), cleanEnv(typo));
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/not a well-formed gitgate token/);
    expect(bad.stderr).not.toContain(typo);

    await server.api.delete(`/v1/repo_token/${parent.id}`).set('Authorization', `Bearer ${server.admin}`).expect(204);
    const revoked = await runHelper(['--cache-dir', h.cacheDir, 'get'], describeUrl(id), cleanEnv(parent.token));
    expect(revoked.code).not.toBe(0);
    expect(revoked.stdout).toBe('');
    expect(revoked.stderr).toMatch(/parent token \(GITGATE_TOKEN\) was rejected/);
    expect(revoked.stderr).not.toContain(parent.token);

    const store = await runHelper(['--cache-dir', h.cacheDir, 'store'], describeUrl(id, parent.token), cleanEnv(parent.token));
    expect(store).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(cacheFiles(h.cacheDir)).toHaveLength(0);
  });

  it('has --help with the options and the setup line', async () => {
    const r = await runHelper(['--help'], '', {});
    expect(r.code).toBe(0);
    for (const flag of ['--token-file', '--ttl', '--permission', '--ref', '--allow-force', '--allow-delete', '--min-remaining', '--cache-dir', 'GITGATE_TOKEN', 'useHttpPath']) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toMatch(/git config --global credential\..*helper '!npx gitgate credential --server https:\/\/git\.example\.com'/);
    for (const flag of ['--server', 'GITGATE_URL', '--allow-http']) expect(r.stdout).toContain(flag);
  });
});

describe('the helper sends the parent token to its server only', () => {
  /** A foreign host that looks like gitgate to git: 401 with a Basic challenge, so git asks the helper. */
  const foreignHost = () =>
    recordingListener((_req, res) => {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="gitgate"' }).end();
    });

  it('answers nothing and sends nothing to another host, even one whose path looks like a gitgate repository', async () => {
    const id = await newRepo();
    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const foreign = await foreignHost();
    try {
      const h = helper();
      const env = cleanEnv(parent.token);
      const asked = `protocol=http\nhost=127.0.0.1:${foreign.port}\npath=v1/repo/${id}.git\n\n`;
      for (const action of ['get', 'erase']) {
        const r = await runHelper(['--cache-dir', h.cacheDir, action], asked, env);
        expect(r, action).toMatchObject({ code: 0, stdout: '', stderr: '' });
      }
      expect(foreign.connections).toBe(0);

      // what a malicious submodule URL does: git itself asks the helper for the foreign host
      const r = await git([...h.config(), 'ls-remote', `${foreign.url}/v1/repo/${id}.git`], { env });
      expect(r.code).not.toBe(0);
      expect(foreign.requests.length).toBeGreaterThan(0); // git did go there...
      for (const req of foreign.requests) {
        expect(req.url).not.toMatch(/repo_token/); // ...but the helper did not
        expect(JSON.stringify(req.headers)).not.toContain(parent.token);
        expect(req.headers.authorization).toBeUndefined();
      }
      expect(await children(parent.id, id)).toHaveLength(0);
      expect(fs.readFileSync(h.stderrLog, 'utf8')).toBe('');
    } finally {
      await foreign.close();
    }
  });

  it('answers nothing at all without --server or GITGATE_URL', async () => {
    const id = await newRepo();
    const parent = await server.mint({ name: 'parent', repo_ids: [id], permission: 'admin' });
    const foreign = await foreignHost();
    try {
      const h = helper();
      const env = cleanEnv(parent.token, { GITGATE_URL: '' });
      for (const url of [repoUrl(id), `${foreign.url}/v1/repo/${id}.git`]) {
        const u = new URL(url);
        const r = await runHelper(['--cache-dir', h.cacheDir, 'get'], `protocol=http\nhost=${u.host}\npath=${u.pathname.slice(1)}\n\n`, env);
        expect(r).toMatchObject({ code: 0, stdout: '' });
        expect(r.stderr).toMatch(/^gitgate credential: no server configured \(--server URL or GITGATE_URL\): not answering\n$/);
      }
      expect(foreign.connections).toBe(0);
      expect(await children(parent.id, id)).toHaveLength(0);
      // the same with the flag: it answers for its server
      const ok = await runHelper(['--cache-dir', h.cacheDir, '--server', server.url, 'get'], describeUrl(id), env);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/^username=x-access-token\npassword=ggr_/);
      expect(await children(parent.id, id)).toHaveLength(1);
    } finally {
      await foreign.close();
    }
  });
});
