// Limits, failed-auth throttling, per-token concurrency, idle timeouts, /healthz and /metrics.
import net from 'node:net';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret, newTokenId } from '../../src/auth/token-format.js';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/http/app.js';
import { createHttpRuntime } from '../../src/http/runtime.js';
import { createServices } from '../../src/service/services.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { startTestServer, type TestServer, useTestServer } from '../helpers/server.js';
import { basic, stalled } from '../helpers/stalled.js';

describe('failed-auth throttling (30 failures in 3 minutes)', () => {
  let s: TestServer;
  useTestServer('memory', (started) => (s = started));

  it('blocks the address on the 31st attempt with 429 + Retry-After; a success in between resets nothing', async () => {
    const repo = await s.createRepo();
    const unverified = await s.mint({ repo_ids: [repo], permission: 'read' }); // not presented before the block
    const bad = () => generateSecret('repo', newTokenId()); // well-formed, unknown
    // git's credential-less probe is not a failure
    for (let i = 0; i < 5; i++) expect((await s.api.get(`/v1/repo/${repo}.git/info/refs?service=git-upload-pack`)).status).toBe(401);
    for (let i = 0; i < 15; i++) {
      const r = await s.api.get(`/v1/repo/${repo}.git/info/refs?service=git-upload-pack`).set('Authorization', basic(bad()));
      expect(r.status).toBe(401);
    }
    // a valid token from the same address works and does not clear the count
    expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${s.admin}`)).status).toBe(200);
    for (let i = 0; i < 15; i++) {
      const r = await s.api.get('/v1/repo').set('Authorization', `Bearer ${i % 2 ? bad() : 'ggw_mistyped'}`);
      expect(r.status, `failure ${16 + i}`).toBe(401);
    }
    // 31st attempt: blocked, before any bcrypt — even a valid token this server has not
    // verified yet (a secret it has verified goes through: see operating-safely.test.ts)
    const blocked = await s.api.get(`/v1/repo/${repo}.git/info/refs?service=git-upload-pack`).set('Authorization', basic(bad()));
    expect(blocked.status).toBe(429);
    expect(blocked.headers['retry-after']).toBe('180');
    expect(blocked.text).toMatch(/Too many failed authentication attempts/);
    const valid = await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${unverified.token}`);
    expect(valid.status).toBe(429);
    expect(valid.body.error.code).toBe('AUTH_THROTTLED');
    expect(Number(valid.headers['retry-after'])).toBeGreaterThan(170);
    expect((await s.api.get('/v1/repo').set('Authorization', `Bearer ${s.admin}`)).status).toBe(200);
    // unauthenticated endpoints still answer
    expect((await s.api.get('/healthz')).status).toBe(200);
    const metrics = (await s.api.get('/metrics')).text;
    expect(metrics).toMatch(/^gitgate_auth_failures_total 30$/m);
    expect(metrics).toMatch(/^gitgate_throttled_total\{reason="auth"\} 2$/m);
  });
});

describe('limits', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('memory', {
      GITGATE_MAX_CONCURRENT_PER_TOKEN: '2',
      GITGATE_MAX_FETCH_REQUEST_BYTES: '4096',
      GITGATE_IDLE_TIMEOUT_SECONDS: '1',
    });
  });
  afterAll(async () => {
    await s.close();
  });
  const open: net.Socket[] = [];
  afterEach(() => {
    for (const sock of open.splice(0)) sock.destroy();
  });

  it('refuses more than N concurrent requests per token with 429 + Retry-After, other tokens unaffected', async () => {
    const repo = await s.createRepo();
    const { token } = await s.mint({ repo_ids: [repo], permission: 'read' });
    const head = (secret: string) =>
      `POST /v1/repo/${repo}.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(secret)}\r\n` +
      'Content-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000\r\n\r\n0032want ';
    const a = await stalled(s.url, head(token));
    const b = await stalled(s.url, head(token));
    open.push(a.socket, b.socket);
    // wait until both are admitted (authenticated and counted)
    const tokenId = (await s.ctx.tokens.verify(token))!.id;
    for (let i = 0; i < 100 && (await s.ctx.guards.inflight(tokenId)) < 2; i++) await new Promise((r) => setTimeout(r, 20));
    const third = await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${token}`);
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('1');
    expect(third.body.error.code).toBe('TOO_MANY_REQUESTS');
    expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${s.admin}`)).status).toBe(200);
    a.socket.destroy();
    b.socket.destroy();
    await Promise.all([a.closed, b.closed]);
    for (let i = 0; i < 100 && (await s.ctx.guards.inflight(tokenId)) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect((await s.api.get('/metrics')).text).toMatch(/^gitgate_throttled_total\{reason="concurrency"\} 1$/m);
  });

  it('caps upload-pack request bodies (declared and streamed) with 413', async () => {
    const repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a', content: 'a' }] } });
    const big = Buffer.alloc(5000, 0x30);
    const declared = await s.api
      .post(`/v1/repo/${repo}.git/git-upload-pack`)
      .set('Authorization', basic(s.admin))
      .set('Content-Type', 'application/x-git-upload-pack-request')
      .send(big);
    expect(declared.status).toBe(413);
    expect(declared.text).toMatch(/Request body too large \(limit 4096 bytes\)/);
    // chunked (no Content-Length): counted while streaming
    const oid = (await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${s.admin}`)).body;
    expect(oid).toBeTruthy();
    const lines = Array.from({ length: 200 }, () => `0032have ${'1'.repeat(40)}\n`).join('');
    const chunked = await fetch(`${s.url}/v1/repo/${repo}.git/git-upload-pack`, {
      method: 'POST',
      headers: { Authorization: basic(s.admin), 'Content-Type': 'application/x-git-upload-pack-request' },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(lines));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    // the server keeps serving
    expect((await s.api.get('/healthz')).status).toBe(200);
  });

  it('closes a connection that sends nothing for the idle timeout (slow headers, stalled body)', async () => {
    const repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a', content: 'a' }] } });
    const slowHeaders = await stalled(s.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const stalledBody = await stalled(
      s.url,
      `POST /v1/repo/${repo}.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(s.admin)}\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000\r\n\r\n0032want `,
    );
    open.push(slowHeaders.socket, stalledBody.socket);
    const [t1, t2] = await Promise.all([slowHeaders.closed, stalledBody.closed]);
    expect(t1).toBeGreaterThanOrEqual(800);
    expect(t1).toBeLessThan(5000);
    expect(t2).toBeGreaterThanOrEqual(800);
    expect(t2).toBeLessThan(5000);
    expect(stalledBody.data()).toBe(''); // cut off, not answered
    expect((await s.api.get('/healthz')).status).toBe(200);
  });

  it('rejects bad limit settings with a clear configuration error', () => {
    expect(() => loadConfig({}, { GITGATE_MAX_CONCURRENT_PER_TOKEN: '-1' })).toThrow(/GITGATE_MAX_CONCURRENT_PER_TOKEN must be an integer/);
    expect(() => loadConfig({}, { GITGATE_METRICS: 'maybe' })).toThrow(/GITGATE_METRICS must be one of loopback, public, token, off/);
    const c = loadConfig({}, {});
    expect(c).toMatchObject({
      maxFetchRequestBytes: 64 * 1024 ** 2,
      headersTimeoutMs: 60_000,
      idleTimeoutMs: 60_000,
      maxConcurrentPerToken: 32,
      authFailLimit: 30,
      authFailWindowMs: 180_000,
      authBanMs: 180_000,
      shutdownTimeoutMs: 30_000,
      metrics: 'loopback',
      logFormat: 'json',
    });
    expect(loadConfig({ logPretty: true }, {}).logFormat).toBe('pretty');
  });
});

describe('operations: /healthz and /metrics', () => {
  it('/healthz checks the database', async () => {
    const ctx = createServices(loadConfig({ memory: true }, { GITGATE_NODE_ID: 'node-a' }), pino({ level: 'silent' }));
    const rt = createHttpRuntime(ctx.config, ctx.guards);
    const app = createApp(ctx, rt);
    const ok = await request(app).get('/healthz');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ status: 'ok', checks: { db: 'ok' }, node: 'node-a', database: 'sqlite' });
    rt.shuttingDown = true;
    expect((await request(app).get('/healthz')).body.status).toBe('shutting_down');
    rt.shuttingDown = false;
    await ctx.stores.close();
    const down = await request(app).get('/healthz');
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ status: 'error', checks: { db: 'error' }, node: 'node-a', database: 'sqlite' });
    await ctx.manager.closeAll();
  });

  it('/metrics counts requests, bytes, durations, clones and pushes in Prometheus text format', async () => {
    const s = await startTestServer('fs');
    try {
      const repo = await s.createRepo();
      const work = tmpDir();
      await gitOk(['init', '-q', '-b', 'main', work]);
      await commitFiles(work, { 'a.txt': 'hello\n'.repeat(1000) }, 'one');
      await gitOk(['push', '-q', s.gitUrl(repo, s.admin), 'main'], { cwd: work });
      await gitOk(['clone', '-q', s.gitUrl(repo, s.admin), tmpDir()]);
      const res = await s.api.get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = res.text;
      expect(text).toMatch(/^gitgate_http_requests_total\{method="POST",route="\/v1\/repo\/:id\/git-receive-pack",status="200"\} 1$/m);
      expect(text).toMatch(/^gitgate_http_requests_total\{method="POST",route="\/v1\/repo\/:id\/git-upload-pack",status="200"\} 2$/m); // v2: ls-refs + fetch
      expect(text).toMatch(/^gitgate_http_requests_total\{method="GET",route="\/v1\/repo\/:id\/info\/refs",status="401"\} \d+$/m);
      const pushedBytes = Number(/^gitgate_http_request_bytes_total\{route="\/v1\/repo\/:id\/git-receive-pack"\} (\d+)$/m.exec(text)?.[1]);
      expect(pushedBytes).toBeGreaterThan(100);
      const clonedBytes = Number(/^gitgate_http_response_bytes_total\{route="\/v1\/repo\/:id\/git-upload-pack"\} (\d+)$/m.exec(text)?.[1]);
      expect(clonedBytes).toBeGreaterThan(100);
      expect(text).toMatch(/^gitgate_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/repo\/:id\/git-upload-pack",le="\+Inf"\} 2$/m);
      expect(text).toMatch(/^gitgate_http_request_duration_seconds_count\{method="POST",route="\/v1\/repo\/:id\/git-upload-pack"\} 2$/m);
      expect(text).toMatch(/^# TYPE gitgate_active_clones gauge\ngitgate_active_clones 0$/m);
      expect(text).toMatch(/^gitgate_active_pushes 0$/m);
      expect(text).toMatch(/^gitgate_auth_failures_total 0$/m);
      expect(text).not.toMatch(new RegExp(repo)); // no repository ids in labels
    } finally {
      await s.close();
    }
  });

  it('/metrics adds the process_* and nodejs_* defaults, labels only bounded values, and counts per server', async () => {
    const a = await startTestServer('memory');
    const b = await startTestServer('memory');
    try {
      const repo = await a.createRepo();
      await a.api.get(`/v1/repo/${repo}/info/refs?service=git-upload-pack`).set('Authorization', `Bearer ${a.admin}`);
      await a.api.get(`/v1/repo/${repo}/no/such/route`);
      const text = (await a.api.get('/metrics')).text;
      expect(text).toMatch(/^# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes \d+$/m);
      expect(text).toMatch(/^process_cpu_seconds_total [\d.e+-]+$/m);
      expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+$/m);
      expect(text).toMatch(/^nodejs_eventloop_lag_seconds [\d.e+-]+$/m);
      expect(text).toMatch(/^gitgate_throttled_total\{reason="auth"\} 0$/m);
      // every label is one of a closed set of names, and no value carries the repository id
      const names = new Set([...text.matchAll(/^[a-z_]+\{([^}]*)\}/gm)].flatMap((m) => [...m[1]!.matchAll(/([a-z_]+)="/g)].map((l) => l[1])));
      expect([...names].filter((n) => !['method', 'route', 'status', 'reason', 'le', 'version', 'major', 'minor', 'patch', 'space', 'kind', 'type'].includes(n!))).toEqual([]);
      expect(text).not.toContain(repo);
      expect(text).toMatch(/^gitgate_http_requests_total\{method="GET",route="unmatched",status="401"\} 1$/m);
      // a second server in the same process has its own counters (its registry is its runtime's)
      const other = (await b.api.get('/metrics')).text;
      expect(other).not.toMatch(/route="\/v1\/repo\/:id\/info\/refs"/);
      expect(other).toMatch(/^process_resident_memory_bytes \d+$/m);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('GITGATE_METRICS=token needs a workspace admin token; off hides the endpoint', async () => {
    const s = await startTestServer('memory', { GITGATE_METRICS: 'token' });
    try {
      const repo = await s.createRepo();
      const { token } = await s.mint({ repo_ids: [repo], permission: 'admin' });
      expect((await s.api.get('/metrics')).status).toBe(401);
      expect((await s.api.get('/metrics').set('Authorization', `Bearer ${token}`)).status).toBe(403);
      const ok = await s.api.get('/metrics').set('Authorization', `Bearer ${s.admin}`);
      expect(ok.status).toBe(200);
      expect(ok.text).toMatch(/gitgate_http_requests_total/);
    } finally {
      await s.close();
    }
    const off = await startTestServer('memory', { GITGATE_METRICS: 'off' });
    try {
      expect((await off.api.get('/metrics')).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});
