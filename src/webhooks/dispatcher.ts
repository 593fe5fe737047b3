// Background webhook delivery. Two steps, both driven by the event bus and a timer:
//  1. fan-out: audit events after the stored cursor become queued deliveries (webhook_deliveries)
//     for each webhook whose filter matches and whose creator, still live, may see the event;
//  2. sending: due deliveries are claimed with a lease and POSTed, at most `concurrency` at a
//     time; a failure is retried with exponential backoff until the retry window closes.
// Everything is in the WebhookStore (db/), so a restart loses nothing: queued deliveries wait, and one in flight
// when the process died is due again when its lease runs out.
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { TokenRecord } from '../auth/token-record.js';
import type { WebhookConfig } from '../config.js';
import type { EventBus } from '../events/bus.js';
import { toEvent } from '../events/event.js';
import { canSeeEvent } from '../events/visibility.js';
import type { RequestPolicy } from '../net/request-policy.js';
import { matchesEvent } from './patterns.js';
import { sendDelivery } from './send.js';
import { signatureHeader } from './signature.js';
import type { Delivery } from '../db/records.js';
import type { WebhookStore } from '../db/stores.js';

const FAN_OUT_BATCH = 500;
const LEASE_MARGIN_MS = 5_000;
const KEEP_FINISHED_MS = 30 * 86_400_000;

export interface DispatcherDeps {
  store: WebhookStore;
  audit: AuditLog;
  tokens: { get(id: string): Promise<TokenRecord | null> };
  bus: EventBus;
  config: WebhookConfig;
  policy: RequestPolicy;
  log: Logger;
  now?: () => number;
}

/** A webhook acts with its creator's rights: revoked or expired, its deliveries stop. */
export function isLive(t: TokenRecord | null, nowMs: number): t is TokenRecord {
  return t !== null && t.revoked_at === null && (t.expires_at === null || Date.parse(t.expires_at) > nowMs);
}

export class WebhookDispatcher {
  private running = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  /** The dispatch round running now (rounds never overlap), and whether another was asked for meanwhile. */
  private round: Promise<void> | null = null;
  private again = false;
  private offBus: (() => void) | null = null;
  private readonly inflight = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private readonly now: () => number;

  constructor(private readonly deps: DispatcherDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.offBus = this.deps.bus.onEvent(() => this.kick());
    this.round = this.deps.store
      .prune(this.now() - KEEP_FINISHED_MS)
      .catch((err: unknown) => this.deps.log.error({ err }, 'webhook queue pruning failed'))
      .finally(() => {
        this.round = null;
        this.kick();
      });
  }

  /** Stops sending: attempts in flight are aborted and left due at once (nothing recorded). */
  async stop(): Promise<void> {
    this.running = false;
    this.offBus?.();
    this.offBus = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.round;
    for (const { abort } of this.inflight.values()) abort.abort();
    await Promise.all([...this.inflight.values()].map((f) => f.done));
  }

  /** Run a dispatch round soon (coalesced). */
  kick(): void {
    if (!this.running) return;
    if (this.round) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.running || this.round) return void (this.again = true);
      this.round = this.tick().finally(() => {
        this.round = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
    });
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    try {
      await this.fanOut();
      await this.pump();
      await this.arm();
    } catch (err) {
      this.deps.log.error({ err }, 'webhook dispatch failed');
    }
  }

  private async fanOut(): Promise<void> {
    const { store, audit, tokens } = this.deps;
    const hooks = await store.all();
    let cursor = await store.dispatchCursor();
    if (hooks.length === 0) {
      // nobody to deliver to: a webhook created later starts after its creation anyway
      const latest = await audit.latestId();
      if (latest > cursor) await store.enqueue([], latest, this.now());
      return;
    }
    const nowMs = this.now();
    const creators = new Map<string, TokenRecord | null>();
    const creator = async (id: string) => {
      if (!creators.has(id)) creators.set(id, await tokens.get(id));
      return creators.get(id)!;
    };
    for (;;) {
      const rows = await audit.after(cursor, FAN_OUT_BATCH);
      if (rows.length === 0) return;
      const items: Parameters<WebhookStore['enqueue']>[0] = [];
      for (const row of rows) {
        let body: string | null = null;
        for (const hook of hooks) {
          if (row.id <= hook.after_event || !matchesEvent(hook.events, row.action)) continue;
          if (hook.repo_id !== null && !row.repo_ids.includes(hook.repo_id)) continue;
          const who = await creator(hook.created_by);
          if (!isLive(who, nowMs) || !(await canSeeEvent(who, row, (id) => tokens.get(id)))) continue;
          body ??= JSON.stringify(toEvent(row));
          items.push({ webhookId: hook.id, eventId: row.id, eventType: row.action, body });
        }
      }
      cursor = rows[rows.length - 1]!.id;
      await store.enqueue(items, cursor, nowMs);
      if (rows.length < FAN_OUT_BATCH) return;
    }
  }

  private async pump(): Promise<void> {
    const { store, config } = this.deps;
    const free = config.webhookConcurrency - this.inflight.size;
    if (free <= 0) return;
    const nowMs = this.now();
    // claimed atomically: another process (or node) claiming at the same time gets others
    for (const d of await store.claimDue(nowMs, free, nowMs + config.webhookTimeoutMs + LEASE_MARGIN_MS)) {
      if (this.inflight.has(d.id)) continue; // cannot happen while leases outlast attempts; never send twice here
      await this.attempt(d);
    }
  }

  /** Wake up when the next delivery falls due (deliveries finishing kick us anyway). */
  private async arm(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inflight.size >= this.deps.config.webhookConcurrency) return;
    const next = await this.deps.store.nextDue();
    if (next === null || !this.running) return;
    const delay = Math.min(Math.max(0, next - this.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => this.kick(), delay);
    this.timer.unref();
  }

  /** Starts one attempt (resolves once it is under way, not when it ends). */
  private async attempt(d: Delivery): Promise<void> {
    const { store, tokens, config, policy, log } = this.deps;
    const hook = await store.get(d.webhook_id);
    if (!hook) return; // deleted: its queue went with it
    const nowMs = this.now();
    if (!isLive(await tokens.get(hook.created_by), nowMs)) {
      await store.finish(d, { statusCode: null, durationMs: 0, error: 'not sent: the token that created the webhook is revoked or expired', state: 'failed', next: nowMs, nowMs });
      return;
    }
    const body = Buffer.from(d.body);
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': `gitgate-Hookshot/${hook.id.slice(3, 10)}`,
      'X-Gitgate-Event': d.event_type,
      'X-Gitgate-Delivery': d.id,
      'X-Gitgate-Hook-ID': hook.id,
      'X-Gitgate-Signature-256': signatureHeader(hook.secret, body),
    };
    const abort = new AbortController();
    const done = sendDelivery(policy, hook.url, headers, body, { timeoutMs: config.webhookTimeoutMs, signal: abort.signal }).then(async (result) => {
      this.inflight.delete(d.id);
      if (abort.signal.aborted) {
        await store.release(d.id, this.now());
        return;
      }
      const at = this.now();
      const ok = result.error === null;
      const attempt = d.attempts + 1;
      const delay = Math.min(config.webhookBackoffMs * 2 ** Math.min(attempt - 1, 40), config.webhookBackoffMaxMs);
      const giveUp = !ok && (result.refused || at + delay > d.first_at + config.webhookRetryMs);
      const state = ok ? 'delivered' : giveUp ? 'failed' : 'pending';
      await store.finish(d, { statusCode: result.statusCode, durationMs: result.durationMs, error: result.error, state, next: ok || giveUp ? at : at + delay, nowMs: at });
      const fields = { webhook_id: hook.id, delivery_id: d.id, event: d.event_type, attempt, status_code: result.statusCode, ms: result.durationMs };
      if (ok) log.info(fields, 'webhook delivered');
      else log.warn({ ...fields, error: result.error, retry_in_ms: giveUp ? null : delay }, giveUp ? 'webhook delivery failed for good' : 'webhook delivery failed');
      this.kick();
    });
    this.inflight.set(d.id, {
      abort,
      done: done.catch((err: unknown) => {
        this.inflight.delete(d.id);
        log.error({ err, webhook_id: hook.id }, 'webhook delivery bookkeeping failed');
      }),
    });
  }
}
