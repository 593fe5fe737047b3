// Repository records. The bare Git repository on disk is the storage layer's business;
// this table holds identity, name, metadata and timestamps.
import type { Db } from './database.js';
import { GitgateError } from '../errors.js';
import { isoAt, normaliseIso, systemClock, type Clock } from './time.js';

export interface RepoRow {
  id: string;
  name: string | null;
  metadata: Record<string, string> | null;
  default_branch: string;
  created_at: string;
  updated_at: string | null;
}

export interface RepoListQuery {
  page_size?: number;
  page_start?: number;
  order_by?: 'created_at' | 'updated_at';
  order_descending?: boolean;
  created_after?: string;
  created_before?: string;
  filter_metadata?: Record<string, string>;
  ids?: string[]; // restrict to these (repo tokens see only their scope)
}

export interface RepoPage {
  items: RepoRow[];
  total_items: number;
  next_page: number | null;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

// Names appear in URLs (`/v1/repo/<name>.git`), so keep them to URL-safe characters and
// forbid a `.git` ending, which the router strips.
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;

interface RawRepo {
  id: string;
  name: string | null;
  metadata: string | null;
  default_branch: string;
  created_at: string;
  updated_at: string | null;
}

export class ReposTable {
  private readonly now: Clock;

  constructor(private readonly db: Db, opts: { now?: Clock } = {}) {
    this.now = opts.now ?? systemClock;
  }

  insert(row: { id: string; name?: string | null; metadata?: Record<string, string> | null; default_branch?: string }): RepoRow {
    const name = row.name ?? null;
    if (name !== null) validateName(name);
    const metadata = row.metadata ?? null;
    if (metadata !== null) validateMetadata(metadata);
    // get() resolves ids before names, so a name equal to an id (or the reverse) would be
    // unreachable or would shadow: refuse both.
    if (name !== null && this.byId(name)) throw new GitgateError('NAME_TAKEN', { name });
    if (this.byName(row.id)) throw new GitgateError('VALIDATION', { detail: `repository id ${row.id} collides with a repository name` });

    const created: RawRepo = {
      id: row.id,
      name,
      metadata: metadata === null ? null : JSON.stringify(metadata),
      default_branch: row.default_branch ?? 'main',
      created_at: isoAt(this.now()),
      updated_at: null,
    };
    try {
      this.db
        .prepare('INSERT INTO repos (id, name, metadata, default_branch, created_at, updated_at) VALUES (@id, @name, @metadata, @default_branch, @created_at, @updated_at)')
        .run(created);
    } catch (err) {
      if (isConstraint(err, 'SQLITE_CONSTRAINT_UNIQUE') && name !== null) throw new GitgateError('NAME_TAKEN', { name }, { cause: err });
      if (isConstraint(err, 'SQLITE_CONSTRAINT_PRIMARYKEY')) throw new GitgateError('VALIDATION', { detail: `repository id ${row.id} already exists` }, { cause: err });
      throw err;
    }
    return toRow(created);
  }

  /** By id, else by unique name. */
  get(idOrName: string): RepoRow | null {
    const raw = this.byId(idOrName) ?? this.byName(idOrName);
    return raw ? toRow(raw) : null;
  }

  list(q: RepoListQuery = {}): RepoPage {
    const pageSize = q.page_size ?? DEFAULT_PAGE_SIZE;
    const pageStart = q.page_start ?? 0;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw new GitgateError('VALIDATION', { detail: `page_size must be an integer from 1 to ${MAX_PAGE_SIZE}` });
    }
    if (!Number.isInteger(pageStart) || pageStart < 0) {
      throw new GitgateError('VALIDATION', { detail: 'page_start must be a non-negative integer' });
    }

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

    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM repos ${whereSql}`).get(...params) as { n: number }).n;
    const raws = this.db
      .prepare(`SELECT * FROM repos ${whereSql} ORDER BY ${key} ${dir}, rowid ${dir} LIMIT ? OFFSET ?`)
      .all(...params, pageSize, pageStart) as RawRepo[];
    const end = pageStart + raws.length;
    return { items: raws.map(toRow), total_items: total, next_page: end < total ? end : null };
  }

  /** Record a change (push, API update): updated_at = now. */
  touch(id: string): void {
    this.db.prepare('UPDATE repos SET updated_at = ? WHERE id = ?').run(isoAt(this.now()), id);
  }

  /** Replace metadata and/or default branch; also touches updated_at. Null when unknown. */
  update(id: string, patch: { metadata?: Record<string, string> | null; default_branch?: string }): RepoRow | null {
    if (patch.metadata) validateMetadata(patch.metadata);
    const current = this.byId(id);
    if (!current) return null;
    const next: RawRepo = {
      ...current,
      metadata: patch.metadata === undefined ? current.metadata : patch.metadata === null ? null : JSON.stringify(patch.metadata),
      default_branch: patch.default_branch ?? current.default_branch,
      updated_at: isoAt(this.now()),
    };
    this.db.prepare('UPDATE repos SET metadata = @metadata, default_branch = @default_branch, updated_at = @updated_at WHERE id = @id').run(next);
    return toRow(next);
  }

  /** Deletes the row and every token scope naming it. True if it existed. */
  delete(id: string): boolean {
    return this.db.transaction(() => {
      // explicit, not only ON DELETE CASCADE, so it holds even with foreign_keys off
      this.db.prepare('DELETE FROM token_repos WHERE repo_id = ?').run(id);
      this.db.prepare('DELETE FROM protected_refs WHERE repo_id = ?').run(id);
      return this.db.prepare('DELETE FROM repos WHERE id = ?').run(id).changes > 0;
    })();
  }

  /** The repository's protected ref patterns (only admin tokens move matching refs), in insertion order. */
  protectedRefs(id: string): string[] {
    return (this.db.prepare('SELECT pattern FROM protected_refs WHERE repo_id = ? ORDER BY rowid').all(id) as { pattern: string }[]).map((r) => r.pattern);
  }

  /** Replace the protected ref patterns (validated by the caller). */
  setProtectedRefs(id: string, patterns: readonly string[]): string[] {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM protected_refs WHERE repo_id = ?').run(id);
      const insert = this.db.prepare('INSERT OR IGNORE INTO protected_refs (repo_id, pattern) VALUES (?, ?)');
      for (const p of patterns) insert.run(id, p);
    }).immediate();
    return this.protectedRefs(id);
  }

  private byId(id: string): RawRepo | undefined {
    return this.db.prepare('SELECT * FROM repos WHERE id = ?').get(id) as RawRepo | undefined;
  }

  private byName(name: string): RawRepo | undefined {
    return this.db.prepare('SELECT * FROM repos WHERE name = ?').get(name) as RawRepo | undefined;
  }
}

function toRow(raw: RawRepo): RepoRow {
  return {
    id: raw.id,
    name: raw.name,
    metadata: raw.metadata === null ? null : (JSON.parse(raw.metadata) as Record<string, string>),
    default_branch: raw.default_branch,
    created_at: raw.created_at,
    updated_at: raw.updated_at,
  };
}

function validateName(name: string): void {
  if (!NAME_PATTERN.test(name) || name.endsWith('.git')) {
    throw new GitgateError('VALIDATION', {
      detail: 'repository name must be 1-100 characters of letters, digits, ".", "_" or "-", not start with "." or "-", and not end in ".git"',
    });
  }
}

function validateMetadata(metadata: unknown): asserts metadata is Record<string, string> {
  const ok =
    typeof metadata === 'object' &&
    metadata !== null &&
    !Array.isArray(metadata) &&
    Object.values(metadata).every((v) => typeof v === 'string');
  if (!ok) throw new GitgateError('VALIDATION', { detail: 'metadata must be an object of string values' });
}

function isoParam(field: string, value: string): string {
  const iso = normaliseIso(value);
  if (iso === null) throw new GitgateError('VALIDATION', { detail: `${field} is not a valid date-time` });
  return iso;
}

function isConstraint(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
