// The credential helper's logic against a scripted server: the mint request body, ref-scope
// fail-closed, TTL clamping, caching, erase, and that the parent secret never leaks.
import fs from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { generateSecret, newTokenId } from '../../src/auth/token-format.js';
import { cacheKey, CredentialCache } from '../../src/cli/credential-cache.js';
import { HelperError, runCredentialHelper, type CredentialOptions } from '../../src/cli/credential.js';
import { tmpDir } from '../helpers/git.js';

interface Call {
  method: string;
  url: string;
  auth: string | null;
  body: Record<string, unknown> | null;
  redirect?: string;
}

type Handler = (call: Call) => { status: number; body?: unknown };

const NOW = Date.parse('2026-03-01T12:00:00Z');

function fakeServer(handler?: Handler) {
  const calls: Call[] = [];
  const minted: string[] = [];
  const defaultHandler: Handler = (call) => {
    if (call.method === 'GET') return { status: 200, body: { id: 'tok_parent', expires_at: null } };
    if (call.method === 'POST') {
      const id = newTokenId();
      const token = generateSecret('repo', id);
      minted.push(token);
      const ttl = call.body!.ttl_seconds as number;
      return {
        status: 201,
        body: { token, id, permission: call.body!.permission, repo_ids: ['r1'], expires_at: new Date(NOW + ttl * 1000).toISOString(), ...(call.body!.refs ? { refs: call.body!.refs } : {}) },
      };
    }
    return { status: 204 };
  };
  const fetchImpl = (async (url: string | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const call: Call = {
      method: init?.method ?? 'GET',
      url: String(url),
      auth: headers.get('authorization'),
      body: typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : null,
      redirect: init?.redirect,
    };
    calls.push(call);
    const r = (handler ?? defaultHandler)(call);
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), { status: r.status, headers: { 'Content-Type': 'application/json' } });
  }) as typeof fetch;
  return { calls, minted, fetchImpl };
}

const parent = generateSecret('repo', newTokenId());
const INPUT = 'protocol=https\nhost=git.example.com\npath=v1/repo/r1.git\n\n';

/** Runs the helper; its server is https://git.example.com (GITGATE_URL) unless `env` says otherwise. */
async function run(action: string, opts: CredentialOptions, srv: ReturnType<typeof fakeServer>, input = INPUT, env: NodeJS.ProcessEnv = { GITGATE_TOKEN: parent }, now = NOW) {
  env = { GITGATE_URL: 'https://git.example.com', ...env };
  let stdout = '';
  let stderr = '';
  const stdin = new PassThrough();
  stdin.end(input);
  let error: Error | null = null;
  try {
    await runCredentialHelper(action, opts, { stdin, stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env, now: () => now, fetch: srv.fetchImpl });
  } catch (err) {
    error = err as Error;
  }
  return { stdout, stderr, error };
}

describe('credential helper get', () => {
  it('mints with the parent as bearer and a minimal body, then answers from the cache', async () => {
    const srv = fakeServer();
    const cacheDir = tmpDir();
    const r = await run('get', { cacheDir }, srv);
    expect(r.error).toBeNull();
    const post = srv.calls.find((c) => c.method === 'POST')!;
    expect(post.url).toBe('https://git.example.com/v1/repo_token');
    expect(post.auth).toBe(`Bearer ${parent}`);
    expect(post.redirect).toBe('error');
    expect(Object.keys(post.body!).sort()).toEqual(['name', 'permission', 'repo_ids', 'ttl_seconds']);
    expect(post.body).toMatchObject({ repo_ids: ['r1'], ttl_seconds: 3600, permission: 'write' });
    expect(r.stdout).toBe(`username=x-access-token\npassword=${srv.minted[0]}\npassword_expiry_utc=${(NOW + 3600_000) / 1000}\n`);

    const again = await run('get', { cacheDir }, srv, INPUT, { GITGATE_TOKEN: parent }, NOW + 3000_000);
    expect(again.stdout).toBe(r.stdout);
    expect(srv.calls.filter((c) => c.method === 'POST')).toHaveLength(1);
    // within the default margin (360 s of 3600): renewed
    const renewed = await run('get', { cacheDir }, srv, INPUT, { GITGATE_TOKEN: parent }, NOW + 3300_000);
    expect(srv.calls.filter((c) => c.method === 'POST')).toHaveLength(2);
    expect(renewed.stdout).toContain(`password=${srv.minted[1]}`);
  });

  it('forwards ref scopes and force/delete flags only when given', async () => {
    const srv = fakeServer();
    await run('get', { cache: false, ref: ['refs/heads/agent/*', 'refs/tags/v*'], allowForce: false, allowDelete: true, permission: 'read', ttl: '60' }, srv);
    const post = srv.calls.find((c) => c.method === 'POST')!;
    expect(post.body).toMatchObject({ refs: ['refs/heads/agent/*', 'refs/tags/v*'], allow_force: false, allow_delete: true, permission: 'read', ttl_seconds: 60 });
  });

  it('fails closed when the server ignores the ref scope: revokes what it minted, answers nothing', async () => {
    const srv = fakeServer((call) => {
      if (call.method === 'POST') {
        const id = newTokenId();
        return { status: 201, body: { token: generateSecret('repo', id), id, permission: 'write', expires_at: new Date(NOW + 3600_000).toISOString() } };
      }
      if (call.method === 'GET') return { status: 200, body: { expires_at: null } };
      return { status: 204 };
    });
    const cacheDir = tmpDir();
    const r = await run('get', { cacheDir, ref: ['refs/heads/main'] }, srv);
    expect(r.error).toBeInstanceOf(HelperError);
    expect(r.error!.message).toMatch(/does not support ref-scoped tokens/);
    expect(r.stdout).toBe('');
    const del = srv.calls.find((c) => c.method === 'DELETE')!;
    expect(del.url).toMatch(/\/v1\/repo_token\/tok_/);
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });

  it("clamps the TTL to the parent's expiry", async () => {
    const srv = fakeServer((call) => {
      if (call.method === 'GET') return { status: 200, body: { expires_at: new Date(NOW + 100_000).toISOString() } };
      if (call.method === 'POST') {
        const id = newTokenId();
        return { status: 201, body: { token: generateSecret('repo', id), id, expires_at: new Date(NOW + (call.body!.ttl_seconds as number) * 1000).toISOString() } };
      }
      return { status: 204 };
    });
    await run('get', { cache: false }, srv);
    expect(srv.calls.find((c) => c.method === 'POST')!.body!.ttl_seconds).toBe(99);

    const expired = fakeServer(() => ({ status: 200, body: { expires_at: new Date(NOW - 1000).toISOString() } }));
    const r = await run('get', { cache: false }, expired);
    expect(r.error?.message).toMatch(/parent token \(GITGATE_TOKEN\) has expired/);
    expect(expired.calls.some((c) => c.method === 'POST')).toBe(false);
  });

  it('never lets the parent secret into an error, even one the server echoes', async () => {
    const srv = fakeServer((call) =>
      call.method === 'GET' ? { status: 200, body: {} } : { status: 403, body: { error: { code: 'ATTENUATION', message: `nope ${call.auth}` } } },
    );
    const r = await run('get', { cache: false }, srv);
    expect(r.error).toBeInstanceOf(HelperError);
    expect(r.error!.message).toMatch(/cannot mint a write token for repository r1 at https:\/\/git\.example\.com: 403 ATTENUATION/);
    expect(r.error!.message).not.toContain(parent);
    expect(r.error!.message).not.toContain(parent.slice(4, 40));
    expect(r.stdout).toBe('');
  });

  it('says where the parent token is missing or malformed, without printing it', async () => {
    const srv = fakeServer();
    const none = await run('get', {}, srv, INPUT, {});
    expect(none.error?.message).toMatch(/no parent token/);
    const bad = await run('get', {}, srv, INPUT, { GITGATE_TOKEN: 'ggw_not-a-token-secret' });
    expect(bad.error?.message).toMatch(/GITGATE_TOKEN is not a well-formed gitgate token/);
    expect(bad.error?.message).not.toContain('not-a-token-secret');
    const missingFile = await run('get', { tokenFile: '/nonexistent/token' }, srv, INPUT, {});
    expect(missingFile.error?.message).toMatch(/cannot read the parent token file \(--token-file\): ENOENT/);
    expect(srv.calls).toHaveLength(0);
  });

  it('stays silent for other URLs, other servers, unknown actions and store', async () => {
    const srv = fakeServer();
    for (const [action, opts, input] of [
      ['get', {}, 'protocol=https\nhost=git.example.com\n\n'],
      ['get', {}, 'url=https://git.example.com/owner/repo.git\n'],
      ['get', { server: 'https://other.example.com' }, INPUT],
      ['frob', {}, INPUT],
      ['store', {}, `${INPUT.trim()}\nusername=x\npassword=${parent}\n`],
    ] as const) {
      const r = await run(action, opts, srv, input);
      expect(r).toEqual({ stdout: '', stderr: '', error: null });
    }
    expect(srv.calls).toHaveLength(0);
    const matching = await run('get', { server: 'HTTPS://git.example.com/', cache: false }, srv);
    expect(matching.stdout).toContain('password=');
  });
});

describe('credential helper: its one server', () => {
  const ask = (protocol: string, host: string, path = 'v1/repo/r1.git') => `protocol=${protocol}\nhost=${host}\npath=${path}\n\n`;

  it('answers nothing and sends nothing for another scheme, host or port', async () => {
    const srv = fakeServer();
    for (const input of [
      ask('https', 'evil.example'),
      ask('https', 'git.example.com.evil.example'),
      ask('https', 'git.example.com:8443'),
      ask('http', 'git.example.com'),
      ask('https', 'evil.example', 'git.example.com/v1/repo/r1.git'),
      'url=https://evil.example/v1/repo/r1.git\n',
    ]) {
      for (const action of ['get', 'erase']) {
        const r = await run(action, { cache: false }, srv, input);
        expect(r, input).toEqual({ stdout: '', stderr: '', error: null });
      }
    }
    expect(srv.calls).toHaveLength(0);
  });

  it('answers nothing without --server or GITGATE_URL, with a hint only for a gitgate-looking URL', async () => {
    const srv = fakeServer();
    const gitgateLike = await run('get', { cache: false }, srv, INPUT, { GITGATE_TOKEN: parent, GITGATE_URL: '' });
    expect(gitgateLike).toEqual({ stdout: '', stderr: 'gitgate credential: no server configured (--server URL or GITGATE_URL): not answering\n', error: null });
    const other = await run('get', { cache: false }, srv, ask('https', 'github.com', 'owner/repo.git'), { GITGATE_TOKEN: parent, GITGATE_URL: '' });
    expect(other).toEqual({ stdout: '', stderr: '', error: null });
    expect(srv.calls).toHaveLength(0);
  });

  it('takes --server over GITGATE_URL, and sends requests to the configured server', async () => {
    const srv = fakeServer();
    const r = await run('get', { cache: false, server: 'https://git.example.com:443/' }, srv, INPUT, { GITGATE_TOKEN: parent, GITGATE_URL: 'https://elsewhere.example' });
    expect(r.stdout).toContain('password=');
    expect(srv.calls.map((c) => new URL(c.url).origin)).toEqual(['https://git.example.com', 'https://git.example.com']);
    const bad = await run('get', { cache: false }, srv, INPUT, { GITGATE_TOKEN: parent, GITGATE_URL: 'ftp://git.example.com' });
    expect(bad.error?.message).toMatch(/GITGATE_URL must be an http\(s\) URL/);
    expect(srv.calls).toHaveLength(2);
  });

  it('never sends the parent over plain http to a host that is not loopback, unless --allow-http', async () => {
    const srv = fakeServer();
    const refused = await run('get', { cache: false, server: 'http://git.example.com' }, srv, ask('http', 'git.example.com'));
    expect(refused.error).toBeInstanceOf(HelperError);
    expect(refused.error!.message).toMatch(/refusing to send the parent token over plain http to git\.example\.com: use https, or pass --allow-http/);
    expect(refused.stdout).toBe('');
    const erase = await run('erase', { cache: false, server: 'http://git.example.com' }, srv, ask('http', 'git.example.com'));
    expect(erase.error).toBeInstanceOf(HelperError);
    expect(srv.calls).toHaveLength(0);

    const allowed = await run('get', { cache: false, server: 'http://git.example.com', allowHttp: true }, srv, ask('http', 'git.example.com'));
    expect(allowed.stdout).toContain('password=');
    for (const host of ['127.0.0.1:8080', '127.9.9.9:8080', 'localhost:8080', '[::1]:8080']) {
      const loopback = await run('get', { cache: false, server: `http://${host}` }, srv, ask('http', host));
      expect(loopback.error, host).toBeNull();
      expect(loopback.stdout, host).toContain('password=');
    }
    expect(srv.calls.filter((c) => c.url.startsWith('http://git.example.com/'))).toHaveLength(2);
  });
});

describe('credential helper erase', () => {
  it('revokes only a child it minted, and forgets it', async () => {
    const srv = fakeServer();
    const cacheDir = tmpDir();
    await run('get', { cacheDir }, srv);
    const child = srv.minted[0]!;
    expect(fs.readdirSync(cacheDir)).toHaveLength(1);

    const foreign = generateSecret('repo', newTokenId());
    await run('erase', { cacheDir }, srv, `${INPUT.trim()}\nusername=x\npassword=${foreign}\n`);
    expect(srv.calls.filter((c) => c.method === 'DELETE')).toHaveLength(0);
    expect(fs.readdirSync(cacheDir)).toHaveLength(1);

    // found by its secret even when asked with other options (here --permission read)
    const r = await run('erase', { cacheDir, permission: 'read' }, srv, `${INPUT.trim()}\nusername=x\npassword=${child}\n`);
    expect(r).toEqual({ stdout: '', stderr: '', error: null });
    const del = srv.calls.filter((c) => c.method === 'DELETE');
    expect(del).toHaveLength(1);
    expect(del[0]!.url).toMatch(/^https:\/\/git\.example\.com\/v1\/repo_token\/tok_[0-9A-Za-z]{16}$/);
    expect(del[0]!.auth).toBe(`Bearer ${parent}`);
    expect(fs.readdirSync(cacheDir)).toHaveLength(0);
  });

  it('warns but succeeds when revocation fails or there is no parent', async () => {
    const cacheDir = tmpDir();
    const ok = fakeServer();
    await run('get', { cacheDir }, ok);
    const failing = fakeServer(() => ({ status: 500, body: { error: { code: 'INTERNAL', message: 'boom' } } }));
    const r = await run('erase', { cacheDir }, failing, `${INPUT.trim()}\npassword=${ok.minted[0]}\n`);
    expect(r.error).toBeNull();
    expect(r.stderr).toMatch(/warning: could not revoke token tok_\w+: 500 INTERNAL: boom/);
    expect(fs.readdirSync(cacheDir)).toHaveLength(0);

    await run('get', { cacheDir }, ok);
    const r2 = await run('erase', { cacheDir }, ok, `${INPUT.trim()}\npassword=${ok.minted[1]}\n`, {});
    expect(r2.error).toBeNull();
    expect(r2.stderr).toMatch(/cannot revoke it without the parent token/);
    expect(fs.readdirSync(cacheDir)).toHaveLength(0);
  });
});

describe('cache keys', () => {
  it('depend on server, repository, parent, permission and refs, and hide the parent', () => {
    const k = { base: 'https://h', repo: 'r', parentSecret: parent, permission: 'write' };
    const key = cacheKey(k);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey({ ...k })).toBe(key);
    for (const other of [
      { ...k, base: 'https://h2' },
      { ...k, repo: 'r2' },
      { ...k, parentSecret: generateSecret('repo', newTokenId()) },
      { ...k, permission: 'read' },
      { ...k, refs: ['refs/heads/main'] },
      { ...k, allowForce: true },
      { ...k, allowDelete: false },
    ]) {
      expect(cacheKey(other)).not.toBe(key);
    }
  });

  it('prunes expired entries when it mints', async () => {
    const cacheDir = tmpDir();
    const c = new CredentialCache(cacheDir);
    const stale = { version: 1 as const, base: 'https://h', repo: 'old', id: 'tok_x', token: 't', permission: 'write', expires_at: new Date(NOW - 1000).toISOString(), created_at: '', parent_id: 'tok_p' };
    c.put('b'.repeat(64), stale);
    c.put('c'.repeat(64), { ...stale, expires_at: new Date(NOW + 1000_000).toISOString() });
    await run('get', { cacheDir }, fakeServer());
    const names = fs.readdirSync(cacheDir).sort();
    expect(names).toHaveLength(2);
    expect(names).not.toContain(`${'b'.repeat(64)}.json`);
    expect(names).toContain(`${'c'.repeat(64)}.json`);
  });

  it('writes entries 0600 in a 0700 directory', () => {
    const dir = `${tmpDir()}/nested/cache`;
    const c = new CredentialCache(dir);
    c.put('a'.repeat(64), { version: 1, base: 'https://h', repo: 'r', id: 'tok_x', token: 't', permission: 'write', expires_at: null, created_at: '', parent_id: 'tok_p' });
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(`${dir}/${'a'.repeat(64)}.json`).mode & 0o777).toBe(0o600);
    expect(c.entries()).toHaveLength(1);
  });
});
