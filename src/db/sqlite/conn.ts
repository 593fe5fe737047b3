// One better-sqlite3 connection shared by the SQLite stores. better-sqlite3 is synchronous, so
// a statement group never interleaves with another; the one thing to serialise is an explicit
// transaction (Stores.withTransaction), which spans awaits: while it is open, every other
// caller waits for it to end instead of running inside it.
import type Database from 'better-sqlite3';
import type { Db } from './database.js';

type Statement = Database.Statement<unknown[]>;

export class SqliteConn {
  private readonly statements = new Map<string, Statement>();
  /** Settles when the open explicit transaction ends (null: none open). */
  private txDone: Promise<void> | null = null;
  private savepoints = 0;

  constructor(readonly db: Db) {}

  /** A prepared statement, prepared once per connection. */
  prepare(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  /** `fn` against the connection, after any explicit transaction another caller holds. */
  async run<T>(fn: () => T): Promise<T> {
    while (this.txDone) await this.txDone;
    return fn();
  }

  /** `fn` inside BEGIN IMMEDIATE … COMMIT, holding the connection until it settles. */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    while (this.txDone) await this.txDone;
    let end!: () => void;
    this.txDone = new Promise((resolve) => (end = resolve));
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn();
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.txDone = null;
      end();
    }
  }

  /** Inside a transaction: `fn` under a savepoint, rolled back alone when it throws. */
  async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const name = `sp_${++this.savepoints}`;
    this.db.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn();
      this.db.exec(`RELEASE ${name}`);
      return result;
    } catch (err) {
      this.db.exec(`ROLLBACK TO ${name}`);
      this.db.exec(`RELEASE ${name}`);
      throw err;
    }
  }
}

/** How a store reaches the connection: `outside` waits for another caller's transaction;
 *  `inside` (the `tx` a transaction hands out) runs at once. */
export interface SqliteAccess {
  conn: SqliteConn;
  run<T>(fn: () => T): Promise<T>;
}

export function outside(conn: SqliteConn): SqliteAccess {
  return { conn, run: (fn) => conn.run(fn) };
}

export function inside(conn: SqliteConn): SqliteAccess {
  return { conn, run: async (fn) => fn() };
}
