// AuditStore over PostgreSQL. Appends hold an advisory transaction lock while they take ids and
// until they commit, so ids follow commit order on every node (the event-stream cursor's rule).
import type { AuditListQuery, AuditRow, NewAuditRow, Page } from '../records.js';
import type { AuditStore } from '../stores.js';
import { AUDIT_INSERT_COLUMNS, auditFromRow, auditInsertValues, type AuditDbRow } from '../rows.js';
import { LOCKS, type PgAccess } from './conn.js';

type Raw = AuditDbRow & Record<string, unknown>;

export class PgAuditStore implements AuditStore {
  constructor(private readonly db: PgAccess) {}

  async append(events: NewAuditRow[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.atomic(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.audit]);
      for (const e of events) {
        await q.query(`INSERT INTO audit_events (${AUDIT_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, auditInsertValues(e));
      }
    });
  }

  async after(cursor: number, limit: number): Promise<AuditRow[]> {
    return (await this.db.query<Raw>('SELECT * FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2', [cursor, limit])).rows.map(auditFromRow);
  }

  async latestId(): Promise<number> {
    return (await this.db.query<{ id: number }>('SELECT COALESCE(MAX(id), 0) AS id FROM audit_events')).rows[0]!.id;
  }

  async list(q: AuditListQuery): Promise<Page<AuditRow>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => (params.push(v), `$${params.length}`);
    if (q.repoId !== undefined) where.push(`e.repo_ids @> jsonb_build_array(${p(q.repoId)}::text)`);
    if (q.action !== undefined) where.push(`e.action = ${p(q.action)}`);
    if (q.withinRepos !== undefined) {
      // every repository the event mentions is one the viewer administers (and there is one)
      where.push(`jsonb_array_length(e.repo_ids) > 0 AND ${p(JSON.stringify(q.withinRepos))}::jsonb @> e.repo_ids`);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (await this.db.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM audit_events e ${clause}`, params)).rows[0]!.n;
    const limit = p(q.pageSize);
    const offset = p(q.pageStart);
    const items = (await this.db.query<Raw>(`SELECT * FROM audit_events e ${clause} ORDER BY e.id DESC LIMIT ${limit} OFFSET ${offset}`, params)).rows.map(auditFromRow);
    const next = q.pageStart + items.length;
    return { items, total_items: total, next_page: next < total ? next : null };
  }
}
