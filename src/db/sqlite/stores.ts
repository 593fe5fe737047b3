// The SQLite implementation of Stores: one better-sqlite3 connection (WAL, busy_timeout,
// migrations: database.ts) shared by the four stores.
import type { Stores, TxStores } from '../stores.js';
import { systemClock, type Clock } from '../time.js';
import { SqliteAuditStore } from './audit-store.js';
import { inside, outside, SqliteConn, type SqliteAccess } from './conn.js';
import { openDatabase, type Db } from './database.js';
import { SqliteRepoStore } from './repo-store.js';
import { SqliteTokenStore } from './token-store.js';
import { SqliteWebhookStore } from './webhook-store.js';

export interface SqliteStoresOptions {
  /** Clock for repository timestamps (tests). */
  now?: Clock;
}

function storesOver(access: SqliteAccess, now: Clock): Omit<TxStores, 'withTransaction'> {
  return {
    tokens: new SqliteTokenStore(access),
    repos: new SqliteRepoStore(access, now),
    audit: new SqliteAuditStore(access),
    webhooks: new SqliteWebhookStore(access),
  };
}

export class SqliteStores implements Stores {
  readonly kind = 'sqlite';
  readonly tokens;
  readonly repos;
  readonly audit;
  readonly webhooks;
  private readonly conn: SqliteConn;
  private readonly tx: TxStores;

  /** `file`: a path, or ':memory:'. */
  constructor(file: string, opts: SqliteStoresOptions = {}) {
    const now = opts.now ?? systemClock;
    this.conn = new SqliteConn(openDatabase(file));
    ({ tokens: this.tokens, repos: this.repos, audit: this.audit, webhooks: this.webhooks } = storesOver(outside(this.conn), now));
    const tx: TxStores = {
      ...storesOver(inside(this.conn), now),
      withTransaction: (fn) => this.conn.savepoint(() => fn(tx)),
    };
    this.tx = tx;
  }

  /** The connection itself, for SQLite-only tools and tests (never for code above db/). */
  get db(): Db {
    return this.conn.db;
  }

  withTransaction<T>(fn: (tx: TxStores) => Promise<T>): Promise<T> {
    return this.conn.transaction(() => fn(this.tx));
  }

  async ping(): Promise<void> {
    const row = await this.conn.run(() => this.conn.db.prepare('SELECT 1 AS ok').get() as { ok: number } | undefined);
    if (row?.ok !== 1) throw new Error('SQLite did not answer SELECT 1');
  }

  async close(): Promise<void> {
    await this.conn.run(() => this.conn.db.close());
  }
}
