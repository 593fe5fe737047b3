import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/sqlite/database.js';
import { LATEST_VERSION, MIGRATIONS, runMigrations, schemaVersion } from '../../src/db/sqlite/migrations.js';
import { isGitgateError } from '../../src/errors.js';

let dir: string;
const open: Db[] = [];
function track(db: Db): Db {
  open.push(db);
  return db;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-db-'));
});
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function tableNames(db: Db): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}

describe('openDatabase', () => {
  it('migrates a fresh in-memory database to the latest version', () => {
    const db = track(openDatabase(':memory:'));
    expect(LATEST_VERSION).toBe(MIGRATIONS.length);
    expect(schemaVersion(db)).toBe(LATEST_VERSION);
    expect(tableNames(db)).toEqual(['audit_events', 'protected_refs', 'repos', 'token_repos', 'tokens', 'webhook_attempts', 'webhook_deliveries', 'webhook_dispatch', 'webhooks']);
  });

  it('sets the pragmas on a file database: WAL, foreign keys, busy timeout, synchronous NORMAL', () => {
    const db = track(openDatabase(path.join(dir, 'gitgate.sqlite')));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(fs.existsSync(path.join(dir, 'gitgate.sqlite-wal'))).toBe(true);
  });

  it('creates a missing parent directory for the file', () => {
    const file = path.join(dir, 'nested', 'deeper', 'gitgate.sqlite');
    track(openDatabase(file));
    expect(fs.existsSync(file)).toBe(true);
  });

  it('re-opening an up-to-date database is a no-op that keeps the data', () => {
    const file = path.join(dir, 'gitgate.sqlite');
    const first = track(openDatabase(file));
    first.prepare("INSERT INTO repos (id, created_at) VALUES ('r1', '2024-01-01T00:00:00.000Z')").run();
    first.close();
    // the migration's CREATE TABLEs would throw if they ran again
    const again = track(openDatabase(file));
    expect(schemaVersion(again)).toBe(LATEST_VERSION);
    expect(again.prepare('SELECT id FROM repos').all()).toEqual([{ id: 'r1' }]);
  });

  it('refuses a database newer than the code, with a clear error, and leaves it alone', () => {
    const file = path.join(dir, 'gitgate.sqlite');
    const raw = new Database(file);
    raw.pragma(`user_version = ${LATEST_VERSION + 5}`);
    raw.close();
    let caught: unknown;
    try {
      openDatabase(file);
    } catch (err) {
      caught = err;
    }
    expect(isGitgateError(caught, 'DB_TOO_NEW')).toBe(true);
    expect((caught as Error).message).toContain(`${LATEST_VERSION + 5}`);
    expect((caught as Error).message).toMatch(/upgrade gitgate/);
    const check = track(new Database(file));
    expect(schemaVersion(check)).toBe(LATEST_VERSION + 5);
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
  });

  it('migration 4 starts webhook fan-out after the events that already exist', () => {
    const file = path.join(dir, 'gitgate.sqlite');
    const old = track(new Database(file));
    runMigrations(old, MIGRATIONS.slice(0, 3));
    for (let i = 0; i < 3; i++) old.prepare(`INSERT INTO audit_events (at, action) VALUES ('2024-01-01T00:00:00.000Z', 'token.create')`).run();
    old.close();
    const db = track(openDatabase(file));
    expect(db.prepare('SELECT id, last_event_id FROM webhook_dispatch').all()).toEqual([{ id: 1, last_event_id: 3 }]);
  });

  it('migration 3 keeps what existing tokens could do (every ref, force, delete) and cascades protected refs', () => {
    const file = path.join(dir, 'gitgate.sqlite');
    const old = track(new Database(file));
    runMigrations(old, MIGRATIONS.slice(0, 2));
    old
      .prepare(
        `INSERT INTO tokens (id, kind, permission, name, secret_hash, created_at) VALUES ('tok_old', 'repo', 'write', 'n', 'h', '2024-01-01T00:00:00.000Z')`,
      )
      .run();
    old.close();
    const db = track(openDatabase(file));
    expect(schemaVersion(db)).toBe(LATEST_VERSION);
    expect(db.prepare("SELECT refs, allow_force, allow_delete, prev_secret_hash, prev_secret_until, rotated_at FROM tokens WHERE id = 'tok_old'").get()).toEqual({
      refs: '[]',
      allow_force: 1,
      allow_delete: 1,
      prev_secret_hash: null,
      prev_secret_until: null,
      rotated_at: null,
    });
    expect(() => db.prepare("UPDATE tokens SET refs = 'not json' WHERE id = 'tok_old'").run()).toThrow(/CHECK/);
    db.prepare("INSERT INTO repos (id, created_at) VALUES ('r1', '2024-01-01T00:00:00.000Z')").run();
    db.prepare("INSERT INTO protected_refs (repo_id, pattern) VALUES ('r1', 'refs/heads/main')").run();
    db.prepare("DELETE FROM repos WHERE id = 'r1'").run();
    expect(db.prepare('SELECT COUNT(*) AS n FROM protected_refs').get()).toEqual({ n: 0 });
  });

  it('enforces foreign keys: a scope row must name an existing token and repo', () => {
    const db = track(openDatabase(':memory:'));
    expect(() => db.prepare("INSERT INTO token_repos (token_id, repo_id) VALUES ('nope', 'nope')").run()).toThrow(/FOREIGN KEY/);
  });
});

describe('runMigrations', () => {
  it('applies each migration in its own transaction and rolls back a failing one', () => {
    const db = track(new Database(':memory:'));
    const migrations = [
      { version: 1, name: 'one', sql: 'CREATE TABLE a (x INTEGER);' },
      { version: 2, name: 'broken', sql: 'CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);' },
    ];
    expect(() => runMigrations(db, migrations)).toThrow(/nowhere/);
    expect(schemaVersion(db)).toBe(1);
    expect(tableNames(db)).toEqual(['a']);
  });

  it('runs only the migrations not yet applied', () => {
    const db = track(new Database(':memory:'));
    const v1 = { version: 1, name: 'one', sql: 'CREATE TABLE a (x INTEGER);' };
    const v2 = { version: 2, name: 'two', sql: 'CREATE TABLE b (x INTEGER);' };
    runMigrations(db, [v1]);
    runMigrations(db, [v1, v2]); // v1 again would throw "table a already exists"
    expect(schemaVersion(db)).toBe(2);
    expect(tableNames(db)).toEqual(['a', 'b']);
  });

  it('re-checks the version under the write lock, so a migration another process just applied is not re-run', () => {
    const db = track(new Database(':memory:'));
    const v1 = { version: 1, name: 'one', sql: 'CREATE TABLE a (x INTEGER);' };
    runMigrations(db, [v1]);
    // Simulate the race: the first, unlocked read of user_version is stale (0).
    let stale = true;
    const racing = new Proxy(db, {
      get(target, prop) {
        if (prop === 'pragma') {
          return (source: string, options?: { simple?: boolean }) => {
            if (stale && source === 'user_version') {
              stale = false;
              return 0;
            }
            return target.pragma(source, options);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    expect(() => runMigrations(racing, [v1])).not.toThrow();
    expect(stale).toBe(false);
    expect(schemaVersion(db)).toBe(1);
  });

  it('refuses a gap in the version sequence', () => {
    const db = track(new Database(':memory:'));
    expect(() => runMigrations(db, [{ version: 2, name: 'two', sql: 'CREATE TABLE b (x INTEGER);' }])).toThrow(/cannot follow/);
    expect(schemaVersion(db)).toBe(0);
  });
});
