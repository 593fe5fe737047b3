// The event stream's public shape. Every audit row is one event (src/audit is the one source);
// its row id is the cursor, so the order is the order of commitment and never changes.
import { AUDIT_ACTIONS, type AuditAction, type AuditEvent } from '../audit/audit-log.js';
import { ZERO_OID } from '../oid.js';

export const EVENT_TYPES = AUDIT_ACTIONS;
export type EventType = AuditAction;

export interface GitgateEvent {
  /** The cursor: a decimal integer, increasing. */
  id: string;
  type: EventType;
  created_at: string;
  /** The repository concerned, when exactly one is. */
  repo_id: string | null;
  repo_ids: string[];
  /** The token that acted (null: the operator's CLI). */
  actor_token_id: string | null;
  data: Record<string, unknown>;
}

// GitHub's push payloads spell "no commit" as 40 zeros
const oid = (v: unknown): string => (typeof v === 'string' ? v : ZERO_OID);

interface RefChange {
  ref: string;
  before: string;
  after: string;
  created: boolean;
  deleted: boolean;
}

function refChange(ref: unknown, before: unknown, after: unknown): RefChange {
  return { ref: String(ref), before: oid(before), after: oid(after), created: typeof before !== 'string', deleted: typeof after !== 'string' };
}

export function toEvent(e: AuditEvent): GitgateEvent {
  const detail = e.detail ?? {};
  let data: Record<string, unknown>;
  switch (e.action) {
    case 'push': {
      const refs = (Array.isArray(detail.refs) ? detail.refs : []) as { ref: string; before: string | null; after: string | null }[];
      const changes = refs.map((r) => refChange(r.ref, r.before, r.after));
      // GitHub-like top level for the first ref; ref_updates carries every ref of the push
      data = { ...(changes[0] ?? {}), ref_updates: changes, repository: { id: e.repo_id }, pusher: { token_id: e.actor_token_id } };
      break;
    }
    case 'ref.update':
      data = { ...refChange(e.ref, e.old_oid, e.new_oid), via: detail.via ?? null, repository: { id: e.repo_id } };
      break;
    case 'repo.create':
    case 'repo.delete':
    case 'repo.protected_refs':
      data = { repository: { id: e.repo_id, ...(detail.name !== undefined ? { name: detail.name } : {}) }, ...detail };
      delete data.name;
      break;
    default: // token.*: the audit detail never holds a secret
      data = { token_id: e.target_token_id, ...detail };
  }
  return {
    id: String(e.id),
    type: e.action,
    created_at: e.at,
    repo_id: e.repo_id,
    repo_ids: e.repo_ids,
    actor_token_id: e.actor_token_id,
    data,
  };
}
