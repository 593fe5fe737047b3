// Cost per request of the control plane, SQLite vs PostgreSQL (README § Running several nodes).
// Needs `npm run build`. Usage:
//   node scripts/store-cost.mjs [postgres://…] [--n N] [--requests N] [--pushes N]
//     (default postgres://postgres@127.0.0.1:5432/test: a schema and a database are made there
//     for the run and dropped after)
//
// 1. Store calls, in process: what token verification reads (TokenStore.getWithHashes), the
//    last-use write (markUsed), and what a ref update writes (AuditStore.append + RepoStore.touch).
// 2. TokenService.verify, in process: cached (one row read per request) and uncached (bcrypt,
//    at the server's default cost, on every request).
// 3. Whole requests through one `gitgate serve` on each store: an authenticated GET
//    (verification, cached), a REST file write (PUT …/file/…: one commit, one ref update)
//    and a push of one commit. Wall time per request, and server CPU per request: the node's
//    process and, for PostgreSQL, the backends serving its database (bench-cluster.mjs).
// Sequential requests, medians (wall) and totals / N (CPU, whose clock ticks are 10 ms).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { CpuMeter } from './bench-cpu.mjs';
import { createBenchDatabase, PostgresCpu } from './bench-cluster.mjs';
import { spawnServer, stopChild } from './bench-servers.mjs';
import { gitEnv, median, mkdirp, rmrf, run } from './bench-util.mjs';
import { SqliteStores } from '../dist/db/sqlite/stores.js';
import { PostgresStores } from '../dist/db/postgres/stores.js';
import { TokenService } from '../dist/auth/token-service.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { n: { type: 'string' }, requests: { type: 'string' }, pushes: { type: 'string' } },
});
const url = positionals[0] ?? process.env.GITGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(values.n ?? process.env.N ?? 2000);
const REQUESTS = Number(values.requests ?? 300);
const PUSHES = Number(values.pushes ?? 30);
const BCRYPT_ROUNDS = 10; // the server's default (GITGATE_BCRYPT_ROUNDS)

const us = (n) => `${n.toFixed(0).padStart(6)} µs`;
const ms = (n) => (n == null ? '     —' : `${n.toFixed(2).padStart(6)} ms`);

async function timed(n, fn) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return Number(process.hrtime.bigint() - t) / 1e3 / n;
}

// ------------------------------------------------------------------ 1 and 2: in process

async function inProcess(name, stores) {
  const at = new Date().toISOString();
  await stores.repos.insert({ id: 'bench-repo' });
  const token = { id: 'tok_bench', kind: 'repo', permission: 'write', name: 'bench', repo_ids: ['bench-repo'], refs: [], allow_force: true, allow_delete: true, created_at: at, expires_at: null, revoked_at: null, last_used_at: null, last_used_ip: null, created_by: null };
  await stores.tokens.insert(token, 'hash', at);
  const event = { at, action: 'ref.update', actor_token_id: token.id, client_ip: '127.0.0.1', repo_ids: ['bench-repo'], ref: 'refs/heads/main', old_oid: null, new_oid: 'a'.repeat(40), target_token_id: null, detail: { via: 'push' } };
  for (let i = 0; i < 200; i++) await stores.tokens.getWithHashes(token.id); // warm up
  const read = await timed(N, () => stores.tokens.getWithHashes(token.id));
  const used = await timed(N, () => stores.tokens.markUsed(token.id, at, '127.0.0.1'));
  const update = await timed(N, async () => { await stores.audit.append([event]); await stores.repos.touch('bench-repo'); });

  const cached = new TokenService(stores, { bcryptRounds: BCRYPT_ROUNDS });
  const uncached = new TokenService(stores, { bcryptRounds: BCRYPT_ROUNDS, cacheTtlMs: 0 });
  const { secret } = await cached.create({ kind: 'workspace', name: 'bench' }, null);
  const verify = (svc) => async () => { if (!(await svc.verify(secret, '127.0.0.1'))) throw new Error('verification failed'); };
  await timed(50, verify(cached));
  const vCached = await timed(N, verify(cached));
  const vUncached = await timed(Math.max(10, Math.round(N / 50)), verify(uncached));
  console.log(`${name.padEnd(11)} ${us(read)} ${us(used)} ${us(update)}   ${us(vCached)} ${us(vUncached)}`);
}

// ------------------------------------------------------------------ 3: through gitgate serve

/** Per-request wall (median, ms) and CPU (total / n, ms) of `fn` run n times, one after the other. */
async function perRequest(n, meters, fn) {
  const walls = [];
  for (const m of meters) m.start();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    walls.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const cpu = await Promise.all(meters.map((m) => m.stop()));
  return { wall: median(walls), cpu: cpu.map((c) => (c == null ? null : c / n)) };
}

async function throughServe(name, dir, env, pgDatabase) {
  const data = mkdirp(path.join(dir, 'data'));
  const { child, url: base } = await spawnServer(process.execPath, [path.join(ROOT, 'bin', 'gitgate.js'), 'serve', '--port', '0', '--data', data],
    { cwd: ROOT, env, logFile: path.join(dir, 'serve.log') });
  try {
    const admin = fs.readFileSync(path.join(data, 'bootstrap-token'), 'utf8').trim();
    const api = async (route, init = {}) => {
      const res = await fetch(`${base}${route}`, { ...init, headers: { Authorization: `Bearer ${admin}`, ...init.headers } });
      const body = await res.text();
      if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${route}: ${res.status} ${body.slice(0, 200)}`);
      return body;
    };
    const created = JSON.parse(await api('/v1/repo', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: { type: 'files', files: [{ filename: 'README', content: 'base\n' }] } }) }));
    const repo = created.repo_id;
    const meters = [new CpuMeter(child.pid, { includeSelf: true }), ...(pgDatabase ? [new PostgresCpu(pgDatabase)] : [])];
    const row = (label, r) => console.log(`${name.padEnd(11)} ${label.padEnd(26)} ${ms(r.wall)}   ${ms(r.cpu[0])} ${pgDatabase ? ms(r.cpu[1]) : '     —'}`);

    for (let i = 0; i < 50; i++) await api(`/v1/repo/${repo}`); // warm up: JIT, the token cache
    row('authenticated GET', await perRequest(REQUESTS, meters, () => api(`/v1/repo/${repo}`)));
    row('REST file write (PUT)', await perRequest(Math.max(10, Math.round(REQUESTS / 3)), meters, (i) => api(`/v1/repo/${repo}/file/rest-${i}.txt`,
      { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: `write ${i}\n` })));

    const genv = gitEnv(path.join(dir, 'git'), { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@bench', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@bench' });
    const remote = new URL(`${base}/v1/repo/${repo}.git`);
    remote.username = 'token';
    remote.password = admin;
    const work = path.join(dir, 'work');
    await run('git', ['clone', '-q', remote.toString(), work], { env: genv });
    const commit = async (i) => {
      fs.writeFileSync(path.join(work, `push-${i}.txt`), `push ${i}\n`);
      await run('git', ['-C', work, 'add', '-A'], { env: genv });
      await run('git', ['-C', work, 'commit', '-q', '-m', `push ${i}`], { env: genv });
    };
    const push = () => run('git', ['-C', work, '-c', 'gc.auto=0', 'push', '-q', 'origin', 'HEAD:refs/heads/bench'], { env: genv });
    await commit('warm');
    await push();
    // the commits are made between pushes, outside the measured window: only the pushes are timed
    const walls = [];
    const cpu = meters.map(() => 0);
    for (let i = 0; i < PUSHES; i++) {
      await commit(i);
      const r = await perRequest(1, meters, push);
      walls.push(r.wall);
      r.cpu.forEach((c, k) => { cpu[k] += c ?? 0; });
    }
    row('push of one commit', { wall: median(walls), cpu: cpu.map((c) => c / PUSHES) });
    const fsck = await run('git', ['--git-dir', path.join(data, `${repo}.git`), 'fsck', '--full', '--no-dangling'], { allowFail: true, env: genv });
    if (fsck.code !== 0) throw new Error(`git fsck of the ${name} repository failed: ${fsck.stderr}`);
  } finally {
    await stopChild(child);
  }
}

// ------------------------------------------------------------------ main

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-cost-'));
const schema = `gg_cost_${process.pid}`;
const admin = new pg.Client({ connectionString: url });
let database = null;
try {
  console.log(`# store calls and TokenService.verify, in process (N = ${N}; bcrypt cost ${BCRYPT_ROUNDS} uncached)`);
  console.log(`${''.padEnd(11)} ${'token read'.padStart(9)} ${'last-use'.padStart(9)} ${'ref update'.padStart(9)}   ${'verify'.padStart(9)} ${'uncached'.padStart(9)}`);
  const sqlite = new SqliteStores(path.join(dir, 'gitgate.db'));
  await inProcess('SQLite', sqlite);
  await sqlite.close();
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const postgres = new PostgresStores(url, { schema });
  await inProcess('PostgreSQL', postgres);
  await postgres.close();

  console.log(`\n# whole requests through one \`gitgate serve\` (${REQUESTS} GETs, ${Math.max(10, Math.round(REQUESTS / 3))} PUTs, ${PUSHES} pushes, one after the other)`);
  console.log(`${''.padEnd(11)} ${'request'.padEnd(26)} ${'wall p50'.padStart(9)}   ${'node CPU'.padStart(9)} ${'PG CPU'.padStart(9)}`);
  const env = { ...process.env };
  delete env.GITGATE_DATABASE_URL;
  delete env.GITGATE_MEMORY;
  await throughServe('SQLite', mkdirp(path.join(dir, 'sqlite')), env, null);
  database = await createBenchDatabase(url);
  await throughServe('PostgreSQL', mkdirp(path.join(dir, 'postgres')), { ...env, GITGATE_DATABASE_URL: database.url, GITGATE_NODE_ID: 'cost-1' }, database.name);
  console.log(`\nload average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, ${os.cpus().length} CPUs; PostgreSQL ${new URL(url).host}`);
} finally {
  await database?.drop().catch(() => {});
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
  await admin.end().catch(() => {});
  rmrf(dir);
}
