// Opens the SQLite database gitgate keeps in its data directory (or in memory).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runMigrations, schemaVersion, LATEST_VERSION } from './migrations.js';
import { GitgateError } from '../../errors.js';

export type Db = Database.Database;

/** `file` is a path or ':memory:'. Applies pragmas, then migrations. */
export function openDatabase(file: string): Db {
  const inMemory = file === ':memory:';
  if (!inMemory) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    // SQLite creates the file 0644 & ~umask and gives -wal/-shm the mode of the database
    // file: a database created 0600 first keeps all three private.
    fs.closeSync(fs.openSync(file, 'a', PRIVATE_MODE));
    keepPrivate(file);
  }
  const db = new Database(file);
  try {
    // Refuse a newer schema before touching anything (WAL switch included).
    const found = schemaVersion(db);
    if (found > LATEST_VERSION) throw new GitgateError('DB_TOO_NEW', { found, supported: LATEST_VERSION });
    // The CLI and the server share the file: WAL lets readers run beside one writer, and
    // busy_timeout makes a brief write collision wait instead of failing.
    if (!inMemory) db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL'); // safe with WAL: a crash loses at most the last commits, never integrity
    runMigrations(db);
    if (!inMemory) keepPrivate(file); // -wal/-shm left by an older version with a wider mode
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

const PRIVATE_MODE = 0o600;

/** Token hashes and the audit trail are the owner's alone: the database and its -wal/-shm 0600. */
function keepPrivate(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((fs.statSync(f).mode & 0o777) !== PRIVATE_MODE) fs.chmodSync(f, PRIVATE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
