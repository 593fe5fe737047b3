// GuardStore over PostgreSQL UNLOGGED tables (migration 5), shared by every node: failed
// authentications per client key with their blocks, and requests in flight per (token, node).
// Times come from the database's clock, so nodes with skewed clocks agree on windows.
// In-flight counts of a node whose heartbeat has expired stop counting at once and are
// deleted with its row (PostgresStores.forget).
import type { GuardStore, ThrottleRule } from '../stores.js';
import { LOCKS, type PgAccess } from './conn.js';

const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

export interface PgGuardOptions extends ThrottleRule {
  nodeId: string;
  /** A heartbeat older than this: the node's in-flight counts no longer count. */
  nodeExpiryMs: number;
}

export class PgGuardStore implements GuardStore {
  private seen = { tracked: 0, blocked: 0 };

  constructor(
    private readonly db: PgAccess,
    private readonly opts: PgGuardOptions,
  ) {}

  async blockedFor(key: string): Promise<number> {
    const { rows } = await this.db.query<{ left: number }>(`SELECT until_ms - ${NOW_MS} AS left FROM gitgate_auth_bans WHERE key = $1`, [key]);
    return Math.max(0, rows[0]?.left ?? 0);
  }

  fail(key: string): Promise<number> {
    const { limit, windowMs, banMs } = this.opts;
    return this.db.atomic(async (q) => {
      // one key's failures are counted one at a time, whichever node they reach
      await q.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCKS.authFailures, key]);
      const { rows } = await q.query<{ now: number; until_ms: number | null }>(
        `SELECT ${NOW_MS} AS now, (SELECT until_ms FROM gitgate_auth_bans WHERE key = $1) AS until_ms`,
        [key],
      );
      const { now, until_ms: until } = rows[0]!;
      if (until !== null && until > now) return until - now;
      await q.query('DELETE FROM gitgate_auth_failures WHERE key = $1 AND at_ms <= $2', [key, now - windowMs]);
      const counted = await q.query<{ n: number }>(
        `WITH added AS (INSERT INTO gitgate_auth_failures (key, at_ms) VALUES ($1, $2))
         SELECT count(*)::int + 1 AS n FROM gitgate_auth_failures WHERE key = $1`,
        [key, now],
      );
      if (counted.rows[0]!.n < limit) return 0;
      // blocked: the count starts afresh after the block
      await q.query('DELETE FROM gitgate_auth_failures WHERE key = $1', [key]);
      await q.query('INSERT INTO gitgate_auth_bans (key, until_ms) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET until_ms = $2', [key, now + banMs]);
      return banMs;
    });
  }

  // Optimistic: take the slot, then count. Two racing requests may both see the other and both
  // be refused (one retry later), but never more than `limit` run: each admitted one counted
  // every slot taken before its own.
  async admit(tokenId: string, limit: number): Promise<boolean> {
    await this.db.query(
      `INSERT INTO gitgate_inflight (token_id, node_id, n) VALUES ($1, $2, 1)
       ON CONFLICT (token_id, node_id) DO UPDATE SET n = gitgate_inflight.n + 1`,
      [tokenId, this.opts.nodeId],
    );
    if ((await this.inflight(tokenId)) <= limit) return true;
    await this.release(tokenId);
    return false;
  }

  async release(tokenId: string): Promise<void> {
    await this.db.query('UPDATE gitgate_inflight SET n = n - 1 WHERE token_id = $1 AND node_id = $2 AND n > 0', [tokenId, this.opts.nodeId]);
  }

  async inflight(tokenId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT COALESCE(sum(i.n), 0)::int AS n FROM gitgate_inflight i
       WHERE i.token_id = $1 AND (i.node_id = $2 OR EXISTS (
         SELECT 1 FROM gitgate_nodes g WHERE g.node_id = i.node_id AND g.heartbeat_at > now() - make_interval(secs => $3::float8 / 1000)))`,
      [tokenId, this.opts.nodeId, this.opts.nodeExpiryMs],
    );
    return rows[0]!.n;
  }

  async prune(): Promise<void> {
    const { rows } = await this.db.query<{ tracked: number; blocked: number }>(
      `WITH f AS (DELETE FROM gitgate_auth_failures WHERE at_ms <= ${NOW_MS} - $1),
            b AS (DELETE FROM gitgate_auth_bans WHERE until_ms <= ${NOW_MS}),
            i AS (DELETE FROM gitgate_inflight WHERE n = 0)
       SELECT (SELECT count(DISTINCT key) FROM gitgate_auth_failures WHERE at_ms > ${NOW_MS} - $1)::int AS tracked,
              (SELECT count(*) FROM gitgate_auth_bans WHERE until_ms > ${NOW_MS})::int AS blocked`,
      [this.opts.windowMs],
    );
    this.seen = rows[0]!;
  }

  stats(): { tracked: number; blocked: number } {
    return this.seen;
  }
}
