// WebhookStore over PostgreSQL: webhooks, the durable delivery queue, attempts and the fan-out
// cursor. claimDue uses FOR UPDATE SKIP LOCKED, so nodes claiming at once never share a delivery.
import crypto from 'node:crypto';
import type { Attempt, Delivery, Page, WebhookWithSecret } from '../records.js';
import type { DeliveryResult, NewWebhook, WebhookStore } from '../stores.js';
import { isoAt } from '../time.js';
import { webhookFromRow, type WebhookDbRow } from '../rows.js';
import type { PgAccess } from './conn.js';

type HookRow = WebhookDbRow & Record<string, unknown>;
type DeliveryRow = Delivery & Record<string, unknown>;

function delivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    webhook_id: r.webhook_id,
    event_id: r.event_id,
    event_type: r.event_type,
    body: r.body,
    state: r.state,
    attempts: r.attempts,
    first_at: r.first_at,
    next_attempt_at: r.next_attempt_at,
  };
}

export class PgWebhookStore implements WebhookStore {
  constructor(private readonly db: PgAccess) {}

  async create(input: NewWebhook): Promise<WebhookWithSecret> {
    const id = `wh_${crypto.randomBytes(12).toString('hex')}`;
    const { rows } = await this.db.query<HookRow>(
      'INSERT INTO webhooks (id, url, repo_id, events, secret, created_by, created_at, after_event) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *',
      [id, input.url, input.repoId, JSON.stringify(input.events), input.secret, input.createdBy, isoAt(input.nowMs), input.afterEvent],
    );
    return webhookFromRow(rows[0]!);
  }

  async get(id: string): Promise<WebhookWithSecret | null> {
    const { rows } = await this.db.query<HookRow>('SELECT * FROM webhooks WHERE id = $1', [id]);
    return rows[0] ? webhookFromRow(rows[0]) : null;
  }

  async all(): Promise<WebhookWithSecret[]> {
    return (await this.db.query<HookRow>('SELECT * FROM webhooks ORDER BY created_at, id')).rows.map(webhookFromRow);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM webhooks WHERE id = $1', [id])).rowCount! > 0;
  }

  async deleteForRepo(repoId: string): Promise<number> {
    return this.db.atomic(async (q) => {
      // explicit, not only ON DELETE CASCADE: attempts name the webhook too
      await q.query('DELETE FROM webhook_attempts WHERE webhook_id IN (SELECT id FROM webhooks WHERE repo_id = $1)', [repoId]);
      await q.query('DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE repo_id = $1)', [repoId]);
      return (await q.query('DELETE FROM webhooks WHERE repo_id = $1', [repoId])).rowCount ?? 0;
    });
  }

  async dispatchCursor(): Promise<number> {
    return (await this.db.query<{ id: number }>('SELECT last_event_id AS id FROM webhook_dispatch WHERE id = 1')).rows[0]!.id;
  }

  async enqueue(items: { webhookId: string; eventId: number; eventType: string; body: string }[], cursor: number, nowMs: number): Promise<void> {
    await this.db.atomic(async (q) => {
      for (const d of items) {
        await q.query(
          `INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, body, first_at, next_attempt_at)
           VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (webhook_id, event_id) DO NOTHING`,
          [crypto.randomUUID(), d.webhookId, d.eventId, d.eventType, d.body, nowMs],
        );
      }
      await q.query('UPDATE webhook_dispatch SET last_event_id = $1 WHERE id = 1 AND last_event_id < $1', [cursor]);
    });
  }

  async claimDue(nowMs: number, limit: number, leaseUntil: number): Promise<Delivery[]> {
    const { rows } = await this.db.query<DeliveryRow & { was: number }>(
      `WITH due AS (
         SELECT id, next_attempt_at AS was FROM webhook_deliveries
          WHERE state = 'pending' AND next_attempt_at <= $1
          ORDER BY next_attempt_at, event_id LIMIT $2
          FOR UPDATE SKIP LOCKED
       )
       UPDATE webhook_deliveries d SET next_attempt_at = $3 FROM due WHERE d.id = due.id
       RETURNING d.*, due.was`,
      [nowMs, limit, leaseUntil],
    );
    return rows.sort((a, b) => a.was - b.was || a.event_id - b.event_id).map(delivery);
  }

  async nextDue(): Promise<number | null> {
    return (await this.db.query<{ t: number | null }>(`SELECT MIN(next_attempt_at) AS t FROM webhook_deliveries WHERE state = 'pending'`)).rows[0]!.t;
  }

  async release(id: string, nowMs: number): Promise<void> {
    await this.db.query(`UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2 AND state = 'pending'`, [nowMs, id]);
  }

  async finish(d: Delivery, result: DeliveryResult): Promise<void> {
    await this.db.atomic(async (q) => {
      const attempt = d.attempts + 1;
      const changed = await q.query('UPDATE webhook_deliveries SET attempts = $1, state = $2, next_attempt_at = $3 WHERE id = $4', [attempt, result.state, result.next, d.id]);
      if (changed.rowCount === 0) return; // the webhook was deleted meanwhile
      await q.query('INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, at, status_code, duration_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        d.id,
        d.webhook_id,
        attempt,
        isoAt(result.nowMs),
        result.statusCode,
        Math.round(result.durationMs),
        result.error,
      ]);
    });
  }

  async abandon(id: string): Promise<void> {
    await this.db.query(`UPDATE webhook_deliveries SET state = 'failed' WHERE id = $1 AND state = 'pending'`, [id]);
  }

  async attempts(webhookId: string, pageSize: number, pageStart: number): Promise<Page<Attempt>> {
    const total = (await this.db.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM webhook_attempts WHERE webhook_id = $1', [webhookId])).rows[0]!.n;
    const rows = (
      await this.db.query<Omit<Attempt, 'success' | 'event_id'> & { event_id: number }>(
        `SELECT a.delivery_id, d.event_type AS event, d.event_id, a.attempt, a.at, a.status_code, a.duration_ms, a.error, d.state
           FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
          WHERE a.webhook_id = $1 ORDER BY a.id DESC LIMIT $2 OFFSET $3`,
        [webhookId, pageSize, pageStart],
      )
    ).rows;
    const items = rows.map((r) => ({ ...r, event_id: String(r.event_id), success: r.status_code !== null && r.status_code >= 200 && r.status_code < 300 }));
    const next = pageStart + items.length;
    return { items, total_items: total, next_page: next < total ? next : null };
  }

  async prune(beforeMs: number): Promise<void> {
    await this.db.query(`DELETE FROM webhook_deliveries WHERE state != 'pending' AND first_at < $1`, [beforeMs]);
  }
}
