// Three `gitgate serve` nodes (spawned, 127.0.0.1:0) on one data directory and one PostgreSQL
// database: behaviour is the same through any node, racing pushes through different nodes
// have exactly one winner, and a revocation on one node is refused on the others at once.
// Started all at once on an empty database, they mint one bootstrap token; a node killed
// mid-push has its temporary files removed by a survivor once its heartbeat expires (and no
// live node's); the failed-auth limit and the per-token concurrency limit hold for the cluster.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStores } from '../../src/db/postgres/stores.js';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { TestCluster, until } from '../helpers/cluster.js';
import { packRevs, ZERO } from '../helpers/push.js';
import { runServe, stopServe } from '../helpers/serve.js';
import { webhookReceiver } from '../helpers/webhook-receiver.js';
import { basic, stalled, type Stalled } from '../helpers/stalled.js';

/** Heartbeats every 250 ms, dead after 3 s without one: crash recovery shows within seconds. */
const EXPIRY_MS = 3000;
const AUTH_FAIL_LIMIT = 6;
const PER_TOKEN = 10;

const cluster = new TestCluster('gitgate-cluster-', {
  GITGATE_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8',
  GITGATE_EVENTS_POLL_MS: '200',
  GITGATE_HEARTBEAT_MS: '250',
  GITGATE_NODE_EXPIRY_MS: String(EXPIRY_MS),
  GITGATE_AUTH_FAIL_LIMIT: String(AUTH_FAIL_LIMIT),
  GITGATE_MAX_CONCURRENT_PER_TOKEN: String(PER_TOKEN),
  // the throttle test speaks for other client addresses through X-Forwarded-For
  GITGATE_TRUST_PROXY: 'loopback',
});
const { nodes } = cluster;
let data: string;
let db: { url: string };
let admin: string;
const node = (id: string) => cluster.node(id);
const api = cluster.api.bind(cluster);
const gitUrl = cluster.gitUrl.bind(cluster);
const createRepo = cluster.createRepo.bind(cluster);
const fsck = cluster.fsck.bind(cluster);

beforeAll(async () => {
  // all three at once on an empty database: they race to migrate and to mint the bootstrap token
  await cluster.start(['node-a', 'node-b', 'node-c']);
  ({ data, db, admin } = cluster);
}, 120_000);

/** Run `fn` with a pool on the test database (reads of the shared tables). */
async function withStores<T>(fn: (stores: PostgresStores) => Promise<T>): Promise<T> {
  const stores = new PostgresStores(db.url);
  try {
    return await fn(stores);
  } finally {
    await stores.close();
  }
}


const packDir = (repo: string) => cluster.packDir(repo);
const tempsOf = (repo: string, nodeId: string) => fs.readdirSync(packDir(repo)).filter((f) => f.startsWith('tmp_') && f.endsWith(`@${nodeId}`));

/** A push whose pack stops halfway and then waits: the node spools into its temporary pack. */
async function stalledPush(n: number, repo: string, work: string, ref: string): Promise<Stalled> {
  const base = (await gitOk(['rev-parse', 'HEAD'], { cwd: work })).trim();
  fs.writeFileSync(path.join(work, `${ref}.bin`), crypto.randomBytes(256 * 1024));
  const tip = await commitFiles(work, {}, `stalled ${ref}`);
  const pack = await packRevs(work, [tip, `^${base}`]);
  await gitOk(['reset', '-q', '--hard', base], { cwd: work });
  const command = `${ZERO} ${tip} refs/heads/${ref}\0report-status\n`;
  const pkt = `${(command.length + 4).toString(16).padStart(4, '0')}${command}0000`;
  const body = Buffer.concat([Buffer.from(pkt), pack.subarray(0, pack.length >> 1)]);
  const u = new URL(nodes[n]!.url);
  const head =
    `POST /v1/repo/${repo}.git/git-receive-pack HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: ${basic(admin)}\r\n` +
    `Content-Type: application/x-git-receive-pack-request\r\nContent-Length: ${pkt.length + pack.length}\r\n\r\n`;
  return stalled(nodes[n]!.url, Buffer.concat([Buffer.from(head), body]));
}

afterAll(() => cluster.close());

describe('three nodes, one data directory, one PostgreSQL', () => {
  it('three nodes started at once on an empty database mint exactly one bootstrap token', async () => {
    const minted = nodes.filter((n) => /created the first workspace admin token/.test(n.stdout()));
    expect(minted.map((n) => n.stdout())).toHaveLength(1);
    await withStores(async (stores) => {
      expect(await stores.tokens.count()).toBe(1);
      const { items } = await stores.tokens.list({ pageSize: 10, pageStart: 0, includeRevoked: true });
      expect(items.map((t) => [t.name, t.kind, t.permission])).toEqual([['bootstrap admin', 'workspace', 'admin']]);
    });
    expect((await api(2, '/v1/repo')).status).toBe(200); // the file holds that token
  });

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
    // a push stopped mid-pack on the victim and one on a live node (each in its own repository):
    // both nodes are spooling into temporary packs named after themselves
    const [deadRepo, liveRepo] = [await createRepo(0), await createRepo(0)];
    const [deadWork, liveWork] = [tmpDir(), tmpDir()];
    await gitOk(['clone', '-q', gitUrl(0, deadRepo), deadWork]);
    await gitOk(['clone', '-q', gitUrl(0, liveRepo), liveWork]);
    const stuckOnVictim = await stalledPush(d, deadRepo, deadWork, 'dead-stalled');
    const stuckOnLive = await stalledPush(1, liveRepo, liveWork, 'live-stalled');
    await until('both nodes spool a temporary pack', () => tempsOf(deadRepo, 'node-d').length > 0 && tempsOf(liveRepo, 'node-b').length > 0);
    // lock files carry no owner: one abandoned 20 minutes ago goes, a fresh one stays
    const oldLock = path.join(data, `${deadRepo}.git`, 'refs', 'heads', 'abandoned.lock');
    const freshLock = path.join(data, `${deadRepo}.git`, 'refs', 'heads', 'busy.lock');
    fs.writeFileSync(oldLock, `${'1'.repeat(40)}\n`);
    fs.utimesSync(oldLock, new Date(Date.now() - 20 * 60_000), new Date(Date.now() - 20 * 60_000));
    fs.writeFileSync(freshLock, `${'2'.repeat(40)}\n`);
    fs.writeFileSync(path.join(work, 'big.bin'), crypto.randomBytes(24 * 1024 * 1024));
    await commitFiles(work, {}, 'big');
    const push = git(['push', gitUrl(d, repo), 'HEAD:main'], { cwd: work });
    await new Promise((r) => setTimeout(r, 400));
    victim.child.kill('SIGKILL');
    await victim.exited;
    const leftBehind = tempsOf(deadRepo, 'node-d');
    expect(leftBehind.length).toBeGreaterThan(0); // a dead node removes nothing itself
    const result = await push;
    const main = (await gitOk(['ls-remote', gitUrl(2, repo), 'refs/heads/main'])).split('\t')[0];
    // the big push either was acknowledged before the kill or left main where it was
    if (result.code !== 0) expect(main).toBe(acknowledged);
    else expect((await git(['merge-base', '--is-ancestor', acknowledged, main!], { cwd: work })).code).toBe(0);
    const check = tmpDir();
    await gitOk(['clone', '-q', gitUrl(1, repo), check]);
    expect(fs.readFileSync(path.join(check, 'kept.txt'), 'utf8')).toBe('kept\n');
    await fsck(repo);

    // once its heartbeat has expired, a survivor sweeps up after node-d and forgets its row
    await until('node-d is swept and forgotten', () => withStores(async (st) => !Object.values(await st.nodes(EXPIRY_MS)).flat().includes('node-d')));
    expect(tempsOf(deadRepo, 'node-d')).toEqual([]);
    expect(tempsOf(repo, 'node-d')).toEqual([]);
    expect(fs.existsSync(oldLock)).toBe(false);
    // …and nothing a live node is working on
    expect(fs.existsSync(freshLock)).toBe(true);
    expect(tempsOf(liveRepo, 'node-b').length).toBeGreaterThan(0);
    expect(stuckOnLive.socket.destroyed).toBe(false);
    stuckOnLive.socket.destroy();
    stuckOnVictim.socket.destroy();
    await until('node-b drops its abandoned push', () => tempsOf(liveRepo, 'node-b').length === 0);
    fs.rmSync(freshLock);
    for (const r of [deadRepo, liveRepo]) await fsck(r);
    expect((await gitOk(['ls-remote', gitUrl(2, liveRepo)])).includes('live-stalled')).toBe(false);
  }, 120_000);

  it('failed authentications spread over the three nodes are blocked at the limit, on every node', async () => {
    const repo = await createRepo(0);
    const attacker = '198.51.100.7';
    const attempt = (n: number, from = attacker) =>
      fetch(`${nodes[n]!.url}/v1/repo/${repo}`, { headers: { Authorization: `Bearer ggw_${crypto.randomBytes(24).toString('hex')}`, 'X-Forwarded-For': from } });
    // AUTH_FAIL_LIMIT failures, round-robin: each node sees only a third of them
    for (let i = 0; i < AUTH_FAIL_LIMIT; i++) expect((await attempt(i % 3)).status).toBe(401);
    for (const n of [0, 1, 2]) {
      const blocked = await attempt(n);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect((await attempt(1, '198.51.100.8')).status).toBe(401); // another address is not blocked
    // a token this node has verified before still gets through from the blocked address
    expect((await fetch(`${nodes[2]!.url}/v1/repo/${repo}`, { headers: { Authorization: `Bearer ${admin}`, 'X-Forwarded-For': attacker } })).status).toBe(200);
  });

  it('the per-token concurrency limit holds across nodes, and a killed node’s requests stop counting', async () => {
    const repo = await createRepo(0);
    const minted = (await (await api(0, '/v1/repo_token', { method: 'POST', body: { repo_ids: [repo], permission: 'read' } })).json()) as { token: string; id: string };
    const extra = await node('node-e');
    nodes.push(extra);
    const e = nodes.length - 1;
    const hold = (n: number) =>
      stalled(
        nodes[n]!.url,
        `POST /v1/repo/${repo}.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(minted.token)}\r\n` +
          'Content-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000\r\n\r\n0032want ',
      );
    const inflight = () => withStores(async (st) => Number((await st.pool.query('SELECT COALESCE(sum(n), 0) AS n FROM gitgate_inflight WHERE token_id = $1', [minted.id])).rows[0].n));
    // PER_TOKEN requests held open: 4 on node-e, 3 on A, 3 on B
    const held: Stalled[] = [];
    for (const n of [e, e, e, e, 0, 0, 0, 1, 1, 1]) held.push(await hold(n));
    await until('all held requests are admitted', async () => (await inflight()) === PER_TOKEN);
    for (const n of [0, 1, 2]) {
      const refused = await api(n, `/v1/repo/${repo}`, { token: minted.token });
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_REQUESTS');
    }
    expect((await api(2, `/v1/repo/${repo}`)).status).toBe(200); // other tokens are unaffected
    // one request ends on A: its slot is free for a request through C
    held[4]!.socket.destroy();
    await until('the slot is given back', async () => (await inflight()) === PER_TOKEN - 1);
    expect((await api(2, `/v1/repo/${repo}`, { token: minted.token })).status).toBe(200);
    held.push(await hold(0));
    await until('the limit is reached again', async () => (await inflight()) === PER_TOKEN);
    expect((await api(2, `/v1/repo/${repo}`, { token: minted.token })).status).toBe(429);
    // node-e dies holding 4: they stop counting once its heartbeat expires, and go with its row
    extra.child.kill('SIGKILL');
    await extra.exited;
    await until('node-e’s requests stop counting', async () => (await api(2, `/v1/repo/${repo}`, { token: minted.token })).status === 200);
    await until('node-e is forgotten with its counts', async () => (await inflight()) === PER_TOKEN - 4);
    for (const h of held) h.socket.destroy();
    await until('every slot is given back', async () => (await inflight()) === 0);
  }, 120_000);

  it('one node id runs once: a second node-b on the same directory is refused', async () => {
    const twin = await runServe(['--port', '0', '--data', data], { env: { GITGATE_DATABASE_URL: db.url, GITGATE_NODE_ID: 'node-b' } });
    if (twin.url) await stopServe(twin);
    expect(twin.url).toBeNull();
    expect(twin.stderr()).toMatch(/node-b|locked|lock/i);
  });
});
