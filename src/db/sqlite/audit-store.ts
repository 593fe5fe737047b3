// AuditStore over SQLite: the append-only audit_events table (migration 2). Its rowid is the
// event id and the event-stream cursor.
import type { AuditListQuery, AuditRow, NewAuditRow, Page } from '../records.js';
import type { AuditStore } from '../stores.js';
import { AUDIT_INSERT_COLUMNS, auditFromRow, auditInsertValues, type AuditDbRow } from '../rows.js';
import type { SqliteAccess } from './conn.js';


export class SqliteAuditStore implements AuditStore {
  constructor(private readonly sql: SqliteAccess) {}

  private get db() {
    return this.sql.conn;
  }

  append(events: NewAuditRow[]): Promise<void> {
    return this.sql.run(() => {
      const insert = this.db.prepare(`INSERT INTO audit_events (${AUDIT_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      this.db.db.transaction(() => {
        for (const e of events) {
          insert.run(...auditInsertValues(e));
        }
      })();
    });
  }

  after(cursor: number, limit: number): Promise<AuditRow[]> {
    return this.sql.run(() => (this.db.prepare('SELECT * FROM audit_events WHERE id > ? ORDER BY id LIMIT ?').all(cursor, limit) as AuditDbRow[]).map(auditFromRow));
  }

  latestId(): Promise<number> {
    return this.sql.run(() => (this.db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM audit_events').get() as { id: number }).id);
  }

  list(q: AuditListQuery): Promise<Page<AuditRow>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.repoId !== undefined) {
      where.push('EXISTS (SELECT 1 FROM json_each(e.repo_ids) j WHERE j.value = ?)');
      params.push(q.repoId);
    }
    if (q.action !== undefined) {
      where.push('e.action = ?');
      params.push(q.action);
    }
    if (q.withinRepos !== undefined) {
      // every repository the event mentions is one the viewer administers (and there is one)
      where.push(
        `json_array_length(e.repo_ids) > 0 AND NOT EXISTS (
           SELECT 1 FROM json_each(e.repo_ids) j WHERE j.value NOT IN (SELECT value FROM json_each(?)))`,
      );
      params.push(JSON.stringify(q.withinRepos));
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return this.sql.run(() => {
      const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM audit_events e ${clause}`).get(...params) as { n: number }).n;
      const rows = this.db
        .prepare(`SELECT * FROM audit_events e ${clause} ORDER BY e.id DESC LIMIT ? OFFSET ?`)
        .all(...params, q.pageSize, q.pageStart) as AuditDbRow[];
      const items = rows.map(auditFromRow);
      const next = q.pageStart + items.length;
      return { items, total_items: total, next_page: next < total ? next : null };
    });
  }
}
