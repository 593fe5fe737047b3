// Three `gitgate serve` nodes (spawned, 127.0.0.1:0) on one data directory and one PostgreSQL
// database: behaviour is the same through any node, racing pushes through different nodes
// have exactly one winner, and a revocation on one node is refused on the others at once.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStores } from '../../src/db/postgres/stores.js';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { freshDatabase } from '../helpers/postgres.js';
import { readBootstrapToken, runServe, stopServe, type ServeRun } from '../helpers/serve.js';
import { webhookReceiver } from '../helpers/webhook-receiver.js';

let data: string;
let db: { url: string; drop: () => Promise<void> };
const nodes: (ServeRun & { url: string })[] = [];
let admin: string;

async function node(id: string): Promise<ServeRun & { url: string }> {
  const run = await runServe(['--port', '0', '--data', data], {
    env: { GITGATE_DATABASE_URL: db.url, GITGATE_NODE_ID: id, GITGATE_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8', GITGATE_EVENTS_POLL_MS: '200' },
  });
  if (!run.url) throw new Error(`node ${id} did not start (${run.code}): ${run.stderr()}`);
  return run as ServeRun & { url: string };
}

function api(n: number, route: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<Response> {
  return fetch(`${nodes[n]!.url}${route}`, {
    method: init.method ?? 'GET',
    headers: { Authorization: `Bearer ${init.token ?? admin}`, ...(init.body ? { 'Content-Type': 'application/json' } : {}) },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
}

function gitUrl(n: number, repo: string, secret = admin): string {
  const u = new URL(`${nodes[n]!.url}/v1/repo/${repo}.git`);
  u.username = 'token';
  u.password = secret;
  return u.toString();
}

async function createRepo(n: number): Promise<string> {
  const res = await api(n, '/v1/repo', { method: 'POST', body: { source: { type: 'files', files: [{ filename: 'README', content: 'base\n' }] } } });
  expect(res.status).toBe(201);
  return ((await res.json()) as { repo_id: string }).repo_id;
}

async function fsck(repo: string): Promise<void> {
  await gitOk(['--git-dir', path.join(data, `${repo}.git`), 'fsck', '--full', '--strict', '--no-dangling']);
}

beforeAll(async () => {
  data = tmpDir('gitgate-cluster-');
  db = await freshDatabase();
  // the first node migrates and mints the bootstrap token; the others join
  nodes.push(await node('node-a'));
  admin = readBootstrapToken(data);
  const others = await Promise.allSettled([node('node-b'), node('node-c')]);
  for (const o of others) if (o.status === 'fulfilled') nodes.push(o.value); // stopped in afterAll either way
  for (const o of others) if (o.status === 'rejected') throw o.reason;
}, 120_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => stopServe(n)));
  await db?.drop();
  if (data) fs.rmSync(data, { recursive: true, force: true });
});

describe('three nodes, one data directory, one PostgreSQL', () => {
  it('each node reports itself and the shared database', async () => {
    const health = await Promise.all([0, 1, 2].map(async (n) => (await api(n, '/healthz')).json()));
    expect(health).toEqual(['node-a', 'node-b', 'node-c'].map((id) => ({ status: 'ok', checks: { db: 'ok' }, node: id, database: 'postgres' })));
    // each registered with a fresh heartbeat row
    const stores = new PostgresStores(db.url);
    try {
      expect(await stores.nodes(60_000)).toEqual({ live: ['node-a', 'node-b', 'node-c'], dead: [] });
    } finally {
      await stores.close();
    }
  });

  it('a repository created on A is cloned through B, pushed through C, fetched through A', async () => {
    const repo = await createRepo(0);
    const bodies = await Promise.all([0, 1, 2].map(async (n) => (await api(n, `/v1/repo/${repo}`)).json()));
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual(bodies[0]);
    const work = tmpDir();
    await gitOk(['clone', '-q', gitUrl(1, repo), work]);
    const head = await commitFiles(work, { 'b.txt': 'from B\n' }, 'via C');
    await gitOk(['push', '-q', gitUrl(2, repo), 'HEAD:main'], { cwd: work });
    const remote = (await gitOk(['ls-remote', gitUrl(0, repo), 'refs/heads/main'])).split('\t')[0];
    expect(remote).toBe(head);
    await fsck(repo);
  });

  it('8 racing pushes to one ref through 3 nodes: exactly one wins, every loser is told', async () => {
    const repo = await createRepo(1);
    const works = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const w = tmpDir();
        await gitOk(['clone', '-q', gitUrl(i % 3, repo), w]);
        return { w, head: await commitFiles(w, { [`racer-${i}.txt`]: `${i}\n` }, `racer ${i}`) };
      }),
    );
    const results = await Promise.all(works.map(({ w }, i) => git(['push', gitUrl(i % 3, repo), 'HEAD:main'], { cwd: w })));
    const winners = results.flatMap((r, i) => (r.code === 0 ? [i] : []));
    expect(winners, results.map((r) => r.stderr).join('\n---\n')).toHaveLength(1);
    for (const [i, r] of results.entries()) {
      if (i !== winners[0]) expect(r.stderr).toMatch(/rejected|failed|error/);
    }
    const remote = (await gitOk(['ls-remote', gitUrl(2, repo), 'refs/heads/main'])).split('\t')[0];
    expect(remote).toBe(works[winners[0]!]!.head);
    await fsck(repo);
  });

  it('a token revoked on A is refused on B and C at once', async () => {
    const repo = await createRepo(0);
    const minted = (await (await api(0, '/v1/repo_token', { method: 'POST', body: { repo_ids: [repo], permission: 'read' } })).json()) as { token: string; id: string };
    for (const n of [1, 2]) expect((await api(n, `/v1/repo/${repo}`, { token: minted.token })).status).toBe(200);
    expect((await api(0, `/v1/repo_token/${minted.id}`, { method: 'DELETE' })).status).toBeLessThan(300);
    for (const n of [1, 2]) expect((await api(n, `/v1/repo/${repo}`, { token: minted.token })).status).toBe(401);
    expect((await git(['ls-remote', gitUrl(2, repo, minted.token)])).code).not.toBe(0);
  });

  it('a REST write on A racing a push on B: no acknowledged update is lost', async () => {
    const repo = await createRepo(0);
    const work = tmpDir();
    await gitOk(['clone', '-q', gitUrl(1, repo), work]);
    const puts: string[] = [];
    const pushes: string[] = [];
    for (let round = 0; round < 6; round++) {
      await gitOk(['pull', '-q', '--rebase', gitUrl(1, repo), 'main'], { cwd: work });
      const commit = await commitFiles(work, { [`push-${round}.txt`]: `${round}\n` }, `push ${round}`);
      const [put, push] = await Promise.all([
        fetch(`${nodes[0]!.url}/v1/repo/${repo}/file/rest-${round}.txt`, { method: 'PUT', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'text/plain' }, body: `rest ${round}\n` }),
        git(['push', gitUrl(1, repo), 'HEAD:main'], { cwd: work }),
      ]);
      if (put.status === 200) puts.push(`rest-${round}.txt`);
      else expect([409, 423], await put.text()).toContain(put.status); // stale head, or busy: the push held the repository lock
      if (push.code === 0) pushes.push(commit);
      else await gitOk(['reset', '-q', '--hard', 'HEAD~1'], { cwd: work });
    }
    expect(puts.length + pushes.length).toBeGreaterThanOrEqual(6);
    const check = tmpDir();
    await gitOk(['clone', '-q', gitUrl(2, repo), check]);
    for (const file of puts) expect(fs.existsSync(path.join(check, file)), `${file} was acknowledged and lost`).toBe(true);
    for (const c of pushes) expect((await git(['merge-base', '--is-ancestor', c, 'HEAD'], { cwd: check })).code, `${c} was acknowledged and lost`).toBe(0);
    await fsck(repo);
  });

  it('each webhook delivery happens once across the three nodes', async () => {
    const repo = await createRepo(2);
    const receiver = await webhookReceiver('cluster-secret');
    try {
      const hook = await api(0, '/v1/webhooks', { method: 'POST', body: { url: receiver.url, repo_id: repo, events: ['push'], secret: 'cluster-secret' } });
      expect(hook.status).toBe(201);
      const work = tmpDir();
      await gitOk(['clone', '-q', gitUrl(0, repo), work]);
      for (let i = 0; i < 6; i++) {
        await commitFiles(work, { [`w-${i}.txt`]: `${i}\n` }, `w ${i}`);
        await gitOk(['push', '-q', gitUrl(i % 3, repo), `HEAD:refs/heads/b${i}`], { cwd: work });
      }
      for (let i = 0; i < 6; i++) await receiver.next();
      await new Promise((r) => setTimeout(r, 1500)); // time for a duplicate to show up
      expect(receiver.received).toHaveLength(6);
      expect(receiver.received.every((d) => d.signatureValid)).toBe(true);
      expect(new Set(receiver.received.map((d) => d.body.id)).size).toBe(6);
      expect(new Set(receiver.received.map((d) => d.headers['x-gitgate-delivery'])).size).toBe(6);
    } finally {
      await receiver.close();
    }
  });

  it('kill -9 of a node in the middle of a push: the others keep serving, nothing acknowledged is lost, fsck clean', async () => {
    const repo = await createRepo(0);
    const work = tmpDir();
    await gitOk(['clone', '-q', gitUrl(0, repo), work]);
    const acknowledged = await commitFiles(work, { 'kept.txt': 'kept\n' }, 'kept');
    await gitOk(['push', '-q', gitUrl(1, repo), 'HEAD:main'], { cwd: work });
    const victim = await node('node-d');
    nodes.push(victim);
    const d = nodes.length - 1;
    fs.writeFileSync(path.join(work, 'big.bin'), crypto.randomBytes(24 * 1024 * 1024));
    await commitFiles(work, {}, 'big');
    const push = git(['push', gitUrl(d, repo), 'HEAD:main'], { cwd: work });
    await new Promise((r) => setTimeout(r, 400));
    victim.child.kill('SIGKILL');
    await victim.exited;
    const result = await push;
    const main = (await gitOk(['ls-remote', gitUrl(2, repo), 'refs/heads/main'])).split('\t')[0];
    // the big push either was acknowledged before the kill or left main where it was
    if (result.code !== 0) expect(main).toBe(acknowledged);
    else expect((await git(['merge-base', '--is-ancestor', acknowledged, main!], { cwd: work })).code).toBe(0);
    const check = tmpDir();
    await gitOk(['clone', '-q', gitUrl(1, repo), check]);
    expect(fs.readFileSync(path.join(check, 'kept.txt'), 'utf8')).toBe('kept\n');
    await fsck(repo);
  });

  it('one node id runs once: a second node-b on the same directory is refused', async () => {
    const twin = await runServe(['--port', '0', '--data', data], { env: { GITGATE_DATABASE_URL: db.url, GITGATE_NODE_ID: 'node-b' } });
    if (twin.url) await stopServe(twin);
    expect(twin.url).toBeNull();
    expect(twin.stderr()).toMatch(/node-b|locked|lock/i);
  });
});
