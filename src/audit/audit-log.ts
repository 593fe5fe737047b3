// The audit trail (an AuditStore: db/stores.ts): every push (one `push` row plus a
// ref.update per ref), every ref moved by the REST API, every repository created and deleted,
// every token minted, rotated and revoked (cascades included), every change to protected refs.
// Append-only; listed newest first by admins (REST GET /v1/audit, CLI `gitgate audit list`).
// It is also the one source of the event stream (src/events): the row id is the event cursor.
import type { AuditRow, Page } from '../db/records.js';
import type { AuditStore } from '../db/stores.js';
import { isoAt, systemClock, type Clock } from '../db/time.js';
import { GitgateError } from '../errors.js';
import { redactSecrets } from '../redact.js';
import { currentActor } from './actor.js';
import { oidOrNull } from '../oid.js';

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

export interface AuditEvent extends AuditRow {
  action: AuditAction;
}

export interface AuditQuery {
  repoId?: string;
  action?: string;
  pageSize?: number;
  pageStart?: number;
  /** Restrict to events whose repositories all lie within this set (repository admins). */
  withinRepos?: string[];
}


export class AuditLog {
  private readonly now: Clock;
  constructor(
    private readonly store: AuditStore,
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

  /** Record one event. Never rejects: the change it describes has already happened. */
  record(e: AuditInput): Promise<void> {
    return this.recordMany([e]);
  }

  /** Records the events in one transaction; resolves once they are committed. */
  async recordMany(events: AuditInput[]): Promise<void> {
    if (events.length === 0) return;
    const actor = currentActor();
    const at = isoAt(this.now());
    try {
      await this.store.append(
        events.map((e) => ({
          at,
          action: e.action,
          actor_token_id: e.actorTokenId !== undefined ? e.actorTokenId : (actor?.tokenId ?? null),
          client_ip: e.clientIp !== undefined ? e.clientIp : (actor?.ip ?? null),
          repo_ids: e.repoIds ?? [],
          ref: e.ref == null ? null : redactSecrets(e.ref),
          old_oid: oidOrNull(e.oldOid),
          new_oid: oidOrNull(e.newOid),
          target_token_id: e.targetTokenId ?? null,
          // token names, paths: client text
          detail: e.detail ? (JSON.parse(redactSecrets(JSON.stringify(e.detail))) as Record<string, unknown>) : null,
        })),
      );
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
  after(cursor: number, limit: number): Promise<AuditEvent[]> {
    return this.store.after(cursor, limit) as Promise<AuditEvent[]>;
  }

  /** The newest event's id (0 when there is none). */
  latestId(): Promise<number> {
    return this.store.latestId();
  }

  async list(q: AuditQuery = {}): Promise<Page<AuditEvent>> {
    const pageSize = q.pageSize ?? 100;
    const pageStart = q.pageStart ?? 0;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw validation('page_size must be an integer from 1 to 1000');
    if (!Number.isInteger(pageStart) || pageStart < 0) throw validation('page_start must be a non-negative integer');
    return (await this.store.list({ repoId: q.repoId, action: q.action, withinRepos: q.withinRepos, pageSize, pageStart })) as Page<AuditEvent>;
  }
}

function validation(detail: string): GitgateError {
  return new GitgateError('VALIDATION', { detail });
}
