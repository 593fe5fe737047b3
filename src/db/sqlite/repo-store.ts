// RepoStore over SQLite: repository records and protected refs (rules in db/repos-table.ts).
import { GitgateError } from '../../errors.js';
import type { RepoListQuery, RepoPage, RepoRow } from '../records.js';
import { isoParam, repoPaging, validateMetadata, validateRepoName } from '../repos-table.js';
import type { RepoStore } from '../stores.js';
import { isoAt, type Clock } from '../time.js';
import { repoFromRow, type RepoDbRow } from '../rows.js';
import type { SqliteAccess } from './conn.js';

type RawRepo = RepoDbRow;

export class SqliteRepoStore implements RepoStore {
  constructor(
    private readonly sql: SqliteAccess,
    private readonly now: Clock,
  ) {}

  private get db() {
    return this.sql.conn;
  }

  async insert(row: { id: string; name?: string | null; metadata?: Record<string, string> | null; default_branch?: string }): Promise<RepoRow> {
    const name = row.name ?? null;
    if (name !== null) validateRepoName(name);
    const metadata = row.metadata ?? null;
    if (metadata !== null) validateMetadata(metadata);
    const created: RawRepo = {
      id: row.id,
      name,
      metadata: metadata === null ? null : JSON.stringify(metadata),
      default_branch: row.default_branch ?? 'main',
      created_at: isoAt(this.now()),
      updated_at: null,
    };
    return this.sql.run(() =>
      this.db.db
        .transaction(() => {
          // get() resolves ids before names, so a name equal to an id (or the reverse) would be
          // unreachable or would shadow: refuse both.
          if (name !== null && this.byId(name)) throw new GitgateError('NAME_TAKEN', { name });
          if (this.byName(row.id)) throw new GitgateError('VALIDATION', { detail: `repository id ${row.id} collides with a repository name` });
          try {
            this.db
              .prepare('INSERT INTO repos (id, name, metadata, default_branch, created_at, updated_at) VALUES (@id, @name, @metadata, @default_branch, @created_at, @updated_at)')
              .run(created);
          } catch (err) {
            if (isConstraint(err, 'SQLITE_CONSTRAINT_UNIQUE') && name !== null) throw new GitgateError('NAME_TAKEN', { name }, { cause: err });
            if (isConstraint(err, 'SQLITE_CONSTRAINT_PRIMARYKEY')) throw new GitgateError('VALIDATION', { detail: `repository id ${row.id} already exists` }, { cause: err });
            throw err;
          }
          return repoFromRow(created);
        })
        .immediate(),
    );
  }

  get(idOrName: string): Promise<RepoRow | null> {
    return this.sql.run(() => {
      const raw = this.byId(idOrName) ?? this.byName(idOrName);
      return raw ? repoFromRow(raw) : null;
    });
  }

  async list(q: RepoListQuery = {}): Promise<RepoPage> {
    const { pageSize, pageStart } = repoPaging(q);
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.created_after !== undefined) {
      where.push('created_at > ?');
      params.push(isoParam('created_after', q.created_after));
    }
    if (q.created_before !== undefined) {
      where.push('created_at < ?');
      params.push(isoParam('created_before', q.created_before));
    }
    if (q.filter_metadata !== undefined) {
      validateMetadata(q.filter_metadata);
      // every pair must be present; json_each avoids building JSON paths from user keys
      for (const [key, value] of Object.entries(q.filter_metadata)) {
        where.push("EXISTS (SELECT 1 FROM json_each(repos.metadata) m WHERE m.key = ? AND m.type = 'text' AND m.value = ?)");
        params.push(key, value);
      }
    }
    if (q.ids !== undefined) {
      where.push('id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(q.ids));
    }
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    // updated_at is null until the first change: sort such repos by their creation time.
    // rowid breaks ties between rows created in the same millisecond, keeping pages stable.
    const key = q.order_by === 'updated_at' ? 'COALESCE(updated_at, created_at)' : 'created_at';
    const dir = q.order_descending ? 'DESC' : 'ASC';
    return this.sql.run(() => {
      const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM repos ${whereSql}`).get(...params) as { n: number }).n;
      const raws = this.db
        .prepare(`SELECT * FROM repos ${whereSql} ORDER BY ${key} ${dir}, rowid ${dir} LIMIT ? OFFSET ?`)
        .all(...params, pageSize, pageStart) as RawRepo[];
      const end = pageStart + raws.length;
      return { items: raws.map(repoFromRow), total_items: total, next_page: end < total ? end : null };
    });
  }

  touch(id: string): Promise<void> {
    return this.sql.run(() => {
      this.db.prepare('UPDATE repos SET updated_at = ? WHERE id = ?').run(isoAt(this.now()), id);
    });
  }

  async update(id: string, patch: { metadata?: Record<string, string> | null; default_branch?: string }): Promise<RepoRow | null> {
    if (patch.metadata) validateMetadata(patch.metadata);
    return this.sql.run(() => {
      const current = this.byId(id);
      if (!current) return null;
      const next: RawRepo = {
        ...current,
        metadata: patch.metadata === undefined ? current.metadata : patch.metadata === null ? null : JSON.stringify(patch.metadata),
        default_branch: patch.default_branch ?? current.default_branch,
        updated_at: isoAt(this.now()),
      };
      this.db.prepare('UPDATE repos SET metadata = @metadata, default_branch = @default_branch, updated_at = @updated_at WHERE id = @id').run(next);
      return repoFromRow(next);
    });
  }

  delete(id: string): Promise<boolean> {
    return this.sql.run(() =>
      this.db.db.transaction(() => {
        // explicit, not only ON DELETE CASCADE, so it holds even with foreign_keys off
        this.db.prepare('DELETE FROM token_repos WHERE repo_id = ?').run(id);
        this.db.prepare('DELETE FROM protected_refs WHERE repo_id = ?').run(id);
        return this.db.prepare('DELETE FROM repos WHERE id = ?').run(id).changes > 0;
      })(),
    );
  }

  protectedRefs(id: string): Promise<string[]> {
    return this.sql.run(() => this.patterns(id));
  }

  setProtectedRefs(id: string, patterns: readonly string[]): Promise<string[]> {
    return this.sql.run(() =>
      this.db.db
        .transaction(() => {
          this.db.prepare('DELETE FROM protected_refs WHERE repo_id = ?').run(id);
          const insert = this.db.prepare('INSERT OR IGNORE INTO protected_refs (repo_id, pattern) VALUES (?, ?)');
          for (const p of patterns) insert.run(id, p);
          return this.patterns(id);
        })
        .immediate(),
    );
  }

  private patterns(id: string): string[] {
    return (this.db.prepare('SELECT pattern FROM protected_refs WHERE repo_id = ? ORDER BY rowid').all(id) as { pattern: string }[]).map((r) => r.pattern);
  }

  private byId(id: string): RawRepo | undefined {
    return this.db.prepare('SELECT * FROM repos WHERE id = ?').get(id) as RawRepo | undefined;
  }

  private byName(name: string): RawRepo | undefined {
    return this.db.prepare('SELECT * FROM repos WHERE name = ?').get(name) as RawRepo | undefined;
  }
}


function isConstraint(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
