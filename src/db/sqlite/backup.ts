// A consistent copy of a live SQLite database through SQLite's online backup API: it copies
// page by page and restarts when another connection (the running server) writes meanwhile, so
// the copy is always one committed state, WAL included.
import fs from 'node:fs';
import Database from 'better-sqlite3';

export async function backupDatabase(source: string, destination: string): Promise<void> {
  // the copy holds token hashes and the audit trail: private before the first page lands
  fs.closeSync(fs.openSync(destination, 'wx', 0o600));
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(destination);
  } finally {
    db.close();
  }
}

/** The repositories recorded in a database file: id and name. */
export function listRepoRows(file: string): { id: string; name: string | null }[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, name FROM repos ORDER BY created_at, rowid').all() as { id: string; name: string | null }[];
  } finally {
    db.close();
  }
}
