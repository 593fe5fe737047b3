// The webhooks tables (migration 4): webhooks, their durable delivery queue, every attempt,
// and how far the fan-out from the audit trail has got.
import crypto from 'node:crypto';
import type { Db } from '../db/database.js';
import { isoAt } from '../db/time.js';

export interface Webhook {
  id: string;
  url: string;
  repo_id: string | null;
  events: string[];
  created_by: string;
  created_at: string;
}

/** A webhook with its secret: for signing only, never for responses or logs. */
export interface WebhookWithSecret extends Webhook {
  secret: string;
  after_event: number;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface Delivery {
  id: string;
  webhook_id: string;
  event_id: number;
  event_type: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  first_at: number;
  next_attempt_at: number;
}

export interface Attempt {
  delivery_id: string;
  event: string;
  event_id: string;
  attempt: number;
  at: string;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  success: boolean;
  /** The delivery's state now: pending (more attempts to come), delivered or failed. */
  state: DeliveryState;
}

export interface Page<T> {
  items: T[];
  total_items: number;
  next_page: number | null;
}

interface HookRow extends Omit<WebhookWithSecret, 'events'> {
  events: string;
}

function fromRow(r: HookRow): WebhookWithSecret {
  return { ...r, events: JSON.parse(r.events) as string[] };
}

export function publicWebhook(h: WebhookWithSecret): Webhook {
  return { id: h.id, url: h.url, repo_id: h.repo_id, events: h.events, created_by: h.created_by, created_at: h.created_at };
}

export class WebhookStore {
  constructor(private readonly db: Db) {}

  create(input: { url: string; repoId: string | null; events: string[]; secret: string; createdBy: string; afterEvent: number; nowMs: number }): WebhookWithSecret {
    const id = `wh_${crypto.randomBytes(12).toString('hex')}`;
    this.db
      .prepare('INSERT INTO webhooks (id, url, repo_id, events, secret, created_by, created_at, after_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, input.url, input.repoId, JSON.stringify(input.events), input.secret, input.createdBy, isoAt(input.nowMs), input.afterEvent);
    return this.get(id)!;
  }

  get(id: string): WebhookWithSecret | null {
    const row = this.db.prepare('SELECT * FROM webhooks WHERE id = ?').get(id) as HookRow | undefined;
    return row ? fromRow(row) : null;
  }

  all(): WebhookWithSecret[] {
    return (this.db.prepare('SELECT * FROM webhooks ORDER BY created_at, id').all() as HookRow[]).map(fromRow);
  }

  /** Deletes the webhook with its queue and attempts. */
  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0;
  }

  /** Deletes the webhooks of one repository, with their queues and attempts (the repository is being deleted). */
  deleteForRepo(repoId: string): number {
    return this.db.transaction(() => {
      const ids = (this.db.prepare('SELECT id FROM webhooks WHERE repo_id = ?').all(repoId) as { id: string }[]).map((r) => r.id);
      // explicit, not only ON DELETE CASCADE, so it holds even with foreign_keys off
      for (const id of ids) {
        this.db.prepare('DELETE FROM webhook_attempts WHERE webhook_id = ?').run(id);
        this.db.prepare('DELETE FROM webhook_deliveries WHERE webhook_id = ?').run(id);
      }
      return this.db.prepare('DELETE FROM webhooks WHERE repo_id = ?').run(repoId).changes;
    })();
  }

  dispatchCursor(): number {
    return (this.db.prepare('SELECT last_event_id AS id FROM webhook_dispatch WHERE id = 1').get() as { id: number }).id;
  }

  /** Queues deliveries and advances the fan-out cursor in one transaction: a crash repeats the
   *  batch, and (webhook, event) is unique, so nothing is queued twice. */
  enqueue(items: { webhookId: string; eventId: number; eventType: string; body: string }[], cursor: number, nowMs: number): void {
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO webhook_deliveries (id, webhook_id, event_id, event_type, body, first_at, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const d of items) insert.run(crypto.randomUUID(), d.webhookId, d.eventId, d.eventType, d.body, nowMs, nowMs);
      this.db.prepare('UPDATE webhook_dispatch SET last_event_id = ? WHERE id = 1 AND last_event_id < ?').run(cursor, cursor);
    })();
  }

  /** Pending deliveries due by `nowMs`, oldest first, excluding `skip` (in flight here). */
  due(nowMs: number, limit: number, skip: ReadonlySet<string>): Delivery[] {
    const rows = this.db
      .prepare(`SELECT * FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, event_id LIMIT ?`)
      .all(nowMs, limit + skip.size) as Delivery[];
    return rows.filter((r) => !skip.has(r.id)).slice(0, limit);
  }

  /** When the next pending delivery falls due (ms), or null. */
  nextDue(): number | null {
    return (this.db.prepare(`SELECT MIN(next_attempt_at) AS t FROM webhook_deliveries WHERE state = 'pending'`).get() as { t: number | null }).t;
  }

  /** Takes a due delivery for one attempt: its next_attempt_at becomes the lease's end, so a
   *  process that dies mid-attempt leaves it to be retried once the lease runs out. */
  claim(d: Delivery, leaseUntil: number): boolean {
    return (
      this.db
        .prepare(`UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND state = 'pending' AND next_attempt_at = ?`)
        .run(leaseUntil, d.id, d.next_attempt_at).changes === 1
    );
  }

  /** An attempt was cut short by shutdown: due again at once, nothing recorded. */
  release(id: string, nowMs: number): void {
    this.db.prepare(`UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND state = 'pending'`).run(nowMs, id);
  }

  /** Records one attempt and the delivery's new state (next: when to retry, for pending). */
  finish(d: Delivery, result: { statusCode: number | null; durationMs: number; error: string | null; state: DeliveryState; next: number; nowMs: number }): void {
    this.db.transaction(() => {
      const attempt = d.attempts + 1;
      const changed = this.db
        .prepare(`UPDATE webhook_deliveries SET attempts = ?, state = ?, next_attempt_at = ? WHERE id = ?`)
        .run(attempt, result.state, result.next, d.id).changes;
      if (changed === 0) return; // the webhook was deleted meanwhile
      this.db
        .prepare('INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, at, status_code, duration_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(d.id, d.webhook_id, attempt, isoAt(result.nowMs), result.statusCode, result.durationMs, result.error);
    })();
  }

  /** Gives up on a delivery without an attempt (its webhook's creator lost its rights). */
  abandon(id: string): void {
    this.db.prepare(`UPDATE webhook_deliveries SET state = 'failed' WHERE id = ? AND state = 'pending'`).run(id);
  }

  /** Every attempt of a webhook, newest first. */
  attempts(webhookId: string, pageSize: number, pageStart: number): Page<Attempt> {
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
  }

  /** Drops finished deliveries (and their attempts) older than `beforeMs`. */
  prune(beforeMs: number): void {
    this.db.prepare(`DELETE FROM webhook_deliveries WHERE state != 'pending' AND first_at < ?`).run(beforeMs);
  }
}
