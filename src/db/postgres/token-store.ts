// TokenStore over PostgreSQL. Mints, rotations and revocations take one advisory transaction
// lock (LOCKS.tokenTree), so a minter-chain check and the write it guards never interleave with
// a revocation on any node.
import type { Page, SecretHashes, TokenRecord } from '../records.js';
import type { TokenListQuery, TokenStore } from '../stores.js';
import { tokenFromRow, type TokenDbRow } from '../rows.js';
import { LOCKS, type PgAccess } from './conn.js';

type RawToken = TokenDbRow & Record<string, unknown>;

const RECORD_COLUMNS = `t.id, t.kind, t.permission, t.name, t.created_at, t.expires_at, t.revoked_at,
  t.last_used_at, t.last_used_ip, t.created_by, t.refs, t.allow_force, t.allow_delete,
  COALESCE((SELECT json_agg(r.repo_id ORDER BY r.seq) FROM token_repos r WHERE r.token_id = t.id), '[]'::json) AS repo_ids`;
const SELECT_RECORD = `SELECT ${RECORD_COLUMNS} FROM tokens t`;

async function insertRow(q: PgAccess, record: TokenRecord, secretHash: string): Promise<void> {
  await q.query(
    `INSERT INTO tokens (id, kind, permission, name, secret_hash, created_at, expires_at, created_by, refs, allow_force, allow_delete)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [record.id, record.kind, record.permission, record.name, secretHash, record.created_at, record.expires_at, record.created_by, JSON.stringify(record.refs), record.allow_force, record.allow_delete],
  );
  for (const repoId of record.repo_ids) await q.query('INSERT INTO token_repos (token_id, repo_id) VALUES ($1, $2)', [record.id, repoId]);
}

export class PgTokenStore implements TokenStore {
  constructor(private readonly db: PgAccess) {}

  insert(record: TokenRecord, secretHash: string, at: string): Promise<boolean> {
    return this.db.atomic(async (q) => {
      if (record.created_by !== null) {
        await q.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.tokenTree]);
        if (!(await chainLive(q, record.created_by, at))) return false;
      }
      await insertRow(q, record, secretHash);
      return true;
    });
  }

  insertFirst(record: TokenRecord, secretHash: string): Promise<boolean> {
    return this.db.atomic(async (q) => {
      // every mint takes this lock, so no token can appear between the check and the insert
      await q.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.tokenTree]);
      if ((await q.query('SELECT 1 FROM tokens LIMIT 1')).rowCount! > 0) return false;
      await insertRow(q, record, secretHash);
      return true;
    });
  }

  async get(id: string): Promise<TokenRecord | null> {
    const { rows } = await this.db.query<RawToken & Record<string, unknown>>(`${SELECT_RECORD} WHERE t.id = $1`, [id]);
    return rows[0] ? tokenFromRow(rows[0]) : null;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM tokens WHERE id = $1', [id])).rowCount! > 0;
  }

  async secretHashes(id: string): Promise<SecretHashes | null> {
    const { rows } = await this.db.query<{ secret_hash: string; prev_secret_hash: string | null; prev_secret_until: string | null }>(
      'SELECT secret_hash, prev_secret_hash, prev_secret_until FROM tokens WHERE id = $1',
      [id],
    );
    const row = rows[0];
    return row ? { current: row.secret_hash, previous: row.prev_secret_hash, previousUntil: row.prev_secret_until } : null;
  }

  async getWithHashes(id: string): Promise<{ record: TokenRecord; hashes: SecretHashes } | null> {
    const { rows } = await this.db.query<RawToken & { secret_hash: string; prev_secret_hash: string | null; prev_secret_until: string | null }>(
      `SELECT ${RECORD_COLUMNS}, t.secret_hash, t.prev_secret_hash, t.prev_secret_until FROM tokens t WHERE t.id = $1`,
      [id],
    );
    const raw = rows[0];
    if (!raw) return null;
    const { secret_hash, prev_secret_hash, prev_secret_until, ...rest } = raw;
    return { record: tokenFromRow(rest), hashes: { current: secret_hash, previous: prev_secret_hash, previousUntil: prev_secret_until } };
  }

  rotate(id: string, newHash: string, previousUntil: string | null, at: string, actorId: string | null): Promise<'ok' | 'actor_dead' | 'target_dead'> {
    return this.db.atomic(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.tokenTree]);
      if (actorId !== null && !(await chainLive(q, actorId, at))) return 'actor_dead' as const;
      const changed = await q.query(
        `UPDATE tokens SET prev_secret_hash = CASE WHEN $1::text IS NULL THEN NULL ELSE secret_hash END,
                           prev_secret_until = $1, secret_hash = $2, rotated_at = $3
         WHERE id = $4 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)`,
        [previousUntil, newHash, at, id],
      );
      return changed.rowCount! > 0 ? ('ok' as const) : ('target_dead' as const);
    });
  }

  async count(): Promise<number> {
    return (await this.db.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM tokens')).rows[0]!.n;
  }

  async markUsed(id: string, at: string, ip: string | null): Promise<void> {
    await this.db.query('UPDATE tokens SET last_used_at = $1, last_used_ip = $2 WHERE id = $3', [at, ip, id]);
  }

  revokeTree(id: string, at: string): Promise<{ affected: string[]; changed: number; revoked: string[] }> {
    return this.db.atomic(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.tokenTree]);
      const affected = (
        await q.query<{ id: string }>(
          `WITH RECURSIVE tree(id) AS (
             SELECT id FROM tokens WHERE id = $1 UNION SELECT t.id FROM tokens t JOIN tree ON t.created_by = tree.id
           ) SELECT id FROM tree`,
          [id],
        )
      ).rows.map((r) => r.id);
      const revoked = (
        await q.query<{ id: string }>('UPDATE tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND id = ANY($2::text[]) RETURNING id', [at, affected])
      ).rows.map((r) => r.id);
      return { affected, changed: revoked.length, revoked };
    });
  }

  async list(q: TokenListQuery): Promise<Page<TokenRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => (params.push(v), `$${params.length}`);
    if (!q.includeRevoked) where.push('t.revoked_at IS NULL');
    if (q.repoId !== undefined) where.push(`EXISTS (SELECT 1 FROM token_repos r WHERE r.token_id = t.id AND r.repo_id = ${p(q.repoId)})`);
    const viewer = q.visibleTo;
    if (viewer) {
      if (viewer.permission !== 'admin') {
        where.push(`t.id = ${p(viewer.id)}`);
      } else if (viewer.kind === 'repo') {
        where.push(`(t.id = ${p(viewer.id)} OR (t.kind = 'repo'
          AND EXISTS (SELECT 1 FROM token_repos r WHERE r.token_id = t.id)
          AND NOT EXISTS (SELECT 1 FROM token_repos r WHERE r.token_id = t.id AND r.repo_id <> ALL(${p(viewer.repo_ids)}::text[]))))`);
      }
    }
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const order = 'ORDER BY t.created_at, t.seq';
    if (q.keep) {
      const kept = (await this.db.query<RawToken & Record<string, unknown>>(`${SELECT_RECORD} ${whereSql} ${order}`, params)).rows.map(tokenFromRow).filter(q.keep);
      const items = kept.slice(q.pageStart, q.pageStart + q.pageSize);
      const end = q.pageStart + items.length;
      return { items, total_items: kept.length, next_page: end < kept.length ? end : null };
    }
    const total = (await this.db.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM tokens t ${whereSql}`, params)).rows[0]!.n;
    const limit = p(q.pageSize);
    const offset = p(q.pageStart);
    const raws = (await this.db.query<RawToken & Record<string, unknown>>(`${SELECT_RECORD} ${whereSql} ${order} LIMIT ${limit} OFFSET ${offset}`, params)).rows;
    const end = q.pageStart + raws.length;
    return { items: raws.map(tokenFromRow), total_items: total, next_page: end < total ? end : null };
  }
}

/** Is `id` and every token above it present, unrevoked and unexpired at `at`? Call under
 *  LOCKS.tokenTree, inside the transaction that depends on it. */
async function chainLive(q: PgAccess, id: string, at: string): Promise<boolean> {
  const { rows } = await q.query<{ n: number; dead: number }>(
    `WITH RECURSIVE chain(id) AS (
       SELECT $1::text UNION SELECT t.created_by FROM tokens t JOIN chain ON t.id = chain.id WHERE t.created_by IS NOT NULL
     )
     SELECT COUNT(*)::int AS n,
            COUNT(*) FILTER (WHERE t.revoked_at IS NOT NULL OR (t.expires_at IS NOT NULL AND t.expires_at <= $2))::int AS dead
       FROM chain JOIN tokens t ON t.id = chain.id`,
    [id, at],
  );
  return rows[0]!.n > 0 && rows[0]!.dead === 0;
}

