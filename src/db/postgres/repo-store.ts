// RepoStore over PostgreSQL: repository records and protected refs (rules in db/repos-table.ts).
import { GitgateError } from '../../errors.js';
import type { RepoListQuery, RepoPage, RepoRow } from '../records.js';
import { isoParam, repoPaging, validateMetadata, validateRepoName } from '../repos-table.js';
import type { RepoStore } from '../stores.js';
import { isoAt, type Clock } from '../time.js';
import { repoFromRow, type RepoDbRow } from '../rows.js';
import { isUniqueViolation, LOCKS, type PgAccess } from './conn.js';

type RawRepo = RepoDbRow & Record<string, unknown>;
const COLUMNS = 'id, name, metadata, default_branch, created_at, updated_at';

export class PgRepoStore implements RepoStore {
  constructor(
    private readonly db: PgAccess,
    private readonly now: Clock,
  ) {}

  async insert(row: { id: string; name?: string | null; metadata?: Record<string, string> | null; default_branch?: string }): Promise<RepoRow> {
    const name = row.name ?? null;
    if (name !== null) validateRepoName(name);
    const metadata = row.metadata ?? null;
    if (metadata !== null) validateMetadata(metadata);
    const created: RepoRow = { id: row.id, name, metadata, default_branch: row.default_branch ?? 'main', created_at: isoAt(this.now()), updated_at: null };
    return this.db.atomic(async (q) => {
      // get() resolves ids before names: a name equal to an id (or the reverse) is refused;
      // the lock makes these checks and the insert one step across nodes
      await q.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.repoNames]);
      if (name !== null && (await byId(q, name))) throw new GitgateError('NAME_TAKEN', { name });
      if (await byName(q, row.id)) throw new GitgateError('VALIDATION', { detail: `repository id ${row.id} collides with a repository name` });
      if (await byId(q, row.id)) throw new GitgateError('VALIDATION', { detail: `repository id ${row.id} already exists` });
      try {
        await q.query(`INSERT INTO repos (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL)`, [
          created.id,
          name,
          metadata === null ? null : JSON.stringify(metadata),
          created.default_branch,
          created.created_at,
        ]);
      } catch (err) {
        if (isUniqueViolation(err, 'repos_name_key') && name !== null) throw new GitgateError('NAME_TAKEN', { name }, { cause: err });
        if (isUniqueViolation(err, 'repos_pkey')) throw new GitgateError('VALIDATION', { detail: `repository id ${row.id} already exists` }, { cause: err });
        throw err;
      }
      return created;
    });
  }

  async get(idOrName: string): Promise<RepoRow | null> {
    const { rows } = await this.db.query<RawRepo & { by_id: boolean }>(
      `SELECT ${COLUMNS}, id = $1 AS by_id FROM repos WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1`,
      [idOrName],
    );
    return rows[0] ? repoFromRow(rows[0]) : null;
  }

  async list(q: RepoListQuery = {}): Promise<RepoPage> {
    const { pageSize, pageStart } = repoPaging(q);
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => (params.push(v), `$${params.length}`);
    if (q.created_after !== undefined) where.push(`created_at > ${p(isoParam('created_after', q.created_after))}`);
    if (q.created_before !== undefined) where.push(`created_at < ${p(isoParam('created_before', q.created_before))}`);
    if (q.filter_metadata !== undefined) {
      validateMetadata(q.filter_metadata);
      // every pair present, as a string: containment never builds a path from user keys
      where.push(`metadata::jsonb @> ${p(JSON.stringify(q.filter_metadata))}::jsonb`);
    }
    if (q.ids !== undefined) where.push(`id = ANY(${p(q.ids)}::text[])`);
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const key = q.order_by === 'updated_at' ? 'COALESCE(updated_at, created_at)' : 'created_at';
    const dir = q.order_descending ? 'DESC' : 'ASC';
    const total = (await this.db.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM repos ${whereSql}`, params)).rows[0]!.n;
    const limit = p(pageSize);
    const offset = p(pageStart);
    const raws = (await this.db.query<RawRepo>(`SELECT ${COLUMNS} FROM repos ${whereSql} ORDER BY ${key} ${dir}, seq ${dir} LIMIT ${limit} OFFSET ${offset}`, params)).rows;
    const end = pageStart + raws.length;
    return { items: raws.map(repoFromRow), total_items: total, next_page: end < total ? end : null };
  }

  async touch(id: string): Promise<void> {
    await this.db.query('UPDATE repos SET updated_at = $1 WHERE id = $2', [isoAt(this.now()), id]);
  }

  async update(id: string, patch: { metadata?: Record<string, string> | null; default_branch?: string }): Promise<RepoRow | null> {
    if (patch.metadata) validateMetadata(patch.metadata);
    const sets = ['updated_at = $2'];
    const params: unknown[] = [id, isoAt(this.now())];
    if (patch.metadata !== undefined) {
      params.push(patch.metadata === null ? null : JSON.stringify(patch.metadata));
      sets.push(`metadata = $${params.length}`);
    }
    if (patch.default_branch !== undefined) {
      params.push(patch.default_branch);
      sets.push(`default_branch = $${params.length}`);
    }
    const { rows } = await this.db.query<RawRepo>(`UPDATE repos SET ${sets.join(', ')} WHERE id = $1 RETURNING ${COLUMNS}`, params);
    return rows[0] ? repoFromRow(rows[0]) : null;
  }

  delete(id: string): Promise<boolean> {
    return this.db.atomic(async (q) => {
      await q.query('DELETE FROM token_repos WHERE repo_id = $1', [id]);
      await q.query('DELETE FROM protected_refs WHERE repo_id = $1', [id]);
      return (await q.query('DELETE FROM repos WHERE id = $1', [id])).rowCount! > 0;
    });
  }

  async protectedRefs(id: string): Promise<string[]> {
    return patterns(this.db, id);
  }

  setProtectedRefs(id: string, list: readonly string[]): Promise<string[]> {
    return this.db.atomic(async (q) => {
      await q.query('DELETE FROM protected_refs WHERE repo_id = $1', [id]);
      for (const pattern of list) {
        await q.query('INSERT INTO protected_refs (repo_id, pattern) VALUES ($1, $2) ON CONFLICT DO NOTHING', [id, pattern]);
      }
      return patterns(q, id);
    });
  }
}

async function patterns(q: PgAccess, id: string): Promise<string[]> {
  return (await q.query<{ pattern: string }>('SELECT pattern FROM protected_refs WHERE repo_id = $1 ORDER BY seq', [id])).rows.map((r) => r.pattern);
}

async function byId(q: PgAccess, id: string): Promise<boolean> {
  return (await q.query('SELECT 1 FROM repos WHERE id = $1', [id])).rowCount! > 0;
}

async function byName(q: PgAccess, name: string): Promise<boolean> {
  return (await q.query('SELECT 1 FROM repos WHERE name = $1', [name])).rowCount! > 0;
}

