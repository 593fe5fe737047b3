// How the PostgreSQL stores reach the database: through the pool (each statement on any free
// connection), or, inside Stores.withTransaction, through the one client holding the
// transaction. `atomic` runs a group of statements as one unit either way: its own
// transaction on a pooled client, or a savepoint inside the caller's transaction.
import pg from 'pg';

export type Row = Record<string, unknown>;

export interface PgAccess {
  query<R extends Row = Row>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  atomic<T>(fn: (q: PgAccess) => Promise<T>): Promise<T>;
}

/** Advisory lock keys (transaction scope) serialising what must follow commit order. */
export const LOCKS = {
  /** Audit appends: ids are taken under it, so they follow commit order. */
  audit: 0x67676101,
  /** Mints, rotations and revocations: a chain check and the write it guards are one step. */
  tokenTree: 0x67676102,
  /** Repository creation: the name/id cross-checks and the insert are one step. */
  repoNames: 0x67676103,
  /** Failed authentications of one client key (with hashtext(key) as the second half). */
  authFailures: 0x67676104,
} as const;

export function poolAccess(pool: pg.Pool, ready: () => Promise<void>): PgAccess {
  return {
    async query(sql, params) {
      await ready();
      return pool.query(sql, params);
    },
    async atomic(fn) {
      await ready();
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        try {
          const result = await fn(clientAccess(client));
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      } finally {
        client.release();
      }
    },
  };
}

/** A client inside an open transaction: nested atomic groups are savepoints. */
export function clientAccess(client: pg.PoolClient): PgAccess {
  let savepoints = 0;
  const access: PgAccess = {
    query: (sql, params) => client.query(sql, params),
    async atomic(fn) {
      const name = `sp_${++savepoints}`;
      await client.query(`SAVEPOINT ${name}`);
      try {
        const result = await fn(access);
        await client.query(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (err) {
        await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
        await client.query(`RELEASE SAVEPOINT ${name}`);
        throw err;
      }
    },
  };
  return access;
}

/** BIGINT columns come back as numbers (ids, ms timestamps stay far below 2^53). */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return typeof e === 'object' && e !== null && e.code === '23505' && (constraint === undefined || e.constraint === constraint);
}
