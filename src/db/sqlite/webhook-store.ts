// WebhookStore over SQLite (migration 4): webhooks, their durable delivery queue, every
// attempt, and how far the fan-out from the audit trail has got.
import crypto from 'node:crypto';
import type { Attempt, Delivery, Page, WebhookWithSecret } from '../records.js';
import type { DeliveryResult, NewWebhook, WebhookStore } from '../stores.js';
import { isoAt } from '../time.js';
import { webhookFromRow, type WebhookDbRow } from '../rows.js';
import type { SqliteAccess } from './conn.js';

type HookRow = WebhookDbRow;

export class SqliteWebhookStore implements WebhookStore {
  constructor(private readonly sql: SqliteAccess) {}

  private get db() {
    return this.sql.conn;
  }

  create(input: NewWebhook): Promise<WebhookWithSecret> {
    const id = `wh_${crypto.randomBytes(12).toString('hex')}`;
    return this.sql.run(() => {
      this.db
        .prepare('INSERT INTO webhooks (id, url, repo_id, events, secret, created_by, created_at, after_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(id, input.url, input.repoId, JSON.stringify(input.events), input.secret, input.createdBy, isoAt(input.nowMs), input.afterEvent);
      return this.hook(id)!;
    });
  }

  get(id: string): Promise<WebhookWithSecret | null> {
    return this.sql.run(() => this.hook(id));
  }

  private hook(id: string): WebhookWithSecret | null {
    const row = this.db.prepare('SELECT * FROM webhooks WHERE id = ?').get(id) as HookRow | undefined;
    return row ? webhookFromRow(row) : null;
  }

  all(): Promise<WebhookWithSecret[]> {
    return this.sql.run(() => (this.db.prepare('SELECT * FROM webhooks ORDER BY created_at, id').all() as HookRow[]).map(webhookFromRow));
  }

  delete(id: string): Promise<boolean> {
    return this.sql.run(() => this.db.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0);
  }

  deleteForRepo(repoId: string): Promise<number> {
    return this.sql.run(() =>
      this.db.db.transaction(() => {
        // explicit, not only ON DELETE CASCADE, so it holds even with foreign_keys off
        this.db.prepare('DELETE FROM webhook_attempts WHERE webhook_id IN (SELECT id FROM webhooks WHERE repo_id = ?)').run(repoId);
        this.db.prepare('DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE repo_id = ?)').run(repoId);
        return this.db.prepare('DELETE FROM webhooks WHERE repo_id = ?').run(repoId).changes;
      })(),
    );
  }

  dispatchCursor(): Promise<number> {
    return this.sql.run(() => (this.db.prepare('SELECT last_event_id AS id FROM webhook_dispatch WHERE id = 1').get() as { id: number }).id);
  }

  enqueue(items: { webhookId: string; eventId: number; eventType: string; body: string }[], cursor: number, nowMs: number): Promise<void> {
    return this.sql.run(() => {
      const insert = this.db.prepare(
        `INSERT OR IGNORE INTO webhook_deliveries (id, webhook_id, event_id, event_type, body, first_at, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      this.db.db.transaction(() => {
        for (const d of items) insert.run(crypto.randomUUID(), d.webhookId, d.eventId, d.eventType, d.body, nowMs, nowMs);
        this.db.prepare('UPDATE webhook_dispatch SET last_event_id = ? WHERE id = 1 AND last_event_id < ?').run(cursor, cursor);
      })();
    });
  }

  /** One IMMEDIATE transaction takes SQLite's write lock before reading, so another process
   *  claiming at the same moment waits and then sees the new leases. */
  claimDue(nowMs: number, limit: number, leaseUntil: number): Promise<Delivery[]> {
    return this.sql.run(() =>
      this.db.db
        .transaction(() => {
          const due = this.db
            .prepare(`SELECT * FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, event_id LIMIT ?`)
            .all(nowMs, limit) as Delivery[];
          const lease = this.db.prepare('UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?');
          for (const d of due) lease.run(leaseUntil, d.id);
          return due.map((d) => ({ ...d, next_attempt_at: leaseUntil }));
        })
        .immediate(),
    );
  }

  nextDue(): Promise<number | null> {
    return this.sql.run(() => (this.db.prepare(`SELECT MIN(next_attempt_at) AS t FROM webhook_deliveries WHERE state = 'pending'`).get() as { t: number | null }).t);
  }

  release(id: string, nowMs: number): Promise<void> {
    return this.sql.run(() => {
      this.db.prepare(`UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND state = 'pending'`).run(nowMs, id);
    });
  }

  finish(d: Delivery, result: DeliveryResult): Promise<void> {
    return this.sql.run(() =>
      this.db.db.transaction(() => {
        const attempt = d.attempts + 1;
        const changed = this.db
          .prepare(`UPDATE webhook_deliveries SET attempts = ?, state = ?, next_attempt_at = ? WHERE id = ?`)
          .run(attempt, result.state, result.next, d.id).changes;
        if (changed === 0) return; // the webhook was deleted meanwhile
        this.db
          .prepare('INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, at, status_code, duration_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(d.id, d.webhook_id, attempt, isoAt(result.nowMs), result.statusCode, result.durationMs, result.error);
      })(),
    );
  }

  abandon(id: string): Promise<void> {
    return this.sql.run(() => {
      this.db.prepare(`UPDATE webhook_deliveries SET state = 'failed' WHERE id = ? AND state = 'pending'`).run(id);
    });
  }

  attempts(webhookId: string, pageSize: number, pageStart: number): Promise<Page<Attempt>> {
    return this.sql.run(() => {
      const total = (this.db.prepare('SELECT COUNT(*) AS n FROM webhook_attempts WHERE webhook_id = ?').get(webhookId) as { n: number }).n;
      const rows = this.db
        .prepare(
          `SELECT a.delivery_id, d.event_type AS event, d.event_id, a.attempt, a.at, a.status_code, a.duration_ms, a.error, d.state
             FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
            WHERE a.webhook_id = ? ORDER BY a.id DESC LIMIT ? OFFSET ?`,
        )
        .all(webhookId, pageSize, pageStart) as (Omit<Attempt, 'success' | 'event_id'> & { event_id: number })[];
      const items = rows.map((r) => ({
        ...r,
        event_id: String(r.event_id),
        success: r.status_code !== null && r.status_code >= 200 && r.status_code < 300,
      }));
      const next = pageStart + items.length;
      return { items, total_items: total, next_page: next < total ? next : null };
    });
  }

  prune(beforeMs: number): Promise<void> {
    return this.sql.run(() => {
      this.db.prepare(`DELETE FROM webhook_deliveries WHERE state != 'pending' AND first_at < ?`).run(beforeMs);
    });
  }
}
