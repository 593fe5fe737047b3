// Which Stores implementation a configuration gets. SQLite (a file in the data directory, or
// ':memory:') is the embedded default; a PostgreSQL URL selects db/postgres/ (several nodes).
import type { GuardStore, Stores, ThrottleRule } from './stores.js';
import { SqliteStores } from './sqlite/stores.js';
import { PostgresStores } from './postgres/stores.js';
import { MemoryGuardStore } from './memory-guard-store.js';
import { PgGuardStore } from './postgres/guard-store.js';
import { poolAccess } from './postgres/conn.js';
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

/** Throttle and per-token concurrency counts: shared through PostgreSQL when the stores are
 *  (every node of a cluster sees the same counts), in process otherwise. */
export function openGuardStore(stores: Stores, rule: ThrottleRule, node: { nodeId: string; nodeExpiryMs: number }): GuardStore {
  if (stores instanceof PostgresStores) return new PgGuardStore(poolAccess(stores.pool, () => stores.ready()), { ...rule, ...node });
  return new MemoryGuardStore(rule);
}
