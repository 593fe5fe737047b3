// Every row of a SQLite database, table by table in insertion order (for `gitgate db copy`).
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { GitgateError } from '../../errors.js';
import { COPIED_TABLES, type TableRows } from '../copy.js';
import { LATEST_VERSION, schemaVersion } from './migrations.js';

export function exportSqlite(file: string): TableRows {
  if (!fs.existsSync(file)) throw new GitgateError('CONFIG', { detail: `no SQLite database at ${file}` });
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const found = schemaVersion(db);
    if (found !== LATEST_VERSION) {
      throw new GitgateError('CONFIG', { detail: `the SQLite database is at schema version ${found}, this gitgate copies ${LATEST_VERSION}: run gitgate serve or gitgate migrate on it first` });
    }
    // one read transaction: a consistent snapshot even while a server writes (WAL)
    return db.transaction(() => Object.fromEntries(COPIED_TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()])) as TableRows)();
  } finally {
    db.close();
  }
}
