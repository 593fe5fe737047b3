// Token lifetimes: the workspace default and maximum for API-minted tokens
// (GITGATE_DEFAULT_TOKEN_TTL_SECONDS, GITGATE_MAX_TOKEN_TTL_SECONDS), and the CLI's
// durations (--ttl 90s/30m/1h/7d, --grace), against a running server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });
const LIMITS = { GITGATE_MAX_TOKEN_TTL_SECONDS: '3600', GITGATE_DEFAULT_TOKEN_TTL_SECONDS: '600' };

/** Seconds from `before`..`after` (ms) to an ISO expiry: [low, high]. */
function lifetime(expiresAt: string, before: number, after: number): [number, number] {
  const at = Date.parse(expiresAt);
  return [(at - after) / 1000, (at - before) / 1000];
}

function expectLifetime(expiresAt: string | null, before: number, after: number, seconds: number): void {
  expect(expiresAt).not.toBeNull();
  const [low, high] = lifetime(expiresAt!, before, after);
  expect(low).toBeLessThanOrEqual(seconds + 1);
  expect(high).toBeGreaterThanOrEqual(seconds - 1);
}

describe('token lifetimes: workspace default and maximum', () => {
  let s: TestServer;
  let repo: string;
  beforeAll(async () => {
    s = await startTestServer('fs', LIMITS);
    repo = await s.createRepo();
  });
  afterAll(async () => {
    await s.close();
  });

  it('an explicit ttl over the maximum is 400 TTL_TOO_LONG and mints nothing', async () => {
    const before = await s.ctx.tokens.count();
    for (const [route, body] of [
      ['/v1/repo_token', { repo_ids: [repo], ttl_seconds: 3601 }],
      ['/v1/workspace_token', { ttl_seconds: 7 * 86400 }],
    ] as const) {
      const r = await s.api.post(route).set(bearer(s.admin)).send(body);
      expect(r.status, route).toBe(400);
      expect(r.body.error.code).toBe('TTL_TOO_LONG');
      expect(r.body.error.message).toMatch(/maximum token lifetime of 3600 seconds/);
    }
    expect(await s.ctx.tokens.count()).toBe(before);
    const atMax = await s.api.post('/v1/repo_token').set(bearer(s.admin)).send({ repo_ids: [repo], ttl_seconds: 3600 });
    expect(atMax.status).toBe(201);
  });

  it('an omitted ttl gets the default, clamped to an expiring minter; the apikey form too', async () => {
    const t0 = Date.now();
    const child = await s.api.post('/v1/repo_token').set(bearer(s.admin)).send({ repo_ids: [repo] });
    const ws = await s.api.post('/v1/workspace_token').set(bearer(s.admin)).send({ ttl_seconds: null });
    const key = await s.api.post(`/v1/repo/${repo}/apikey`).set(bearer(s.admin)).send({ accessType: 'READ' });
    const t1 = Date.now();
    expectLifetime(child.body.expires_at, t0, t1, 600);
    expectLifetime(ws.body.expires_at, t0, t1, 600);
    const keyRecord = await s.api.get(`/v1/repo_token/${key.body.id}`).set(bearer(s.admin));
    expectLifetime(keyRecord.body.expires_at, t0, t1, 600);

    const shortAdmin = await s.mint({ repo_ids: [repo], permission: 'admin', ttl_seconds: 120 });
    const grandchild = await s.api.post('/v1/repo_token').set(bearer(shortAdmin.token)).send({ repo_ids: [repo], permission: 'read' });
    expect(grandchild.status).toBe(201);
    const minter = await s.api.get(`/v1/repo_token/${shortAdmin.id}`).set(bearer(s.admin));
    expect(grandchild.body.expires_at).toBe(minter.body.expires_at);
    // the token works until then
    expect((await s.api.get(`/v1/repo/${repo}`).set(bearer(grandchild.body.token))).status).toBe(200);
  });

  it('the operator CLI is bound by neither: --ttl 7d and no --ttl mint as asked', async () => {
    const t0 = Date.now();
    const week = await runCli(['token', 'create', '--repo', repo, '--ttl', '7d', '--json', '--data', s.dataDir], LIMITS);
    const forever = await runCli(['token', 'create', '--repo', repo, '--json', '--data', s.dataDir], LIMITS);
    const t1 = Date.now();
    expect(week.code, week.stderr).toBe(0);
    expect(forever.code, forever.stderr).toBe(0);
    expectLifetime(JSON.parse(week.stdout).expires_at, t0, t1, 7 * 86400);
    expect(JSON.parse(forever.stdout).expires_at).toBeNull();
    // and the server accepts them
    expect((await s.api.get(`/v1/repo/${repo}`).set(bearer(JSON.parse(week.stdout).token))).status).toBe(200);
  });

  it('a default above the maximum is a configuration error', async () => {
    const r = await runCli(['token', 'list', '--data', s.dataDir], { GITGATE_MAX_TOKEN_TTL_SECONDS: '60', GITGATE_DEFAULT_TOKEN_TTL_SECONDS: '120' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^gitgate: .*GITGATE_DEFAULT_TOKEN_TTL_SECONDS \(120\) exceeds GITGATE_MAX_TOKEN_TTL_SECONDS \(60\)\n$/);
  });
});

describe('CLI durations', () => {
  let s: TestServer;
  let repo: string;
  beforeAll(async () => {
    s = await startTestServer('fs');
    repo = await s.createRepo();
  });
  afterAll(async () => {
    await s.close();
  });

  it('--ttl takes 90s, 30m, 1h, 7d and plain seconds; --grace too', async () => {
    for (const [ttl, seconds] of [
      ['90s', 90],
      ['30m', 1800],
      ['1h', 3600],
      ['7d', 604800],
      ['120', 120],
    ] as const) {
      const t0 = Date.now();
      const r = await runCli(['token', 'create', '--repo', repo, '--ttl', ttl, '--json', '--data', s.dataDir]);
      const t1 = Date.now();
      expect(r.code, `${ttl}: ${r.stderr}`).toBe(0);
      expectLifetime(JSON.parse(r.stdout).expires_at, t0, t1, seconds);
    }
    const tok = await s.mint({ repo_ids: [repo], permission: 'read' });
    const t0 = Date.now();
    const rotated = await runCli(['token', 'rotate', tok.id, '--grace', '10m', '--json', '--data', s.dataDir]);
    const t1 = Date.now();
    expect(rotated.code, rotated.stderr).toBe(0);
    expectLifetime(JSON.parse(rotated.stdout).previous_secret_valid_until, t0, t1, 600);
    expect((await s.api.get(`/v1/repo/${repo}`).set(bearer(tok.token))).status).toBe(200); // within the grace
  });

  it('anything else is one line on stderr and a non-zero exit', async () => {
    for (const args of [
      ['token', 'create', '--repo', repo, '--ttl', '1y'],
      ['token', 'create', '--repo', repo, '--ttl', '0'],
      ['token', 'create', '--repo', repo, '--ttl', '-5m'],
      ['token', 'create', '--repo', repo, '--ttl', '1.5h'],
      ['token', 'rotate', 'tok_0000000000000000', '--grace', '8d'],
    ]) {
      const r = await runCli([...args, '--data', s.dataDir]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(/^gitgate: .*(--ttl|--grace) must be .*duration.*\n$/);
    }
  });
});
