// Which Stores implementation a configuration gets. SQLite (a file in the data directory, or
// ':memory:') is the embedded default; a PostgreSQL URL selects db/postgres/ (several nodes).
import type { Stores } from './stores.js';
import { SqliteStores } from './sqlite/stores.js';
import { PostgresStores } from './postgres/stores.js';
import type { Clock } from './time.js';

export interface StoresLocation {
  /** A SQLite database file, or ':memory:' (when databaseUrl is null). */
  sqliteFile: string;
  /** postgres://… : PostgreSQL instead of SQLite. */
  databaseUrl?: string | null;
}

export function openStores(where: StoresLocation, opts: { now?: Clock } = {}): Stores {
  if (where.databaseUrl) return new PostgresStores(where.databaseUrl, opts);
  return new SqliteStores(where.sqliteFile, opts);
}
