// Operating safely (issue 13, points 10–13), attacked the way it was reported: a second
// `serve` on a live data directory, local users reading the data, clients forging
// X-Forwarded-For or hiding behind a proxy, and one failing agent locking out its fleet.
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSecret, newTokenId } from '../../src/auth/token-format.js';
import { loadConfig } from '../../src/config.js';
import { bootstrapDestination } from '../../src/cli/bootstrap-delivery.js';
import { gitOk, tmpDir } from '../helpers/git.js';
import { BIN, readBootstrapToken, runServe, stopServe, type ServeRun } from '../helpers/serve.js';
import { startTestServer, type TestServer, useTestServer } from '../helpers/server.js';
import { execFileSync } from 'node:child_process';

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [BIN, ...args], { env: { ...process.env, GITGATE_BCRYPT_ROUNDS: '4' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;
const unknownSecret = () => generateSecret('repo', newTokenId()); // well-formed, never minted

async function listening(args: string[], opts?: Parameters<typeof runServe>[1]): Promise<ServeRun & { url: string }> {
  const run = await runServe(args, opts);
  if (!run.url) throw new Error(`serve exited ${run.code}: ${run.stderr()}`);
  return run as ServeRun & { url: string };
}

describe('one serve per data directory (point 10)', () => {
  const running: ServeRun[] = [];
  afterAll(async () => {
    for (const r of running) await stopServe(r, 'SIGKILL');
  });

  it("a second serve exits non-zero naming the holder and leaves the live server's files alone", async () => {
    const data = tmpDir('gitgate-lock-');
    const first = await listening(['--port', '0', '--data', data]);
    running.push(first);
    // the CLI's token and repo commands still work beside a running server
    const created = cli(['repo', 'create', '--data', data]);
    expect(created.code).toBe(0);
    const repo = created.stdout.trim();
    const gitdir = path.join(data, `${repo}.git`);
    // what a push in flight on the first server has on disk
    const inFlight = [path.join(gitdir, 'refs', 'heads', 'main.lock'), path.join(gitdir, 'objects', 'pack', 'tmp_pack_inflight')];
    for (const f of inFlight) fs.writeFileSync(f, 'in flight\n');

    for (const port of ['0', new URL(first.url).port]) {
      const second = await runServe(['--port', port, '--data', data]);
      if (second.url) running.push(second);
      expect(second.url, 'the second serve must not listen').toBeNull();
      expect(second.code).not.toBe(0);
      const lines = second.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^gitgate: Data directory .* is in use by gitgate serve \\(pid ${first.child.pid} on `));
      expect(second.stdout()).toBe('');
    }
    for (const f of inFlight) expect(fs.existsSync(f), f).toBe(true);
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    expect(cli(['token', 'create', '--repo', repo, '--data', data]).code).toBe(0);

    // released on shutdown: the next serve starts and recovers the (now really) dead leftovers
    expect(await stopServe(first)).toBe(0);
    expect(fs.existsSync(path.join(data, 'serve.lock'))).toBe(false);
    const next = await listening(['--port', '0', '--data', data]);
    running.push(next);
    for (const f of inFlight) expect(fs.existsSync(f), f).toBe(false);
    await gitOk(['--git-dir', gitdir, 'fsck', '--full']);

    // a server killed outright leaves its lock; its pid is gone, so the lock is stale
    await stopServe(next, 'SIGKILL');
    expect(JSON.parse(fs.readFileSync(path.join(data, 'serve.lock'), 'utf8')).pid).toBe(next.child.pid);
    const after = await listening(['--port', '0', '--data', data]);
    running.push(after);
    expect(JSON.parse(fs.readFileSync(path.join(data, 'serve.lock'), 'utf8')).pid).toBe(after.child.pid);
    expect(await stopServe(after)).toBe(0);
  });

  it('a lock held on another host is respected (its pid cannot be checked from here)', async () => {
    const data = tmpDir('gitgate-lock-');
    const lock = { pid: 999_999_999, host: 'elsewhere.example', started_at: '2026-01-01T00:00:00.000Z' };
    fs.writeFileSync(path.join(data, 'serve.lock'), JSON.stringify(lock));
    const refused = await runServe(['--port', '0', '--data', data]);
    if (refused.url) running.push(refused);
    expect(refused.url).toBeNull();
    expect(refused.stderr()).toMatch(/pid 999999999 on elsewhere\.example/);
    expect(fs.readdirSync(data)).toEqual(['serve.lock']); // no database, nothing else
  });
});

describe('file permissions and the bootstrap token (point 11)', () => {
  it('under umask 022 the data directory is 0700 and the database 0600; the token goes to a 0600 file, not stdout', async () => {
    const data = path.join(tmpDir('gitgate-perm-'), 'nested', 'data');
    const srv = await listening(['--port', '0', '--data', data], { shell: 'umask 022' });
    try {
      expect(mode(data)).toBe(0o700);
      expect(srv.stdout()).not.toMatch(/gg[wr]_/);
      const tokenFile = path.join(data, 'bootstrap-token');
      expect(srv.stdout()).toContain(tokenFile);
      expect(mode(tokenFile)).toBe(0o600);
      const admin = readBootstrapToken(data);
      const res = await fetch(`${srv.url}/v1/repo`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } }),
      });
      expect(res.status).toBe(201);
      const repo = ((await res.json()) as { repo_id: string }).repo_id;
      for (const f of ['gitgate.db', 'gitgate.db-wal', 'gitgate.db-shm']) expect(mode(path.join(data, f)), f).toBe(0o600);
      await gitOk(['--git-dir', path.join(data, `${repo}.git`), 'fsck', '--full']);
    } finally {
      expect(await stopServe(srv)).toBe(0);
    }
    // an install from before this rule is tightened by the next command that opens it
    fs.chmodSync(data, 0o755);
    fs.chmodSync(path.join(data, 'gitgate.db'), 0o644);
    expect(cli(['repo', 'list', '--data', data]).code).toBe(0);
    expect(mode(data)).toBe(0o700);
    expect(mode(path.join(data, 'gitgate.db'))).toBe(0o600);
  });

  it('GITGATE_BOOTSTRAP_TOKEN_FILE names the file it is written to', async () => {
    const data = tmpDir('gitgate-perm-');
    const secrets = tmpDir('gitgate-secrets-');
    const file = path.join(secrets, 'admin-token');
    const srv = await listening(['--port', '0', '--data', data], { shell: 'umask 000', env: { GITGATE_BOOTSTRAP_TOKEN_FILE: file } });
    try {
      expect(srv.stdout()).toContain(file);
      expect(srv.stdout()).not.toMatch(/gg[wr]_/);
      expect(mode(file)).toBe(0o600);
      expect(fs.existsSync(path.join(data, 'bootstrap-token'))).toBe(false);
      const admin = fs.readFileSync(file, 'utf8').trim();
      expect((await fetch(`${srv.url}/v1/repo`, { headers: { Authorization: `Bearer ${admin}` } })).status).toBe(200);
    } finally {
      await stopServe(srv);
    }
    // a directory that does not exist is refused before any token is minted
    const bad = await runServe(['--port', '0', '--data', tmpDir('gitgate-perm-')], { env: { GITGATE_BOOTSTRAP_TOKEN_FILE: path.join(secrets, 'missing', 'x') } });
    expect(bad.url).toBeNull();
    expect(bad.stderr()).toMatch(/^gitgate: Invalid configuration: GITGATE_BOOTSTRAP_TOKEN_FILE/);
  });

  it('only a terminal gets the token on stdout', () => {
    expect(bootstrapDestination('/d', {}, true)).toEqual({ kind: 'terminal' });
    expect(bootstrapDestination('/d', {}, false)).toEqual({ kind: 'file', file: '/d/bootstrap-token', dataDir: '/d' });
  });
});

interface LogLine {
  msg: string;
  ip?: string;
  status?: number;
  url?: string;
}

/** A test server whose request log lines we can read. */
async function loggedServer(env: Record<string, string>): Promise<{ s: TestServer; logs: () => LogLine[] }> {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const s = await startTestServer('memory', env, { log: pino({ level: 'info' }, sink) });
  const logs = () =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine)
      .filter((l) => l.msg === 'request');
  return { s, logs };
}

/** The address the server attributed to one request, seen in last_used_ip, audit and the log. */
async function addressSeen(s: TestServer, logs: () => LogLine[], xff: string): Promise<{ lastUsed: string; audit: string; log: string }> {
  const repo = await s.createRepo();
  const child = await s.mint({ repo_ids: [repo], permission: 'admin' });
  // the child's first use (last_used_ip) mints a grandchild (audit)
  const minted = await s.api.post('/v1/repo_token').set('Authorization', `Bearer ${child.token}`).set('X-Forwarded-For', xff).send({ repo_ids: [repo], permission: 'read' });
  expect(minted.status).toBe(201);
  const lastUsed = (await s.api.get(`/v1/repo_token/${child.id}`).set('Authorization', `Bearer ${s.admin}`)).body.last_used_ip as string;
  const events = (await s.api.get('/v1/audit?action=token.create').set('Authorization', `Bearer ${s.admin}`)).body.items as { target_token_id: string; client_ip: string }[];
  const audit = events.find((e) => e.target_token_id === minted.body.id)!.client_ip;
  const line = logs()
    .filter((l) => l.url === '/v1/repo_token' && l.status === 201)
    .at(-1); // the grandchild's mint: the two requests since have let its line be written
  return { lastUsed, audit, log: line?.ip ?? 'no log line' };
}

describe('behind a reverse proxy (point 12)', () => {
  it('by default X-Forwarded-For is ignored: a forged one neither changes the address nor dodges the throttle', async () => {
    const { s, logs } = await loggedServer({ GITGATE_AUTH_FAIL_LIMIT: '5' });
    try {
      expect(await addressSeen(s, logs, '198.51.100.1')).toEqual({ lastUsed: '127.0.0.1', audit: '127.0.0.1', log: '127.0.0.1' });
      for (let i = 0; i < 5; i++) {
        const r = await s.api.get('/v1/repo').set('Authorization', `Bearer ${unknownSecret()}`).set('X-Forwarded-For', `198.51.100.${10 + i}`);
        expect(r.status).toBe(401);
      }
      const r = await s.api.get('/v1/repo').set('Authorization', `Bearer ${unknownSecret()}`).set('X-Forwarded-For', '198.51.100.99');
      expect(r.status).toBe(429);
      // the loopback metrics rule looks at the real peer
      expect((await s.api.get('/metrics').set('X-Forwarded-For', '203.0.113.5')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('GITGATE_TRUST_PROXY=loopback: the forwarded address counts for last_used_ip, audit, logs, throttle and metrics', async () => {
    const { s, logs } = await loggedServer({ GITGATE_TRUST_PROXY: 'loopback', GITGATE_AUTH_FAIL_LIMIT: '5' });
    try {
      expect(await addressSeen(s, logs, '203.0.113.7')).toEqual({ lastUsed: '203.0.113.7', audit: '203.0.113.7', log: '203.0.113.7' });
      for (let i = 0; i < 5; i++) {
        expect((await s.api.get('/v1/repo').set('Authorization', `Bearer ${unknownSecret()}`).set('X-Forwarded-For', '203.0.113.7')).status).toBe(401);
      }
      expect((await s.api.get('/v1/repo').set('Authorization', `Bearer ${unknownSecret()}`).set('X-Forwarded-For', '203.0.113.7')).status).toBe(429);
      // another client behind the same proxy is not blocked
      expect((await s.api.get('/v1/repo').set('Authorization', `Bearer ${unknownSecret()}`).set('X-Forwarded-For', '203.0.113.8')).status).toBe(401);
      // IPv6 clients are blocked per /64
      for (let i = 1; i <= 5; i++) {
        expect((await s.api.get('/v1/repo').set('Authorization', `Bearer ${unknownSecret()}`).set('X-Forwarded-For', `2001:db8:5:6::${i}`)).status).toBe(401);
      }
      expect((await s.api.get('/v1/repo').set('Authorization', `Bearer ${unknownSecret()}`).set('X-Forwarded-For', '2001:db8:5:6:ffff::1')).status).toBe(429);
      expect((await s.api.get('/v1/repo').set('Authorization', `Bearer ${unknownSecret()}`).set('X-Forwarded-For', '2001:db8:5:7::1')).status).toBe(401);
      // a remote client relayed by the local proxy is not a loopback client
      expect((await s.api.get('/metrics').set('X-Forwarded-For', '203.0.113.9')).status).toBe(401);
      expect((await s.api.get('/metrics')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('a hop count takes the address the trusted hops saw; a CIDR list that excludes the peer ignores the header', async () => {
    const hops = await loggedServer({ GITGATE_TRUST_PROXY: '1' });
    try {
      expect((await addressSeen(hops.s, hops.logs, '192.0.2.1, 198.51.100.2')).log).toBe('198.51.100.2');
    } finally {
      await hops.s.close();
    }
    const cidr = await loggedServer({ GITGATE_TRUST_PROXY: '10.0.0.0/8, 192.168.0.0/16' });
    try {
      expect((await addressSeen(cidr.s, cidr.logs, '198.51.100.3')).log).toBe('127.0.0.1');
    } finally {
      await cidr.s.close();
    }
  });

  it('refuses values that would trust every client, and malformed ones', () => {
    expect(() => loadConfig({}, { GITGATE_TRUST_PROXY: 'true' })).toThrow(/may not trust every address/);
    for (const v of ['*', '10.0.0.0/33', 'proxy.example', '1.2.3', '65']) {
      expect(() => loadConfig({}, { GITGATE_TRUST_PROXY: v }), v).toThrow(/GITGATE_TRUST_PROXY/);
    }
    expect(loadConfig({}, {}).trustProxy).toBe(false);
    expect(loadConfig({ trustProxy: 'loopback,fd00::/8' }, {}).trustProxy).toEqual(['loopback', 'fd00::/8']);
    expect(loadConfig({}, { GITGATE_TRUST_PROXY: '2' }).trustProxy).toBe(2);
  });
});

describe('the throttle and an agent fleet behind one address (point 13)', () => {
  let s: TestServer;
  useTestServer('fs', (started) => (s = started));

  it('30 bad attempts block the address for unknown secrets only; known-good tokens keep working until revoked', async () => {
    const created = await s.api.post('/v1/repo').set('Authorization', `Bearer ${s.admin}`).send({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    const repo = created.body.repo_id as string;
    const agent = await s.mint({ repo_ids: [repo], permission: 'write' });
    const peer = await s.mint({ repo_ids: [repo], permission: 'read' });
    const fresh = await s.mint({ repo_ids: [repo], permission: 'read' }); // never presented before the block
    expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${agent.token}`)).status).toBe(200);
    expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${peer.token}`)).status).toBe(200);

    // one agent keeps retrying a dead token
    for (let i = 0; i < 30; i++) expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${unknownSecret()}`)).status).toBe(401);
    const blocked = await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${unknownSecret()}`);
    expect(blocked.status).toBe(429);

    // the rest of the fleet carries on: REST, and a clone and a push over real git
    expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${peer.token}`)).status).toBe(200);
    const work = tmpDir();
    await gitOk(['clone', '-q', s.gitUrl(repo, agent.token), work]);
    fs.writeFileSync(path.join(work, 'b.txt'), 'b\n');
    await gitOk(['add', '-A'], { cwd: work });
    await gitOk(['commit', '-q', '-m', 'during the block'], { cwd: work });
    await gitOk(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    await s.fsck(repo);

    // a secret this server has not verified yet is still refused before any bcrypt work
    const unverified = await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${fresh.token}`);
    expect(unverified.status).toBe(429);

    // revocation bites at once, block or not: by another process (the CLI) on the next
    // request, since the row is re-read; then the secret is no longer known-good
    expect(cli(['token', 'revoke', peer.id, '--data', s.dataDir]).code).toBe(0);
    expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${peer.token}`)).status).toBe(401);
    expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${peer.token}`)).status).toBe(429);
    // by this server: it forgets the secret as it revokes
    expect((await s.api.delete(`/v1/repo_token/${agent.id}`).set('Authorization', `Bearer ${s.admin}`)).status).toBe(204);
    expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${agent.token}`)).status).toBe(429);
    expect((await s.api.get('/metrics')).text).toMatch(/^gitgate_auth_throttle_blocked_addresses 1$/m);
  });
});
