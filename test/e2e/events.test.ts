// GET /v1/events: the event stream over the audit trail, scoped to what the token may read;
// a long poll that wakes on a push, SSE framing with Last-Event-ID, and a clean end on shutdown.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gracefulShutdown } from '../../src/http/shutdown.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { ZERO } from '../helpers/push.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BIN = path.resolve(__dirname, '../../bin/gitgate.js');

/** What an event is about: the token for token events, else the repository. */
const subject = (e: Event) => (e.type.startsWith('token.') ? e.data.token_id : e.repo_id);

interface Event {
  id: string;
  type: string;
  repo_id: string | null;
  repo_ids: string[];
  actor_token_id: string | null;
  data: Record<string, any>;
}

describe('events feed', () => {
  let s: TestServer;
  beforeAll(async () => {
    // no polling for other processes' events: every wake-up here must be the in-process one
    s = await startTestServer('memory', { GITGATE_EVENTS_POLL_MS: '3600000' });
  });
  afterAll(async () => {
    await s.close();
  });
  const feed = (secret: string, query = '') => s.api.get(`/v1/events${query}`).set('Authorization', `Bearer ${secret}`);
  /** The cursor after everything recorded so far, as this token sees the stream. */
  const head = async (secret: string) => {
    let cursor = '0';
    for (;;) {
      const res = await feed(secret, `?after=${cursor}&limit=1000`);
      expect(res.status).toBe(200);
      if (res.body.cursor === cursor) return cursor;
      cursor = res.body.cursor;
    }
  };

  it('a long poll by a repo token wakes on a push to its repository, and never shows other repositories', async () => {
    const repoA = await s.createRepo();
    const repoB = await s.createRepo();
    const readerA = await s.mint({ repo_ids: [repoA], permission: 'read' });
    const cursor = await head(readerA.token);
    const poll = feed(readerA.token, `?after=${cursor}&wait=60`).then((r) => r);

    // a push to B first: the poll must not answer with it
    const workB = tmpDir();
    await gitOk(['init', '-q', '-b', 'main', workB]);
    await commitFiles(workB, { 'b.txt': 'b\n' }, 'b');
    await gitOk(['push', '-q', s.gitUrl(repoB, s.admin), 'main'], { cwd: workB });
    const work = tmpDir();
    await gitOk(['init', '-q', '-b', 'main', work]);
    const c1 = await commitFiles(work, { 'a.txt': '1\n' }, 'one');
    await gitOk(['push', '-q', s.gitUrl(repoA, s.admin), 'main'], { cwd: work });
    await s.fsck(repoA);

    const res = await poll;
    expect(res.status).toBe(200);
    const items = res.body.items as Event[];
    expect(items.map((e) => e.type)).toEqual(['ref.update', 'push']);
    for (const e of items) expect(e.repo_ids).toEqual([repoA]);
    expect(items[1]!.data).toMatchObject({ ref: 'refs/heads/main', before: ZERO, after: c1, pusher: { token_id: expect.any(String) } });
    expect(Number(res.body.cursor)).toBe(Number(items[1]!.id));
    expect(Number(items[0]!.id)).toBeGreaterThan(Number(cursor));

    // the workspace admin sees B's push too, in order
    const all = (await feed(s.admin, `?after=${cursor}&limit=1000`)).body.items as Event[];
    expect(all.filter((e) => e.type === 'push').map((e) => e.repo_id)).toEqual([repoB, repoA]);
    // nothing new: a wait=0 poll answers at once with the same cursor
    const idle = await feed(readerA.token, `?after=${res.body.cursor}`);
    expect(idle.body).toEqual({ items: [], cursor: res.body.cursor });
  });

  it('token events only for tokens the caller may see; repository creation and deletion are events', async () => {
    const start = await head(s.admin);
    const repoA = await s.createRepo({ name: 'events-a', source: { type: 'files', files: [{ filename: 'x', content: 'x' }] } });
    const repoB = await s.createRepo();
    const adminA = await s.mint({ repo_ids: [repoA], permission: 'admin', name: 'admin A' });
    const childA = await s.mint({ repo_ids: [repoA], permission: 'read', name: 'child A' }, adminA.token);
    const tokB = await s.mint({ repo_ids: [repoB], permission: 'read', name: 'B' });
    const ws = await s.api.post('/v1/workspace_token').set('Authorization', `Bearer ${s.admin}`).send({ name: 'ws', permission: 'read' });
    expect(ws.status).toBe(201);
    expect((await s.api.delete(`/v1/repo/${repoB}`).set('Authorization', `Bearer ${s.admin}`)).status).toBe(204);

    const all = (await feed(s.admin, `?after=${start}&limit=1000`)).body.items as Event[];
    expect(all.map((e) => [e.type, subject(e)])).toEqual([
      ['repo.create', repoA],
      ['ref.update', repoA],
      ['repo.create', repoB],
      ['token.create', adminA.id],
      ['token.create', childA.id],
      ['token.create', tokB.id],
      ['token.create', ws.body.id],
      ['repo.delete', repoB],
    ]);
    expect(all[0]!.data).toMatchObject({ repository: { id: repoA, name: 'events-a' }, source: 'files' });
    expect(JSON.stringify(all)).not.toMatch(/gg[wr]_/);

    const byAdminA = (await feed(adminA.token, `?after=${start}&limit=1000`)).body.items as Event[];
    expect(byAdminA.map((e) => [e.type, subject(e)])).toEqual([
      ['repo.create', repoA],
      ['ref.update', repoA],
      ['token.create', adminA.id],
      ['token.create', childA.id],
    ]);
    // a read token sees its repository's events and its own token events only
    const byChild = (await feed(childA.token, `?after=${start}&limit=1000`)).body.items as Event[];
    expect(byChild.map((e) => [e.type, subject(e)])).toEqual([
      ['repo.create', repoA],
      ['ref.update', repoA],
      ['token.create', childA.id],
    ]);
    // limit pages through the stream with the cursor
    const one = await feed(s.admin, `?after=${start}&limit=1`);
    expect(one.body.items.map((e: Event) => e.id)).toEqual([all[0]!.id]);
    expect(one.body.cursor).toBe(all[0]!.id);
  });

  it('streams Server-Sent Events from Last-Event-ID, each frame with id, event and data', async () => {
    const repo = await s.createRepo();
    const put = (name: string) => s.api.put(`/v1/repo/${repo}/file/${name}`).set('Authorization', `Bearer ${s.admin}`).send(name);
    expect((await put('one')).status).toBe(200);
    const reader = await s.mint({ repo_ids: [repo], permission: 'read' });
    const mark = await head(reader.token);
    expect((await put('two')).status).toBe(200);

    const ac = new AbortController();
    const res = await fetch(`${s.url}/v1/events?after=0`, {
      headers: { Authorization: `Bearer ${reader.token}`, Accept: 'text/event-stream', 'Last-Event-ID': mark },
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const frames: { id?: string; event?: string; data?: string }[] = [];
    const reader2 = res.body!.getReader();
    let buf = '';
    const nextFrame = async () => {
      for (;;) {
        const end = buf.indexOf('\n\n');
        if (end >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const frame: Record<string, string> = {};
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): (.*)$/.exec(line);
            if (m) frame[m[1]!] = m[2]!;
          }
          if (frame.data) return frame;
          continue; // retry: / comments
        }
        const { value, done } = await reader2.read();
        if (done) throw new Error('stream ended');
        buf += Buffer.from(value).toString('utf8');
      }
    };
    const f1 = await nextFrame();
    frames.push(f1);
    const e1 = JSON.parse(f1.data!) as Event;
    expect(f1).toMatchObject({ event: 'ref.update', id: e1.id });
    expect(Number(e1.id)).toBeGreaterThan(Number(mark)); // Last-Event-ID wins over after=0
    expect(e1.data).toMatchObject({ ref: 'refs/heads/main', via: 'api' });
    // live: a new write arrives on the open stream
    expect((await put('three')).status).toBe(200);
    const f2 = await nextFrame();
    expect(f2.event).toBe('ref.update');
    expect(Number(f2.id)).toBeGreaterThan(Number(f1.id));
    ac.abort();
  });

  it('rejects a bad cursor, wait or limit; needs a token', async () => {
    for (const q of ['?after=abc', '?after=-1', '?wait=61', '?wait=x', '?limit=0', '?limit=1001']) {
      const res = await feed(s.admin, q);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION');
    }
    const badHeader = await s.api.get('/v1/events').set('Authorization', `Bearer ${s.admin}`).set('Accept', 'text/event-stream').set('Last-Event-ID', 'x');
    expect(badHeader.status).toBe(400);
    expect((await s.api.get('/v1/events')).status).toBe(401);
  });
});

describe('events feed across processes', () => {
  it('a long poll wakes on a token the CLI mints in the same data directory', async () => {
    const s = await startTestServer('fs');
    try {
      const cursor = (await s.api.get('/v1/events?limit=1000').set('Authorization', `Bearer ${s.admin}`)).body.cursor as string;
      const poll = s.api.get(`/v1/events?after=${cursor}&wait=60`).set('Authorization', `Bearer ${s.admin}`).then((r) => r);
      const minted = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, [BIN, 'token', 'create', '--workspace', '--permission', 'read', '--name', 'from the cli', '--json', '--data', s.dataDir], { env: { ...process.env, LOG_LEVEL: 'silent', GITGATE_BCRYPT_ROUNDS: '4' } }, (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        ),
      );
      const id = (JSON.parse(minted) as { id: string }).id;
      const res = await poll;
      expect(res.body.items).toHaveLength(1);
      expect(res.body.items[0]).toMatchObject({ type: 'token.create', actor_token_id: null, data: { token_id: id, name: 'from the cli', via: 'local' } });
    } finally {
      await s.close();
    }
  });
});

describe('events feed and shutdown', () => {
  it('a graceful shutdown answers a waiting long poll at once instead of waiting for it', async () => {
    const s = await startTestServer('memory');
    const cursor = (await s.api.get('/v1/events?limit=1000').set('Authorization', `Bearer ${s.admin}`)).body.cursor as string;
    const poll = s.api.get(`/v1/events?after=${cursor}&wait=60`).set('Authorization', `Bearer ${s.admin}`).then((r) => r);
    // the poll is in flight once the server counts it
    while (s.http.runtime.activity.count('request') === 0) await new Promise((r) => setTimeout(r, 10));
    const result = await gracefulShutdown(s.http, s.ctx, { timeoutMs: 30_000 });
    expect(result.forced).toBe(false);
    const res = await poll;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], cursor });
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  });
});
