// Webhooks: deliveries to a local receiver (allowed by GITGATE_WEBHOOK_ALLOW_NETWORKS) signed
// like GitHub's, retried with backoff, recorded, durable across a restart; URLs under the
// server-side request policy; who may manage them; the secret never leaves the server.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SqliteStores } from '../../src/db/sqlite/stores.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { ZERO } from '../helpers/push.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { webhookReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { BIN, readBootstrapToken } from '../helpers/serve.js';

const LOOPBACK_ALLOWED = { GITGATE_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8', GITGATE_WEBHOOK_BACKOFF_MS: '20', GITGATE_WEBHOOK_BACKOFF_MAX_MS: '200' };
const SECRET = 'whsec-correct-horse-battery-staple';

/** Poll a condition (no deadline of its own: the test timeout bounds it). */
async function eventually<T>(fn: () => Promise<T | null | undefined | false>): Promise<T> {
  for (;;) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('webhooks', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function server(env: Record<string, string> = LOOPBACK_ALLOWED, opts = {}): Promise<TestServer> {
    const s = await startTestServer('fs', env, opts);
    cleanup.push(() => s.close());
    return s;
  }
  async function receiver(): Promise<Receiver> {
    const r = await webhookReceiver(SECRET);
    cleanup.push(() => r.close());
    return r;
  }
  const createHook = (s: TestServer, body: object, secret = s.admin) => s.api.post('/v1/webhooks').set('Authorization', `Bearer ${secret}`).send(body);
  const deliveries = (s: TestServer, id: string) => s.api.get(`/v1/webhooks/${id}/deliveries`).set('Authorization', `Bearer ${s.admin}`);

  it('a git push reaches the receiver as one signed push delivery with every ref it moved', async () => {
    const s = await server();
    const r = await receiver();
    const repo = await s.createRepo();
    const writer = await s.mint({ repo_ids: [repo], permission: 'write', name: 'agent' });
    const hook = await createHook(s, { url: r.url, repo_id: repo, events: ['push'], secret: SECRET });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    expect(hook.body).toMatchObject({ url: r.url, repo_id: repo, events: ['push'], active: true });

    const work = tmpDir();
    await gitOk(['init', '-q', '-b', 'main', work]);
    const c1 = await commitFiles(work, { 'a.txt': '1\n' }, 'one');
    await gitOk(['push', '-q', s.gitUrl(repo, writer.token), 'main', 'main:refs/heads/agent/x'], { cwd: work });
    await s.fsck(repo);

    const d = await r.next();
    expect(d.signatureValid).toBe(true);
    expect(d.headers['x-gitgate-event']).toBe('push');
    expect(d.headers['x-gitgate-delivery']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(d.headers['x-gitgate-hook-id']).toBe(hook.body.id);
    expect(d.headers['user-agent']).toMatch(/^gitgate-Hookshot\//);
    expect(d.headers['content-type']).toBe('application/json');
    expect(d.body).toMatchObject({ type: 'push', repo_id: repo, actor_token_id: writer.id });
    expect(d.body.data).toMatchObject({ before: ZERO, after: c1, created: true, deleted: false, pusher: { token_id: writer.id }, repository: { id: repo } });
    expect(d.body.data.ref_updates.map((u: { ref: string; before: string; after: string }) => [u.ref, u.before, u.after]).sort()).toEqual(
      [
        ['refs/heads/agent/x', ZERO, c1],
        ['refs/heads/main', ZERO, c1],
      ].sort(),
    );
    // a REST write is a ref.update, not a push: this webhook only asked for push
    expect((await s.api.put(`/v1/repo/${repo}/file/b.txt`).set('Authorization', `Bearer ${writer.token}`).send('b')).status).toBe(200);
    await gitOk(['push', '-q', '--delete', s.gitUrl(repo, s.admin), 'agent/x'], { cwd: work });
    const deleted = await r.next();
    expect(deleted.body.data).toMatchObject({ ref: 'refs/heads/agent/x', before: c1, after: ZERO, deleted: true });
    expect(r.received.map((x) => x.body.type)).toEqual(['push', 'push']);
    await s.fsck(repo);
  });

  it('a receiver failing with 500 gets the same delivery again; both attempts are listed', async () => {
    const s = await server();
    const r = await receiver();
    r.status = 500;
    const repo = await s.createRepo();
    const hook = await createHook(s, { url: r.url, events: ['ref.*'], secret: SECRET });
    expect(hook.status).toBe(201);
    expect((await s.api.put(`/v1/repo/${repo}/file/a.txt`).set('Authorization', `Bearer ${s.admin}`).send('a')).status).toBe(200);

    const first = await r.next();
    expect(first.answered).toBe(500);
    r.status = 200;
    let second = await r.next();
    while (second.answered !== 200) second = await r.next(); // backoff may have fired again before the switch
    expect(second.headers['x-gitgate-delivery']).toBe(first.headers['x-gitgate-delivery']);
    expect(second.raw.equals(first.raw)).toBe(true); // retries send the same bytes
    expect(second.signatureValid).toBe(true);
    expect(second.body).toMatchObject({ type: 'ref.update', repo_id: repo, data: { ref: 'refs/heads/main', via: 'api' } });

    const list = await eventually(async () => {
      const res = await deliveries(s, hook.body.id);
      return res.body.items?.[0]?.success ? res : null;
    });
    const items = list.body.items as { delivery_id: string; attempt: number; status_code: number; success: boolean; error: string | null; duration_ms: number; state: string }[];
    expect(items.length).toBe(r.received.length);
    expect(items[0]).toMatchObject({ attempt: items.length, status_code: 200, success: true, error: null, state: 'delivered' });
    expect(items[items.length - 1]).toMatchObject({ attempt: 1, status_code: 500, success: false, error: 'HTTP 500', state: 'delivered' });
    for (const a of items) {
      expect(a.delivery_id).toBe(first.headers['x-gitgate-delivery']);
      expect(a.duration_ms).toBeGreaterThanOrEqual(0);
    }
    // paginated
    const page = await s.api.get(`/v1/webhooks/${hook.body.id}/deliveries?page_size=1`).set('Authorization', `Bearer ${s.admin}`);
    expect(page.body).toMatchObject({ total_items: items.length, next_page: items.length > 1 ? 1 : null });
    expect(page.body.items).toHaveLength(1);
  });

  it('a delivery still pending when the server stops is delivered after a restart', async () => {
    const first = await startTestServer('fs', LOOPBACK_ALLOWED);
    const dataDir = first.dataDir;
    cleanup.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const r = await receiver();
    r.status = 503; // the receiver is down
    const repo = await first.createRepo();
    const hook = await createHook(first, { url: r.url, repo_id: repo, events: ['push'], secret: SECRET });
    expect(hook.status).toBe(201);
    const work = tmpDir();
    await gitOk(['init', '-q', '-b', 'main', work]);
    const c1 = await commitFiles(work, { 'a.txt': '1\n' }, 'one');
    await gitOk(['push', '-q', first.gitUrl(repo, first.admin), 'main'], { cwd: work });
    const failed = await r.next();
    expect(failed.answered).toBe(503);
    // the failed attempt is on record before the server stops (not an attempt cut off by the stop)
    await eventually(async () => {
      const res = await deliveries(first, hook.body.id);
      return res.body.items?.some((d: { status_code: number | null }) => d.status_code === 503) ? res : null;
    });
    // stop the server (not its data), then the receiver comes back
    await first.http.close();
    await first.ctx.close();
    const attemptsBefore = r.received.length;
    r.status = 200;

    const second = await server(LOOPBACK_ALLOWED, { dataDir });
    let ok = await r.next();
    while (ok.answered !== 200) ok = await r.next();
    expect(r.received.length).toBeGreaterThan(attemptsBefore);
    expect(ok.signatureValid).toBe(true);
    expect(ok.headers['x-gitgate-delivery']).toBe(failed.headers['x-gitgate-delivery']);
    expect(ok.body.data).toMatchObject({ ref: 'refs/heads/main', after: c1 });
    const list = await eventually(async () => {
      const res = await deliveries(second, hook.body.id);
      return res.body.items?.[0]?.success ? res : null;
    });
    expect(list.body.items[0]).toMatchObject({ status_code: 200, state: 'delivered' });
    // the failed attempts before the restart are listed too (retries every 20–200 ms: maybe more than a page)
    const all = (await deliveries(second, hook.body.id).query({ page_size: 100 })).body.items as { status_code: number | null; attempt: number }[];
    expect(all.some((d) => d.status_code === 503)).toBe(true);
    await second.fsck(repo);
  });

  it('a delivery in flight when the server is killed is sent again by the next server', async () => {
    const dataDir = tmpDir('gitgate-data-');
    cleanup.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const env = { ...LOOPBACK_ALLOWED, GITGATE_WEBHOOK_TIMEOUT_SECONDS: '1' };
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', dataDir], {
      env: { ...process.env, GITGATE_BCRYPT_ROUNDS: '4', LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    cleanup.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    const { url, admin } = await new Promise<{ url: string; admin: string }>((resolve) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /^listening on (http:\/\/\S+)$/m.exec(out);
        if (m) resolve({ url: m[1]!, admin: readBootstrapToken(dataDir) }); // stdout is not a terminal
      });
    });
    const auth = { Authorization: `Bearer ${admin}` };
    const r = await receiver();
    r.status = 0; // holds the request: the attempt is in flight
    const repo = (await (await fetch(`${url}/v1/repo`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: '{}' })).json()) as { repo_id: string };
    const hook = await fetch(`${url}/v1/webhooks`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: r.url, repo_id: repo.repo_id, events: ['ref.update'], secret: SECRET }),
    });
    expect(hook.status).toBe(201);
    const hookId = ((await hook.json()) as { id: string }).id;
    expect((await fetch(`${url}/v1/repo/${repo.repo_id}/file/a.txt`, { method: 'PUT', headers: auth, body: 'a' })).status).toBe(200);
    const inFlight = await r.next();
    child.kill('SIGKILL');
    await exited;

    r.status = 200;
    const s = await server(env, { dataDir });
    const again = await r.next(); // once the dead server's lease on it has run out
    expect(again.answered).toBe(200);
    expect(again.signatureValid).toBe(true);
    expect(again.headers['x-gitgate-delivery']).toBe(inFlight.headers['x-gitgate-delivery']);
    expect(again.raw.equals(inFlight.raw)).toBe(true);
    const list = await eventually(async () => {
      const res = await deliveries(s, hookId);
      return res.body.items?.[0]?.success ? res : null;
    });
    expect(list.body.items).toHaveLength(1);
    await s.fsck(repo.repo_id);
  });

  it('refuses loopback, private and non-http URLs unless allowed, and stores nothing', async () => {
    const s = await server({});
    const repo = await s.createRepo();
    for (const url of ['http://127.0.0.1:9/hook', 'http://localhost:9/hook', 'http://[::1]/hook', 'http://10.1.2.3/hook', 'http://169.254.169.254/latest', 'file:///etc/passwd', 'gopher://example.com/']) {
      const res = await createHook(s, { url, repo_id: repo, secret: SECRET });
      expect(res.status, url).toBe(400);
      expect(res.body.error.code, url).toBe('SOURCE_FORBIDDEN');
    }
    const creds = await createHook(s, { url: 'https://user:pass@example.com/hook', secret: SECRET });
    expect(creds.status).toBe(400);
    expect(creds.body.error.code).toBe('VALIDATION');
    for (const body of [{ url: 'https://example.com/hook' }, { url: 'https://example.com/hook', secret: SECRET, events: ['pushed'] }, { url: 'nope', secret: SECRET }, { url: 'https://example.com/hook', secret: SECRET, events: [] }]) {
      const res = await createHook(s, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION');
    }
    const list = await s.api.get('/v1/webhooks').set('Authorization', `Bearer ${s.admin}`);
    expect(list.body).toMatchObject({ items: [], total_items: 0 });
  });

  it('repo tokens manage webhooks of their repositories only; non-admin tokens none', async () => {
    const s = await server();
    const r = await receiver();
    const repoA = await s.createRepo();
    const repoB = await s.createRepo();
    const adminA = await s.mint({ repo_ids: [repoA], permission: 'admin' });
    const readA = await s.mint({ repo_ids: [repoA], permission: 'read' });
    const writeA = await s.mint({ repo_ids: [repoA], permission: 'write' });
    const body = (repo_id?: string) => ({ url: r.url, secret: SECRET, ...(repo_id ? { repo_id } : {}) });

    const other = await createHook(s, body(repoB), adminA.token);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('REPO_NOT_FOUND');
    for (const weak of [readA, writeA]) {
      for (const target of [repoA, undefined]) {
        const res = await createHook(s, body(target), weak.token);
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      expect((await createHook(s, body(repoB), weak.token)).status).toBe(404);
      expect((await s.api.get('/v1/webhooks').set('Authorization', `Bearer ${weak.token}`)).status).toBe(403);
    }
    const mine = await createHook(s, body(repoA), adminA.token);
    expect(mine.status).toBe(201);
    const hookB = await createHook(s, body(repoB));
    expect(hookB.status).toBe(201);

    const seen = await s.api.get('/v1/webhooks').set('Authorization', `Bearer ${adminA.token}`);
    expect(seen.body.items.map((h: { id: string }) => h.id)).toEqual([mine.body.id]);
    for (const path of [`/v1/webhooks/${hookB.body.id}`, `/v1/webhooks/${hookB.body.id}/deliveries`]) {
      const res = await s.api.get(path).set('Authorization', `Bearer ${adminA.token}`);
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe('WEBHOOK_NOT_FOUND');
    }
    expect((await s.api.delete(`/v1/webhooks/${hookB.body.id}`).set('Authorization', `Bearer ${adminA.token}`)).status).toBe(404);
    expect((await s.api.get(`/v1/webhooks/${hookB.body.id}`).set('Authorization', `Bearer ${s.admin}`)).status).toBe(200);
    expect((await s.api.delete(`/v1/webhooks/${mine.body.id}`).set('Authorization', `Bearer ${adminA.token}`)).status).toBe(204);
    expect((await s.api.get(`/v1/webhooks/${mine.body.id}`).set('Authorization', `Bearer ${s.admin}`)).status).toBe(404);
    expect((await s.api.get('/v1/webhooks')).status).toBe(401);
  });

  it('a webhook without repo_id sees what its creator sees; a revoked creator stops deliveries', async () => {
    const s = await server();
    const scoped = await receiver();
    const control = await receiver();
    const repoA = await s.createRepo();
    const repoB = await s.createRepo();
    const adminA = await s.mint({ repo_ids: [repoA], permission: 'admin' });
    const hook = await createHook(s, { url: scoped.url, events: ['*'], secret: SECRET }, adminA.token);
    expect(hook.status).toBe(201);
    expect((await createHook(s, { url: control.url, events: ['ref.update'], secret: SECRET })).status).toBe(201);
    const put = (repo: string, name: string) => s.api.put(`/v1/repo/${repo}/file/${name}`).set('Authorization', `Bearer ${s.admin}`).send(name);

    expect((await put(repoB, 'b1')).status).toBe(200);
    expect((await put(repoA, 'a1')).status).toBe(200);
    const minted = await s.mint({ repo_ids: [repoA], permission: 'read', name: 'reader' }, adminA.token);
    const got = [await scoped.next(), await scoped.next()];
    expect(got.map((d) => [d.body.type, d.body.repo_id])).toEqual([
      ['ref.update', repoA],
      ['token.create', repoA],
    ]);
    expect(got[1]!.body.data).toMatchObject({ token_id: minted.id, permission: 'read', name: 'reader' });
    for (const d of got) expect(d.signatureValid).toBe(true);

    // revoke the creator: the webhook turns inactive and gets nothing more
    expect((await s.api.delete(`/v1/repo_token/${adminA.id}`).set('Authorization', `Bearer ${s.admin}`)).status).toBe(204);
    expect((await s.api.get(`/v1/webhooks/${hook.body.id}`).set('Authorization', `Bearer ${s.admin}`)).body.active).toBe(false);
    const before = scoped.received.length;
    expect((await put(repoA, 'a2')).status).toBe(200);
    // the control webhook's delivery of that event proves the fan-out has run past it
    const seenA2 = async () => control.received.some((d) => d.body.data.repository?.id === repoA && Number(d.body.id) > Number(got[1]!.body.id));
    await eventually(seenA2);
    const queued = (s.ctx.stores as SqliteStores).db.prepare('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = ?').get(hook.body.id) as { n: number };
    expect(queued.n).toBe(before);
    expect(scoped.received.length).toBe(before);
  });

  it('the secret appears in no response, delivery or log line', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const s = await server(LOOPBACK_ALLOWED, { log: pino({ level: 'debug' }, sink) });
    const r = await receiver();
    const repo = await s.createRepo();
    const secret = 'whsec-this-must-never-be-echoed-0123456789';
    const created = await createHook(s, { url: r.url, repo_id: repo, events: ['*'], secret });
    expect(created.status).toBe(201);
    expect((await s.api.put(`/v1/repo/${repo}/file/x`).set('Authorization', `Bearer ${s.admin}`).send('x')).status).toBe(200);
    const d = await r.next();
    const { verifySignature } = await import('../helpers/webhook-receiver.js');
    expect(verifySignature(secret, d.raw, d.headers['x-gitgate-signature-256'])).toBe(true);
    await eventually(async () => (await deliveries(s, created.body.id)).body.items?.length > 0);
    const responses = [
      created.body,
      (await s.api.get(`/v1/webhooks/${created.body.id}`).set('Authorization', `Bearer ${s.admin}`)).body,
      (await s.api.get('/v1/webhooks').set('Authorization', `Bearer ${s.admin}`)).body,
      (await deliveries(s, created.body.id)).body,
      (await s.api.get('/v1/events').set('Authorization', `Bearer ${s.admin}`)).body,
      (await s.api.get('/v1/audit').set('Authorization', `Bearer ${s.admin}`)).body,
    ];
    for (const body of responses) expect(JSON.stringify(body)).not.toContain(secret);
    expect(JSON.stringify(created.body)).not.toMatch(/secret/);
    expect(d.raw.toString()).not.toContain(secret);
    expect(JSON.stringify(d.headers)).not.toContain(secret);
    expect(lines.some((l) => l.includes('webhook delivered'))).toBe(true);
    expect(lines.join('')).not.toContain(secret);
  });
});
