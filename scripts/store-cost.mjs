// Cost per request of the control plane, SQLite vs PostgreSQL: what token verification reads
// (TokenStore.getWithHashes + markUsed) and what a ref update writes (AuditStore.append +
// RepoStore.touch). Needs `npm run build`. Usage:
//   node scripts/store-cost.mjs [postgres://…]   (default postgres://postgres@127.0.0.1:5432/test)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SqliteStores } from '../dist/db/sqlite/stores.js';
import { PostgresStores } from '../dist/db/postgres/stores.js';

const url = process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.N ?? 2000);

async function measure(name, stores) {
  const at = new Date().toISOString();
  await stores.repos.insert({ id: 'bench-repo' });
  const token = { id: 'tok_bench', kind: 'repo', permission: 'write', name: 'bench', repo_ids: ['bench-repo'], refs: [], allow_force: true, allow_delete: true, created_at: at, expires_at: null, revoked_at: null, last_used_at: null, last_used_ip: null, created_by: null };
  await stores.tokens.insert(token, 'hash', at);
  const event = { at, action: 'ref.update', actor_token_id: token.id, client_ip: '127.0.0.1', repo_ids: ['bench-repo'], ref: 'refs/heads/main', old_oid: null, new_oid: 'a'.repeat(40), target_token_id: null, detail: { via: 'push' } };
  for (let i = 0; i < 200; i++) await stores.tokens.getWithHashes(token.id); // warm up
  let t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await stores.tokens.getWithHashes(token.id);
  const read = Number(process.hrtime.bigint() - t) / 1e3 / N;
  t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await stores.tokens.markUsed(token.id, at, '127.0.0.1');
  const used = Number(process.hrtime.bigint() - t) / 1e3 / N;
  t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    await stores.audit.append([event]);
    await stores.repos.touch('bench-repo');
  }
  const update = Number(process.hrtime.bigint() - t) / 1e3 / N;
  const us = (n) => `${n.toFixed(0).padStart(6)} µs`;
  console.log(`${name.padEnd(12)} token read ${us(read)}   last-use write ${us(used)}   ref update (audit append + touch) ${us(update)}`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-cost-'));
const sqlite = new SqliteStores(path.join(dir, 'gitgate.db'));
await measure('SQLite', sqlite);
await sqlite.close();
fs.rmSync(dir, { recursive: true, force: true });

const schema = `gg_cost_${process.pid}`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
try {
  const postgres = new PostgresStores(url, { schema });
  await measure('PostgreSQL', postgres);
  await postgres.close();
} finally {
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}
