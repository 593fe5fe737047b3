// Which Stores implementation a configuration gets. SQLite (a file in the data directory, or
// ':memory:') is the embedded default; another implementation is chosen here.
import type { Stores } from './stores.js';
import { SqliteStores, type SqliteStoresOptions } from './sqlite/stores.js';

export interface StoresLocation {
  /** A SQLite database file, or ':memory:'. */
  sqliteFile: string;
}

export function openStores(where: StoresLocation, opts: SqliteStoresOptions = {}): Stores {
  return new SqliteStores(where.sqliteFile, opts);
}
