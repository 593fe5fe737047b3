// PostgreSQL schema migrations: the same tables as SQLite (db/sqlite/migrations.ts), in
// PostgreSQL's dialect. Append only. The applied versions live in gitgate_migrations; N nodes
// starting at once serialise on one advisory lock, so each migration is applied exactly once.
import type pg from 'pg';
import { GitgateError } from '../../errors.js';

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

/** Session advisory lock held while migrating (an arbitrary constant: "gitgate migrate"). */
export const MIGRATION_LOCK = 0x67676d31;

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'repos, tokens, token scopes, protected refs',
    sql: `
      -- seq: insertion order, the tie-break SQLite gets from rowid
      CREATE TABLE repos (
        seq            BIGSERIAL UNIQUE,
        id             TEXT PRIMARY KEY,
        name           TEXT CONSTRAINT repos_name_key UNIQUE,
        metadata       JSON,
        default_branch TEXT NOT NULL DEFAULT 'main',
        created_at     TEXT NOT NULL,
        updated_at     TEXT
      );
      CREATE INDEX repos_created_at ON repos (created_at, seq);
      CREATE INDEX repos_updated_at ON repos ((COALESCE(updated_at, created_at)), seq);

      CREATE TABLE tokens (
        seq               BIGSERIAL UNIQUE,
        id                TEXT PRIMARY KEY,
        kind              TEXT NOT NULL CHECK (kind IN ('workspace', 'repo')),
        permission        TEXT NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
        name              TEXT NOT NULL,
        secret_hash       TEXT NOT NULL,
        created_at        TEXT NOT NULL,
        expires_at        TEXT,
        revoked_at        TEXT,
        last_used_at      TEXT,
        last_used_ip      TEXT,
        created_by        TEXT REFERENCES tokens (id),
        refs              JSON NOT NULL DEFAULT '[]',
        allow_force       BOOLEAN NOT NULL DEFAULT TRUE,
        allow_delete      BOOLEAN NOT NULL DEFAULT TRUE,
        prev_secret_hash  TEXT,
        prev_secret_until TEXT,
        rotated_at        TEXT
      );
      CREATE INDEX tokens_created_by ON tokens (created_by);
      CREATE INDEX tokens_created_at ON tokens (created_at, seq);

      CREATE TABLE token_repos (
        seq      BIGSERIAL,
        token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
        repo_id  TEXT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
        PRIMARY KEY (token_id, repo_id)
      );
      CREATE INDEX token_repos_repo_id ON token_repos (repo_id);

      CREATE TABLE protected_refs (
        seq     BIGSERIAL,
        repo_id TEXT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
        pattern TEXT NOT NULL,
        PRIMARY KEY (repo_id, pattern)
      );
    `,
  },
  {
    version: 2,
    name: 'audit events',
    sql: `
      -- ids follow commit order: appends hold an advisory transaction lock (audit-store.ts)
      CREATE TABLE audit_events (
        id              BIGSERIAL PRIMARY KEY,
        at              TEXT NOT NULL,
        action          TEXT NOT NULL,
        actor_token_id  TEXT,
        client_ip       TEXT,
        repo_id         TEXT,
        repo_ids        JSONB NOT NULL DEFAULT '[]',
        ref             TEXT,
        old_oid         TEXT,
        new_oid         TEXT,
        target_token_id TEXT,
        detail          JSON
      );
      CREATE INDEX audit_events_repo_id ON audit_events (repo_id, id);
      CREATE INDEX audit_events_at ON audit_events (at);
    `,
  },
  {
    version: 3,
    name: 'webhooks and their durable delivery queue',
    sql: `
      CREATE TABLE webhooks (
        id          TEXT PRIMARY KEY,
        url         TEXT NOT NULL,
        repo_id     TEXT,
        events      JSON NOT NULL,
        secret      TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        after_event BIGINT NOT NULL
      );
      CREATE INDEX webhooks_repo_id ON webhooks (repo_id);

      CREATE TABLE webhook_deliveries (
        id              TEXT PRIMARY KEY,
        webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        event_id        BIGINT NOT NULL,
        event_type      TEXT NOT NULL,
        body            TEXT NOT NULL,
        state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        first_at        BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        UNIQUE (webhook_id, event_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

      CREATE TABLE webhook_attempts (
        id          BIGSERIAL PRIMARY KEY,
        delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        webhook_id  TEXT NOT NULL,
        attempt     INTEGER NOT NULL,
        at          TEXT NOT NULL,
        status_code INTEGER,
        duration_ms INTEGER NOT NULL,
        error       TEXT
      );
      CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook_id, id);
      CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

      CREATE TABLE webhook_dispatch (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        last_event_id BIGINT NOT NULL
      );
      INSERT INTO webhook_dispatch (id, last_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM audit_events;
    `,
  },
  {
    version: 4,
    name: 'cluster nodes and their heartbeats',
    sql: `
      -- one row per node id; a node whose heartbeat_at is older than a few intervals is dead
      CREATE TABLE gitgate_nodes (
        node_id      TEXT PRIMARY KEY,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
        heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 5,
    name: 'shared failed-auth throttle and per-token concurrency',
    sql: `
      -- UNLOGGED: a PostgreSQL crash empties them, which only forgives recent failures and
      -- forgets in-flight counts (db/postgres/guard-store.ts). Times are the database's clock.
      CREATE UNLOGGED TABLE gitgate_auth_failures (
        key   TEXT NOT NULL,
        at_ms BIGINT NOT NULL
      );
      CREATE INDEX gitgate_auth_failures_key ON gitgate_auth_failures (key, at_ms);
      CREATE UNLOGGED TABLE gitgate_auth_bans (
        key      TEXT PRIMARY KEY,
        until_ms BIGINT NOT NULL
      );
      -- per (token, node): a dead node's counts stop counting with its heartbeat
      CREATE UNLOGGED TABLE gitgate_inflight (
        token_id TEXT NOT NULL,
        node_id  TEXT NOT NULL,
        n        INTEGER NOT NULL CHECK (n >= 0),
        PRIMARY KEY (token_id, node_id)
      );
    `,
  },
];

export const PG_LATEST_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;

/** Applies the missing migrations, each in its own transaction, under MIGRATION_LOCK; returns
 *  the versions this call applied (another node may have applied the rest). */
export async function runPgMigrations(pool: pg.Pool, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<number[]> {
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS gitgate_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
      let current = await versionOf(client);
      if (current > latest) throw new GitgateError('DB_TOO_NEW', { found: current, supported: latest });
      for (const m of migrations) {
        if (m.version <= current) continue;
        if (m.version !== current + 1) throw new Error(`migration ${m.version} cannot follow schema version ${current}`);
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO gitgate_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
        applied.push(m.version);
        current = m.version;
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
  return applied;
}

async function versionOf(client: pg.PoolClient): Promise<number> {
  const { rows } = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM gitgate_migrations');
  return rows[0]?.v ?? 0;
}
