// The shared store conformance suite (store-suite.ts) against SQLite: a database file (with a
// second connection, as the CLI or another process would open) and :memory:.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStores } from '../../src/db/sqlite/stores.js';
import { storeConformanceSuite } from './store-suite.js';

storeConformanceSuite('SQLite file', async ({ now }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-stores-'));
  const file = path.join(dir, 'gitgate.db');
  return Object.assign(new SqliteStores(file, { now }), {
    reopen: async () => new SqliteStores(file, { now }),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  });
});

storeConformanceSuite('SQLite :memory:', async ({ now }) => new SqliteStores(':memory:', { now }));
