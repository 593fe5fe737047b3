// Repository locks shared by every node of a cluster: PostgreSQL advisory locks, each held by
// an open transaction (pg_advisory_xact_lock) on a client of its own pool for as long as the
// holder runs (the shape of repo/repo-lock.ts SharedLocks, which service/context.ts hands them
// to). Transaction-scoped rather than session-scoped, so a PgBouncer in transaction mode keeps
// the lock and its release on one server connection, and nothing outlives the transaction.
// The pool bounds how many clients holders can tie up; a client whose query fails is destroyed
// rather than returned (its transaction, and so the lock, goes with it).
import crypto from 'node:crypto';
import type pg from 'pg';

export type ReleaseLock = () => Promise<void>;

/** The advisory lock key for a lock name: 64 bits of SHA-256, as a signed BIGINT (text). */
export function advisoryKey(name: string): string {
  return crypto.createHash('sha256').update(`gitgate-lock:${name}`).digest().readBigInt64BE(0).toString();
}

export class PgAdvisoryLocks {
  constructor(private readonly pool: pg.Pool) {}

  /** Wait until `name` is ours (another node may hold it); resolves to its release. */
  async acquire(name: string): Promise<ReleaseLock> {
    const key = advisoryKey(name);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [key]);
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    return releaser(client);
  }

  /** `name` if nobody holds it right now, else null. */
  async tryAcquire(name: string): Promise<ReleaseLock | null> {
    const key = advisoryKey(name);
    const client = await this.pool.connect();
    let ok: boolean;
    try {
      await client.query('BEGIN');
      ok = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS ok', [key])).rows[0]?.ok === true;
      if (!ok) await client.query('ROLLBACK');
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    if (!ok) {
      client.release();
      return null;
    }
    return releaser(client);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

function releaser(client: pg.PoolClient): ReleaseLock {
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    try {
      await client.query('ROLLBACK'); // nothing was written in it: ending it releases the lock
      client.release();
    } catch (err) {
      client.release(err as Error); // the connection goes, and the transaction's lock with it
    }
  };
}
