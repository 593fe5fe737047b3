// Schema migrations. Append only: never edit a migration that has shipped, add a new one.
// The applied version lives in PRAGMA user_version (0 = empty database).
import type Database from 'better-sqlite3'; // not database.ts's Db alias: database.ts imports this module
import { GitgateError } from '../../errors.js';

export interface Migration {
  version: number; // 1, 2, 3… in order, no gaps
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'repos, tokens, token scopes',
    sql: `
      CREATE TABLE repos (
        id             TEXT PRIMARY KEY,
        name           TEXT UNIQUE,
        metadata       TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
        default_branch TEXT NOT NULL DEFAULT 'main',
        created_at     TEXT NOT NULL,
        updated_at     TEXT
      );
      CREATE INDEX repos_created_at ON repos (created_at);
      CREATE INDEX repos_updated_at ON repos (COALESCE(updated_at, created_at));

      CREATE TABLE tokens (
        id           TEXT PRIMARY KEY,
        kind         TEXT NOT NULL CHECK (kind IN ('workspace', 'repo')),
        permission   TEXT NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
        name         TEXT NOT NULL,
        secret_hash  TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        expires_at   TEXT,
        revoked_at   TEXT,
        last_used_at TEXT,
        last_used_ip TEXT,
        created_by   TEXT REFERENCES tokens (id)
      );
      -- the revocation cascade walks created_by downwards
      CREATE INDEX tokens_created_by ON tokens (created_by);
      CREATE INDEX tokens_created_at ON tokens (created_at);

      CREATE TABLE token_repos (
        token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
        repo_id  TEXT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
        PRIMARY KEY (token_id, repo_id)
      );
      -- "which tokens reach this repo" (repo deletion, token list by repo)
      CREATE INDEX token_repos_repo_id ON token_repos (repo_id);
    `,
  },
  {
    version: 2,
    name: 'audit events',
    sql: `
      -- append-only audit trail: ref moves (pushes, API commits), token creation and revocation.
      -- No foreign keys: events outlive the repositories and tokens they mention.
      CREATE TABLE audit_events (
        id              INTEGER PRIMARY KEY, -- rowid: insertion order (rows are never deleted)
        at              TEXT NOT NULL,
        action          TEXT NOT NULL,
        actor_token_id  TEXT,
        client_ip       TEXT,
        repo_id         TEXT,
        repo_ids        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(repo_ids)),
        ref             TEXT,
        old_oid         TEXT,
        new_oid         TEXT,
        target_token_id TEXT,
        detail          TEXT CHECK (detail IS NULL OR json_valid(detail))
      );
      CREATE INDEX audit_events_repo_id ON audit_events (repo_id, id);
      CREATE INDEX audit_events_at ON audit_events (at);
    `,
  },
  {
    version: 3,
    name: 'ref scopes, force/delete rights, secret rotation, protected refs',
    sql: `
      -- ref scope of a token: JSON array of refspec-glob patterns, [] = every ref
      ALTER TABLE tokens ADD COLUMN refs TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(refs));
      -- existing tokens keep what they could do: force-push and delete
      ALTER TABLE tokens ADD COLUMN allow_force INTEGER NOT NULL DEFAULT 1 CHECK (allow_force IN (0, 1));
      ALTER TABLE tokens ADD COLUMN allow_delete INTEGER NOT NULL DEFAULT 1 CHECK (allow_delete IN (0, 1));
      -- rotation: the replaced secret's hash stays valid until prev_secret_until (grace period)
      ALTER TABLE tokens ADD COLUMN prev_secret_hash TEXT;
      ALTER TABLE tokens ADD COLUMN prev_secret_until TEXT;
      ALTER TABLE tokens ADD COLUMN rotated_at TEXT;

      -- refs only admin tokens may create, update or delete
      CREATE TABLE protected_refs (
        repo_id TEXT NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
        pattern TEXT NOT NULL,
        PRIMARY KEY (repo_id, pattern)
      );
    `,
  },
  {
    version: 4,
    name: 'webhooks and their durable delivery queue',
    sql: `
      -- secret: kept in clear (HMAC needs it), never returned by the API or logged.
      -- No foreign keys to repos/tokens: a webhook's creator and repository are re-checked at delivery.
      CREATE TABLE webhooks (
        id          TEXT PRIMARY KEY,
        url         TEXT NOT NULL,
        repo_id     TEXT,
        events      TEXT NOT NULL CHECK (json_valid(events)),
        secret      TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        after_event INTEGER NOT NULL -- audit_events ids after this one are delivered
      );
      CREATE INDEX webhooks_repo_id ON webhooks (repo_id);

      -- one row per (webhook, event); body frozen at enqueue so every retry sends the same bytes
      CREATE TABLE webhook_deliveries (
        id              TEXT PRIMARY KEY, -- X-Gitgate-Delivery
        webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        event_id        INTEGER NOT NULL,
        event_type      TEXT NOT NULL,
        body            TEXT NOT NULL,
        state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        first_at        INTEGER NOT NULL, -- ms since epoch: the retry window starts here
        next_attempt_at INTEGER NOT NULL, -- ms; while an attempt runs, the end of its lease
        UNIQUE (webhook_id, event_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

      CREATE TABLE webhook_attempts (
        id          INTEGER PRIMARY KEY,
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

      -- how far the fan-out from audit_events to deliveries has got (one row)
      CREATE TABLE webhook_dispatch (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        last_event_id INTEGER NOT NULL
      );
      INSERT INTO webhook_dispatch (id, last_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM audit_events;
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS.length === 0 ? 0 : MIGRATIONS[MIGRATIONS.length - 1]!.version;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Bring the schema up to date: each migration in its own IMMEDIATE transaction, so two
 *  processes opening the same new file cannot both apply it. */
export function runMigrations(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): void {
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  for (const migration of migrations) {
    const apply = db.transaction(() => {
      const current = schemaVersion(db); // re-read under the write lock
      if (current >= migration.version) return;
      if (current !== migration.version - 1) {
        throw new Error(`migration ${migration.version} cannot follow schema version ${current}`);
      }
      db.exec(migration.sql);
      // user_version lives in the database header, so it commits or rolls back with the DDL
      db.pragma(`user_version = ${migration.version}`);
    });
    if (schemaVersion(db) < migration.version) apply.immediate();
  }
  const found = schemaVersion(db);
  if (found > latest) throw new GitgateError('DB_TOO_NEW', { found, supported: latest });
}
