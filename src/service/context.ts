// Everything one gitgate instance needs, wired once, shared by the HTTP server and the CLI.
import path from 'node:path';
import fs from 'node:fs';
import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';
import { openDatabase, type Db } from '../db/database.js';
import { ReposTable } from '../db/repos-table.js';
import { TokenService } from '../auth/token-service.js';
import { RepoManager } from '../repo/repo-manager.js';
import { memoryStorage, nodeStorage, type Storage } from '../repo/storage.js';

export interface Context {
  config: Config;
  db: Db;
  storage: Storage;
  repos: ReposTable;
  tokens: TokenService;
  manager: RepoManager;
  log: Logger;
  close(): Promise<void>;
}

export const DB_FILE = 'gitgate.db';

export function createLogger(level: string): Logger {
  // Logs go to stderr: stdout carries what scripts read (the listening line, secrets).
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));
}

export function createContext(config: Config, log: Logger = createLogger(config.logLevel)): Context {
  let storage: Storage;
  let db: Db;
  if (config.memory) {
    storage = memoryStorage('/data');
    db = openDatabase(':memory:');
  } else {
    fs.mkdirSync(config.dataDir, { recursive: true });
    storage = nodeStorage(config.dataDir);
    db = openDatabase(path.join(config.dataDir, DB_FILE));
  }
  const manager = new RepoManager(storage);
  return {
    config,
    db,
    storage,
    repos: new ReposTable(db),
    tokens: new TokenService(db, { bcryptRounds: config.bcryptRounds, cacheTtlMs: config.tokenCacheTtlMs }),
    manager,
    log,
    async close() {
      await manager.closeAll();
      db.close();
    },
  };
}
