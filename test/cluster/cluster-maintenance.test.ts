// Repository locks across nodes (spawned `gitgate serve` nodes on one data directory and one
// PostgreSQL): REST read-modify-writes of one branch through two nodes never lose a commit,
// maintenance of a repository runs on one node at a time, and a repack on one node while
// another serves clones retires packs aside, deletes them after the grace, and every clone
// succeeds.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advisoryKey } from '../../src/db/postgres/advisory-locks.js';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { TestCluster, until } from '../helpers/cluster.js';

/** Short, so a test sees retired packs deleted; the in-process delay before retiring is bounded by it too. */
const GRACE_MS = 3000;

const cluster = new TestCluster('gitgate-cluster-maint-', { GITGATE_PACK_RETIRE_GRACE_MS: String(GRACE_MS) });
const { nodes } = cluster;
let db: { url: string };
const gitUrl = (n: number, repo: string) => cluster.gitUrl(n, repo);
const createRepo = cluster.createRepo.bind(cluster);
const fsck = cluster.fsck.bind(cluster);

const packDir = (repo: string) => cluster.packDir(repo);
const packs = (repo: string) => fs.readdirSync(packDir(repo)).filter((f) => /^pack-[0-9a-f]+\.pack$/.test(f));
const retired = (repo: string) => fs.readdirSync(packDir(repo)).filter((f) => f.includes('.retired-'));

/** This node's gitgate_maintenance_runs_total{outcome}. */
async function maintenanceRuns(n: number, outcome: 'done' | 'skipped'): Promise<number> {
  const text = await (await fetch(`${nodes[n]!.url}/metrics`)).text();
  const m = new RegExp(`^gitgate_maintenance_runs_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Hold `repo`'s maintenance lock as another node would; resolves to its release. */
async function holdMaintenance(repo: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => {}); // the database is dropped at the end
  await client.connect();
  // waits while a node runs it (the creation's commit scheduled one)
  await client.query('BEGIN');
  await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryKey(`${repo}.git#maintenance`)]);
  return () => client.end();
}

async function push(work: string, n: number, repo: string, files: Record<string, string | Buffer>): Promise<string> {
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(work, name), content);
  const head = await commitFiles(work, {}, `add ${Object.keys(files).join(' ')}`);
  await gitOk(['push', '-q', gitUrl(n, repo), 'HEAD:main'], { cwd: work });
  return head;
}

beforeAll(async () => {
  await cluster.start(['node-a', 'node-b']);
  ({ db } = cluster);
}, 120_000);

afterAll(() => cluster.close());

describe('repository locks across nodes', () => {
  it('REST writes of one branch through two nodes at once, without expected_head: every write lands (busy is 423, never a stale head)', async () => {
    const repo = await createRepo(0);
    const statuses: number[] = [];
    // a client that retries while the repository is busy, as 423 asks it to
    const write = async (n: number, file: string) => {
      for (;;) {
        const res = await fetch(`${nodes[n]!.url}/v1/repo/${repo}/file/${file}`, {
          method: 'PUT',
          headers: { Authorization: `Bearer ${cluster.admin}`, 'Content-Type': 'text/plain' },
          body: `${file}\n`,
        });
        statuses.push(res.status);
        if (res.status === 200) return;
        expect(res.status, `${file} through node ${n}: ${await res.text()}`).toBe(423);
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      }
    };
    const files: string[] = [];
    for (let round = 0; round < 10; round++) {
      const pair = [`a-${round}.txt`, `b-${round}.txt`];
      files.push(...pair);
      await Promise.all(pair.map((f, n) => write(n, f)));
    }
    const check = tmpDir();
    await gitOk(['clone', '-q', gitUrl(1, repo), check]);
    for (const f of files) expect(fs.existsSync(path.join(check, f)), `${f} was acknowledged and lost`).toBe(true);
    expect((await gitOk(['rev-list', '--count', 'HEAD'], { cwd: check })).trim()).toBe(String(files.length + 1));
    await fsck(repo);
  });

  it('maintenance runs on one node at a time: while the lock is held elsewhere both nodes skip, and once free a retried run rolls the packs up', async () => {
    const repo = await createRepo(0);
    const work = tmpDir();
    await gitOk(['clone', '-q', gitUrl(0, repo), work]);
    const skipped = [await maintenanceRuns(0, 'skipped'), await maintenanceRuns(1, 'skipped')];
    const done = await maintenanceRuns(0, 'done');
    const release = await holdMaintenance(repo);
    try {
      for (let i = 0; i < 4; i++) await push(work, i % 2, repo, { [`m-${i}.txt`]: `${i}\n` });
      await until('both nodes skip their runs', async () => (await maintenanceRuns(0, 'skipped')) >= skipped[0]! + 2 && (await maintenanceRuns(1, 'skipped')) >= skipped[1]! + 2);
      expect(packs(repo)).toHaveLength(4); // one per push (the creation's objects are loose): nothing rolled up
    } finally {
      await release();
    }
    // no push asks for it: the skipped runs are retried once the lock is free
    await until('a retried run rolls the packs up', () => packs(repo).length < 4);
    const head = await push(work, 0, repo, { 'm-last.txt': 'last\n' });
    await until('a run on node A', async () => (await maintenanceRuns(0, 'done')) > done);
    await until('the packs rolled up', () => packs(repo).length < 4);
    expect((await gitOk(['ls-remote', gitUrl(1, repo), 'refs/heads/main'])).split('\t')[0]).toBe(head);
    await fsck(repo);
  });

  it('a repack on A while B serves 6 full clones: every clone succeeds, old packs are retired aside and deleted after the grace', async () => {
    const repo = await createRepo(0);
    const work = tmpDir();
    await gitOk(['clone', '-q', gitUrl(0, repo), work]);
    const release = await holdMaintenance(repo);
    let head: string;
    try {
      // five equal packs of incompressible data: the geometric repack rolls them all up
      for (let i = 0; i < 5; i++) head = await push(work, 0, repo, { [`blob-${i}.bin`]: crypto.randomBytes(1024 * 1024) });
    } finally {
      await release();
    }
    const before = packs(repo);
    expect(before).toHaveLength(5);
    await gitOk(['clone', '-q', '--bare', gitUrl(1, repo), path.join(tmpDir(), 'warm.git')]); // B opens every pack
    const done = await maintenanceRuns(0, 'done');

    const clones = Array.from({ length: 6 }, () => git(['clone', '-q', '--bare', gitUrl(1, repo), path.join(tmpDir(), 'c.git')]));
    const last = await push(work, 0, repo, { 'trigger.txt': 'repack\n' }); // A's maintenance starts
    const results = await Promise.all(clones);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    await until('the repack on A', async () => (await maintenanceRuns(0, 'done')) > done);
    // the run renames the replaced packs one after another: wait for the roll-up to show whole
    await until('replaced packs renamed aside', () => before.filter((p) => !packs(repo).includes(p) && retired(repo).some((f) => f.startsWith(p))).length > 1);
    const rolled = before.filter((p) => !packs(repo).includes(p));
    expect(rolled.length).toBeGreaterThan(1);
    for (const p of rolled) expect(retired(repo).some((f) => f.startsWith(p)), `${p} retired, not deleted`).toBe(true);

    // B never listed the new pack: it finds it for a clone of what A wrote
    const check = path.join(tmpDir(), 'check.git');
    await gitOk(['clone', '-q', '--bare', gitUrl(1, repo), check]);
    expect(await gitOk(['--git-dir', check, 'rev-parse', 'HEAD'])).toContain(last);
    expect(await gitOk(['--git-dir', check, 'merge-base', '--is-ancestor', head!, 'HEAD'])).toBe('');

    // past the grace, the next run (on any node) deletes them
    const retiredAt = Math.max(...retired(repo).map((f) => Number(/\.retired-(\d+)$/.exec(f)![1])));
    await until('the grace to pass', () => Date.now() > retiredAt + GRACE_MS);
    const doneB = await maintenanceRuns(1, 'done');
    await push(work, 1, repo, { 'sweep.txt': 'sweep\n' });
    await until('a run on node B', async () => (await maintenanceRuns(1, 'done')) > doneB);
    await until('retired packs deleted', () => !retired(repo).some((f) => Number(/\.retired-(\d+)$/.exec(f)![1]) <= retiredAt));
    await fsck(repo);
  });
});
