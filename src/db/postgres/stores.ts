// The PostgreSQL implementation of Stores (node-postgres, pooled). Opening is synchronous (like
// SQLite's) and migration is lazy: the first statement waits for runPgMigrations, which N nodes
// starting at once apply exactly once (an advisory lock).
import pg from 'pg';
import type { NodeRegistry, Stores, TxStores } from '../stores.js';
import { systemClock, type Clock } from '../time.js';
import { PgAdvisoryLocks } from './advisory-locks.js';
import { PgAuditStore } from './audit-store.js';
import { pgTypes, poolAccess, type PgAccess } from './conn.js';
import { runPgMigrations } from './migrations.js';
import { PgRepoStore } from './repo-store.js';
import { PgTokenStore } from './token-store.js';
import { PgWebhookStore } from './webhook-store.js';

export interface PostgresStoresOptions {
  /** Clock for repository timestamps (tests). */
  now?: Clock;
  /** Tables live in this schema (search_path); default: the server's default (public). */
  schema?: string;
  /** Pool size per process (default 10). */
  max?: number;
}

/** Clients per process holding repository write locks (more writers queue for a client). */
const WRITE_LOCK_CLIENTS = 5;
/** Clients per process holding maintenance locks (more runs queue; the repack worker runs one at a time anyway). */
const MAINTENANCE_LOCK_CLIENTS = 2;

function storesOver(access: PgAccess, now: Clock): Omit<TxStores, 'withTransaction'> {
  return {
    tokens: new PgTokenStore(access),
    repos: new PgRepoStore(access, now),
    audit: new PgAuditStore(access),
    webhooks: new PgWebhookStore(access),
  };
}

/** A pool for `url`, with BIGINT as number and an optional search_path. */
export function createPool(url: string, opts: { schema?: string; max?: number } = {}): pg.Pool {
  if (opts.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(opts.schema)) throw new Error(`invalid PostgreSQL schema name ${opts.schema}`);
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    types: pgTypes,
    ...(opts.schema !== undefined ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  // an idle client losing its connection (server restart) must not crash the process;
  // the next query reconnects or fails with its own error
  pool.on('error', () => {});
  return pool;
}

export class PostgresStores implements Stores, NodeRegistry {
  readonly kind = 'postgres';
  readonly tokens;
  readonly repos;
  readonly audit;
  readonly webhooks;
  readonly pool: pg.Pool;
  /**
   * Repository locks across nodes (repo/repo-lock.ts clusterLocker), each lane on a pool of its
   * own: read-modify-writes hold a client for milliseconds, maintenance for a whole repack, and
   * neither may starve the other or the stores.
   */
  readonly locks: { writes: PgAdvisoryLocks; maintenance: PgAdvisoryLocks };
  private readonly now: Clock;
  private migrated: Promise<void> | null = null;

  constructor(url: string, opts: PostgresStoresOptions = {}) {
    this.now = opts.now ?? systemClock;
    this.pool = createPool(url, opts);
    this.locks = {
      writes: new PgAdvisoryLocks(createPool(url, { max: WRITE_LOCK_CLIENTS })),
      maintenance: new PgAdvisoryLocks(createPool(url, { max: MAINTENANCE_LOCK_CLIENTS })),
    };
    ({ tokens: this.tokens, repos: this.repos, audit: this.audit, webhooks: this.webhooks } = storesOver(
      poolAccess(this.pool, () => this.ready()),
      this.now,
    ));
  }

  /** Resolves once the schema is current (migrating on first use); a failure is retried next time. */
  ready(): Promise<void> {
    this.migrated ??= runPgMigrations(this.pool).then(
      () => undefined,
      (err: unknown) => {
        this.migrated = null;
        throw err;
      },
    );
    return this.migrated;
  }

  async withTransaction<T>(fn: (tx: TxStores) => Promise<T>): Promise<T> {
    await this.ready();
    return poolAccess(this.pool, async () => {}).atomic(async (access) => {
      const tx: TxStores = {
        ...storesOver(access, this.now),
        withTransaction: (inner) => access.atomic(() => inner(tx)),
      };
      return fn(tx);
    });
  }

  /** Registers `nodeId` in gitgate_nodes and refreshes its heartbeat every `intervalMs` until
   *  the returned stop is called (or close()). Failed beats are retried at the next tick. */
  async startHeartbeat(nodeId: string, host: string, pid: number, intervalMs = 10_000): Promise<() => void> {
    await this.ready();
    await poolAccess(this.pool, async () => {}).atomic(async (q) => {
      await q.query(
        `INSERT INTO gitgate_nodes (node_id, host, pid) VALUES ($1, $2, $3)
         ON CONFLICT (node_id) DO UPDATE SET host = $2, pid = $3, started_at = now(), heartbeat_at = now()`,
        [nodeId, host, pid],
      );
      // requests a previous run under this id had in flight ended with it
      await q.query('DELETE FROM gitgate_inflight WHERE node_id = $1', [nodeId]);
    });
    const timer = setInterval(() => {
      this.pool.query('UPDATE gitgate_nodes SET heartbeat_at = now() WHERE node_id = $1', [nodeId]).catch(() => {});
    }, intervalMs);
    timer.unref();
    this.stopHeartbeat = () => clearInterval(timer);
    return this.stopHeartbeat;
  }

  private stopHeartbeat: () => void = () => {};

  /** Node ids whose heartbeat is younger than `maxAgeMs`, and those older (dead). */
  async nodes(maxAgeMs: number): Promise<{ live: string[]; dead: string[] }> {
    await this.ready();
    const { rows } = await this.pool.query<{ node_id: string; live: boolean }>(
      `SELECT node_id, heartbeat_at > now() - make_interval(secs => $1::float8 / 1000) AS live FROM gitgate_nodes ORDER BY node_id`,
      [maxAgeMs],
    );
    return { live: rows.filter((r) => r.live).map((r) => r.node_id), dead: rows.filter((r) => !r.live).map((r) => r.node_id) };
  }

  async forget(nodeIds: string[], maxAgeMs: number): Promise<number> {
    if (nodeIds.length === 0) return 0;
    await this.ready();
    const { rows } = await this.pool.query<{ n: number }>(
      `WITH gone AS (
         DELETE FROM gitgate_nodes WHERE node_id = ANY($1::text[]) AND heartbeat_at <= now() - make_interval(secs => $2::float8 / 1000)
         RETURNING node_id),
       flights AS (DELETE FROM gitgate_inflight WHERE node_id IN (SELECT node_id FROM gone))
       SELECT count(*)::int AS n FROM gone`,
      [nodeIds, maxAgeMs],
    );
    return rows[0]?.n ?? 0;
  }

  async ping(): Promise<void> {
    const { rows } = await this.pool.query<{ ok: number }>('SELECT 1 AS ok');
    if (rows[0]?.ok !== 1) throw new Error('PostgreSQL did not answer SELECT 1');
  }

  async close(): Promise<void> {
    this.stopHeartbeat();
    await Promise.all([this.pool.end(), this.locks.writes.close(), this.locks.maintenance.close()]);
  }
}

