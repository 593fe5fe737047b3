// The audit trail (SQLite table audit_events, migration 2): every push (one `push` row plus a
// ref.update per ref), every ref moved by the REST API, every repository created and deleted,
// every token minted, rotated and revoked (cascades included), every change to protected refs.
// Append-only; listed newest first by admins (REST GET /v1/audit, CLI `gitgate audit list`).
// It is also the one source of the event stream (src/events): the row id is the event cursor.
import type { Db } from '../db/database.js';
import { isoAt, systemClock, type Clock } from '../db/time.js';
import { GitgateError } from '../errors.js';
import { redactSecrets } from '../redact.js';
import { currentActor } from './actor.js';

/** Every kind of event, for validation and documentation (REST filter, CLI, OpenAPI). */
export const AUDIT_ACTIONS = ['push', 'ref.update', 'repo.create', 'repo.delete', 'token.create', 'token.revoke', 'token.rotate', 'repo.protected_refs', 'repo.fork'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditInput {
  action: AuditAction;
  /** Default: the current request's actor (AsyncLocalStorage), else null (CLI). */
  actorTokenId?: string | null;
  clientIp?: string | null;
  /** Repositories the event concerns (visibility for repository admins). */
  repoIds?: string[];
  ref?: string | null;
  oldOid?: string | null;
  newOid?: string | null;
  targetTokenId?: string | null;
  detail?: Record<string, unknown> | null;
}

export interface AuditEvent {
  id: number;
  at: string;
  action: AuditAction;
  actor_token_id: string | null;
  client_ip: string | null;
  repo_id: string | null;
  repo_ids: string[];
  ref: string | null;
  old_oid: string | null;
  new_oid: string | null;
  target_token_id: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditQuery {
  repoId?: string;
  action?: string;
  pageSize?: number;
  pageStart?: number;
  /** Restrict to events whose repositories all lie within this set (repository admins). */
  withinRepos?: string[];
}

interface Row extends Omit<AuditEvent, 'repo_ids' | 'detail'> {
  repo_ids: string;
  detail: string | null;
}

const ZERO_OID = '0'.repeat(40);

export class AuditLog {
  private readonly now: Clock;
  constructor(
    private readonly db: Db,
    opts: { now?: Clock; onError?: (err: unknown) => void } = {},
  ) {
    this.now = opts.now ?? systemClock;
    this.onError = opts.onError ?? (() => undefined);
  }
  onError: (err: unknown) => void;
  private readonly listeners = new Set<() => void>();

  /** Called after each committed batch of events (in-process wake-up for feeds and webhooks). */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Record one event. Never throws: the change it describes has already happened. */
  record(e: AuditInput): void {
    this.recordMany([e]);
  }

  recordMany(events: AuditInput[]): void {
    if (events.length === 0) return;
    const actor = currentActor();
    const at = isoAt(this.now());
    try {
      const insert = this.db.prepare(
        `INSERT INTO audit_events (at, action, actor_token_id, client_ip, repo_id, repo_ids, ref, old_oid, new_oid, target_token_id, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      this.db.transaction(() => {
        for (const e of events) {
          const repoIds = e.repoIds ?? [];
          insert.run(
            at,
            e.action,
            e.actorTokenId !== undefined ? e.actorTokenId : (actor?.tokenId ?? null),
            e.clientIp !== undefined ? e.clientIp : (actor?.ip ?? null),
            repoIds.length === 1 ? repoIds[0]! : null,
            JSON.stringify(repoIds),
            e.ref == null ? null : redactSecrets(e.ref),
            e.oldOid === ZERO_OID ? null : (e.oldOid ?? null),
            e.newOid === ZERO_OID ? null : (e.newOid ?? null),
            e.targetTokenId ?? null,
            e.detail ? redactSecrets(JSON.stringify(e.detail)) : null, // token names, paths: client text
          );
        }
      })();
    } catch (err) {
      this.onError(err);
      return;
    }
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.onError(err);
      }
    }
  }

  /** Events with id > `cursor`, oldest first (the event stream). */
  after(cursor: number, limit: number): AuditEvent[] {
    const rows = this.db.prepare('SELECT * FROM audit_events WHERE id > ? ORDER BY id LIMIT ?').all(cursor, limit) as Row[];
    return rows.map(fromRow);
  }

  /** The newest event's id (0 when there is none). */
  latestId(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM audit_events').get() as { id: number }).id;
  }

  list(q: AuditQuery = {}): { items: AuditEvent[]; total_items: number; next_page: number | null } {
    const pageSize = q.pageSize ?? 100;
    const pageStart = q.pageStart ?? 0;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw validation('page_size must be an integer from 1 to 1000');
    if (!Number.isInteger(pageStart) || pageStart < 0) throw validation('page_start must be a non-negative integer');
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
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM audit_events e ${clause}`).get(...params) as { n: number }).n;
    const rows = this.db
      .prepare(`SELECT * FROM audit_events e ${clause} ORDER BY e.id DESC LIMIT ? OFFSET ?`)
      .all(...params, pageSize, pageStart) as Row[];
    const items = rows.map(fromRow);
    const next = pageStart + items.length;
    return { items, total_items: total, next_page: next < total ? next : null };
  }
}

function fromRow(r: Row): AuditEvent {
  return { ...r, repo_ids: JSON.parse(r.repo_ids) as string[], detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null };
}

function validation(detail: string): GitgateError {
  return new GitgateError('VALIDATION', { detail });
}
