// Cost of TokenService.verify: N verifications of a cached token (one primary-key read per
// request) and of an uncached one (bcrypt each time), on a SQLite file in a temp directory.
//   node scripts/bench-verify.mjs [DIST_DIR]   (default ./dist; run `npm run build` first)
// DIST_DIR may be an older build (before the store interfaces: TokenService took the database).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = path.resolve(process.argv[2] ?? 'dist');
const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);
const { TokenService } = await load('auth/token-service.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-bench-verify-'));
const file = path.join(dir, 'gitgate.db');

let service;
let close;
if (fs.existsSync(path.join(dist, 'db/sqlite/stores.js'))) {
  const { SqliteStores } = await load('db/sqlite/stores.js');
  const stores = new SqliteStores(file);
  service = (opts) => new TokenService(stores, opts);
  close = () => stores.close();
} else {
  const { openDatabase } = await load('db/database.js');
  const db = openDatabase(file);
  service = (opts) => new TokenService(db, opts);
  close = () => db.close();
}

const ROUNDS = 8;
const cached = service({ bcryptRounds: ROUNDS });
const uncached = service({ bcryptRounds: ROUNDS, cacheTtlMs: 0 });
const { secret } = await cached.create({ kind: 'workspace', name: 'bench' }, null);

async function time(label, n, fn) {
  for (let i = 0; i < Math.min(n, 50); i++) await fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (!(await fn())) throw new Error('verification failed');
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  console.log(`${label.padEnd(28)} ${String(n).padStart(6)} × ${us.toFixed(2).padStart(9)} µs`);
}

await time('verify, cached', 50_000, () => cached.verify(secret, '127.0.0.1'));
await time(`verify, uncached (bcrypt ${ROUNDS})`, 100, () => uncached.verify(secret, '127.0.0.1'));
await close();
fs.rmSync(dir, { recursive: true, force: true });
