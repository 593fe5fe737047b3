// TokenStore over SQLite: tokens and their scopes. TokenService holds the rules, this the queries.
import type { Page, SecretHashes, TokenRecord } from '../records.js';
import type { TokenListQuery, TokenStore } from '../stores.js';
import { tokenFromRow, type TokenDbRow } from '../rows.js';
import type { SqliteAccess } from './conn.js';

type RawToken = TokenDbRow;

// Scope travels with the row in one statement, so a verify is a single primary-key lookup.
const RECORD_COLUMNS = `
  t.id, t.kind, t.permission, t.name, t.created_at, t.expires_at, t.revoked_at,
  t.last_used_at, t.last_used_ip, t.created_by, t.refs, t.allow_force, t.allow_delete,
  (SELECT json_group_array(r.repo_id ORDER BY r.rowid) FROM token_repos r WHERE r.token_id = t.id) AS repo_ids`;
const SELECT_RECORD = `SELECT ${RECORD_COLUMNS} FROM tokens t`;
const SELECT_WITH_HASHES = `SELECT ${RECORD_COLUMNS}, t.secret_hash, t.prev_secret_hash, t.prev_secret_until FROM tokens t`;

export class SqliteTokenStore implements TokenStore {
  constructor(private readonly sql: SqliteAccess) {}

  private get db() {
    return this.sql.conn;
  }

  /** The minter chain is checked in the same IMMEDIATE transaction as the insert: a revocation
   *  either committed first, and then the mint fails here, or commits after, and then its
   *  cascade sees this row. */
  insert(record: TokenRecord, secretHash: string, at: string): Promise<boolean> {
    return this.sql.run(() =>
      this.db.db
        .transaction(() => {
          if (record.created_by !== null && !this.chainLive(record.created_by, at)) return false;
          this.insertRow(record, secretHash);
          return true;
        })
        .immediate(),
    );
  }

  insertFirst(record: TokenRecord, secretHash: string): Promise<boolean> {
    return this.sql.run(() =>
      this.db.db
        .transaction(() => {
          if (this.db.prepare('SELECT 1 FROM tokens LIMIT 1').get() !== undefined) return false;
          this.insertRow(record, secretHash);
          return true;
        })
        .immediate(),
    );
  }

  private insertRow(record: TokenRecord, secretHash: string): void {
    this.db
      .prepare(
        `INSERT INTO tokens (id, kind, permission, name, secret_hash, created_at, expires_at, revoked_at, last_used_at, last_used_ip, created_by, refs, allow_force, allow_delete)
         VALUES (@id, @kind, @permission, @name, @secret_hash, @created_at, @expires_at, NULL, NULL, NULL, @created_by, @refs, @allow_force, @allow_delete)`,
      )
      .run({
        ...record,
        secret_hash: secretHash,
        refs: JSON.stringify(record.refs),
        allow_force: record.allow_force ? 1 : 0,
        allow_delete: record.allow_delete ? 1 : 0,
      });
    const scope = this.db.prepare('INSERT INTO token_repos (token_id, repo_id) VALUES (?, ?)');
    for (const repoId of record.repo_ids) scope.run(record.id, repoId);
  }

  /** Is `id` and every token above it (created_by, transitively) present, unrevoked and
   *  unexpired at `at`? Call inside the transaction that depends on it. */
  private chainLive(id: string, at: string): boolean {
    const row = this.db
      .prepare(
        `WITH RECURSIVE chain(id) AS (
           SELECT ? UNION SELECT t.created_by FROM tokens t JOIN chain ON t.id = chain.id WHERE t.created_by IS NOT NULL
         )
         SELECT COUNT(*) AS n,
                SUM(t.revoked_at IS NOT NULL OR (t.expires_at IS NOT NULL AND t.expires_at <= ?)) AS dead
           FROM chain JOIN tokens t ON t.id = chain.id`,
      )
      .get(id, at) as { n: number; dead: number | null };
    return row.n > 0 && !row.dead;
  }

  get(id: string): Promise<TokenRecord | null> {
    return this.sql.run(() => {
      const raw = this.db.prepare(`${SELECT_RECORD} WHERE t.id = ?`).get(id) as RawToken | undefined;
      return raw ? tokenFromRow(raw) : null;
    });
  }

  exists(id: string): Promise<boolean> {
    return this.sql.run(() => this.db.prepare('SELECT 1 FROM tokens WHERE id = ?').get(id) !== undefined);
  }

  secretHashes(id: string): Promise<SecretHashes | null> {
    return this.sql.run(() => {
      const row = this.db.prepare('SELECT secret_hash, prev_secret_hash, prev_secret_until FROM tokens WHERE id = ?').get(id) as
        | { secret_hash: string; prev_secret_hash: string | null; prev_secret_until: string | null }
        | undefined;
      return row ? { current: row.secret_hash, previous: row.prev_secret_hash, previousUntil: row.prev_secret_until } : null;
    });
  }

  getWithHashes(id: string): Promise<{ record: TokenRecord; hashes: SecretHashes } | null> {
    return this.sql.run(() => {
      const raw = this.db.prepare(`${SELECT_WITH_HASHES} WHERE t.id = ?`).get(id) as
        | (RawToken & { secret_hash: string; prev_secret_hash: string | null; prev_secret_until: string | null })
        | undefined;
      if (!raw) return null;
      const { secret_hash, prev_secret_hash, prev_secret_until, ...rest } = raw;
      return { record: tokenFromRow(rest), hashes: { current: secret_hash, previous: prev_secret_hash, previousUntil: prev_secret_until } };
    });
  }

  rotate(id: string, newHash: string, previousUntil: string | null, at: string, actorId: string | null): Promise<'ok' | 'actor_dead' | 'target_dead'> {
    return this.sql.run(() =>
      this.db.db
        .transaction(() => {
          if (actorId !== null && !this.chainLive(actorId, at)) return 'actor_dead' as const;
          const changed =
            this.db
              .prepare(
                `UPDATE tokens SET prev_secret_hash = CASE WHEN ? IS NULL THEN NULL ELSE secret_hash END,
                                   prev_secret_until = ?, secret_hash = ?, rotated_at = ?
                 WHERE id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
              )
              .run(previousUntil, previousUntil, newHash, at, id, at).changes > 0;
          return changed ? ('ok' as const) : ('target_dead' as const);
        })
        .immediate(),
    );
  }

  count(): Promise<number> {
    return this.sql.run(() => (this.db.prepare('SELECT COUNT(*) AS n FROM tokens').get() as { n: number }).n);
  }

  markUsed(id: string, at: string, ip: string | null): Promise<void> {
    return this.sql.run(() => {
      this.db.prepare('UPDATE tokens SET last_used_at = ?, last_used_ip = ? WHERE id = ?').run(at, ip, id);
    });
  }

  revokeTree(id: string, at: string): Promise<{ affected: string[]; changed: number; revoked: string[] }> {
    return this.sql.run(() =>
      this.db.db
        .transaction(() => {
          const affected = (
            this.db
              .prepare(
                `WITH RECURSIVE tree(id) AS (
                   SELECT ? UNION SELECT t.id FROM tokens t JOIN tree ON t.created_by = tree.id
                 ) SELECT id FROM tree`,
              )
              .all(id) as { id: string }[]
          ).map((r) => r.id);
          const revoked = (
            this.db
              .prepare('UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND id IN (SELECT value FROM json_each(?)) RETURNING id')
              .all(at, JSON.stringify(affected)) as { id: string }[]
          ).map((r) => r.id);
          return { affected, changed: revoked.length, revoked };
        })
        .immediate(),
    );
  }

  list(q: TokenListQuery): Promise<Page<TokenRecord>> {
    return this.sql.run(() => this.listNow(q));
  }

  private listNow(q: TokenListQuery): Page<TokenRecord> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (!q.includeRevoked) where.push('t.revoked_at IS NULL');
    if (q.repoId !== undefined) {
      where.push('EXISTS (SELECT 1 FROM token_repos r WHERE r.token_id = t.id AND r.repo_id = ?)');
      params.push(q.repoId);
    }
    const viewer = q.visibleTo;
    if (viewer) {
      // The scope part of policy.mintRefusal, so the final filter sees few rows.
      if (viewer.permission !== 'admin') {
        where.push('t.id = ?');
        params.push(viewer.id);
      } else if (viewer.kind === 'repo') {
        where.push(`(t.id = ? OR (t.kind = 'repo'
          AND EXISTS (SELECT 1 FROM token_repos r WHERE r.token_id = t.id)
          AND NOT EXISTS (SELECT 1 FROM token_repos r WHERE r.token_id = t.id
                          AND r.repo_id NOT IN (SELECT value FROM json_each(?)))))`);
        params.push(viewer.id, JSON.stringify(viewer.repo_ids));
      }
    }
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const order = 'ORDER BY t.created_at, t.rowid';
    if (q.keep) {
      const kept = (this.db.prepare(`${SELECT_RECORD} ${whereSql} ${order}`).all(...params) as RawToken[]).map(tokenFromRow).filter(q.keep);
      const items = kept.slice(q.pageStart, q.pageStart + q.pageSize);
      const end = q.pageStart + items.length;
      return { items, total_items: kept.length, next_page: end < kept.length ? end : null };
    }
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM tokens t ${whereSql}`).get(...params) as { n: number }).n;
    const raws = this.db
      .prepare(`${SELECT_RECORD} ${whereSql} ${order} LIMIT ? OFFSET ?`)
      .all(...params, q.pageSize, q.pageStart) as RawToken[];
    const end = q.pageStart + raws.length;
    return { items: raws.map(tokenFromRow), total_items: total, next_page: end < total ? end : null };
  }
}

