// One mapping of each table's row to its record, shared by the engines. A row comes as either
// engine returns it: SQLite gives JSON columns as text and booleans as 0/1, PostgreSQL parsed
// JSON and booleans. Only the record's fields are copied (no secret hash rides along).
import type { AuditRow, NewAuditRow, RepoRow, TokenRecord, WebhookWithSecret } from './records.js';

/** A JSON column: text (SQLite) or already parsed (PostgreSQL json/jsonb). */
type Json<T> = T | string;
/** A boolean column: 0/1 (SQLite) or a boolean (PostgreSQL). */
type Bool = boolean | number;

const json = <T>(v: Json<T>): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);
const bool = (v: Bool): boolean => v === true || v === 1;

export interface TokenDbRow extends Omit<TokenRecord, 'repo_ids' | 'refs' | 'allow_force' | 'allow_delete'> {
  repo_ids: Json<string[]>; // in the order the scope was given
  refs: Json<string[]>;
  allow_force: Bool;
  allow_delete: Bool;
}

export function tokenFromRow(r: TokenDbRow): TokenRecord {
  return {
    id: r.id,
    kind: r.kind,
    permission: r.permission,
    name: r.name,
    repo_ids: json(r.repo_ids),
    refs: json(r.refs),
    allow_force: bool(r.allow_force),
    allow_delete: bool(r.allow_delete),
    created_at: r.created_at,
    expires_at: r.expires_at,
    revoked_at: r.revoked_at,
    last_used_at: r.last_used_at,
    last_used_ip: r.last_used_ip,
    created_by: r.created_by,
  };
}

export interface RepoDbRow extends Omit<RepoRow, 'metadata'> {
  metadata: Json<Record<string, string>> | null;
}

export function repoFromRow(r: RepoDbRow): RepoRow {
  return {
    id: r.id,
    name: r.name,
    metadata: r.metadata === null ? null : json(r.metadata),
    default_branch: r.default_branch,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

export interface AuditDbRow extends Omit<AuditRow, 'repo_ids' | 'detail'> {
  repo_ids: Json<string[]>;
  detail: Json<Record<string, unknown>> | null;
}

export function auditFromRow(r: AuditDbRow): AuditRow {
  return {
    id: r.id,
    at: r.at,
    action: r.action,
    actor_token_id: r.actor_token_id,
    client_ip: r.client_ip,
    repo_id: r.repo_id,
    repo_ids: json(r.repo_ids),
    ref: r.ref,
    old_oid: r.old_oid,
    new_oid: r.new_oid,
    target_token_id: r.target_token_id,
    detail: r.detail ? json(r.detail) : null,
  };
}

/** The columns an audit append writes, in this order (both engines insert the same values). */
export const AUDIT_INSERT_COLUMNS = 'at, action, actor_token_id, client_ip, repo_id, repo_ids, ref, old_oid, new_oid, target_token_id, detail';

export function auditInsertValues(e: NewAuditRow): unknown[] {
  return [
    e.at,
    e.action,
    e.actor_token_id,
    e.client_ip,
    e.repo_ids.length === 1 ? e.repo_ids[0]! : null,
    JSON.stringify(e.repo_ids),
    e.ref,
    e.old_oid,
    e.new_oid,
    e.target_token_id,
    e.detail === null ? null : JSON.stringify(e.detail),
  ];
}

export interface WebhookDbRow extends Omit<WebhookWithSecret, 'events'> {
  events: Json<string[]>;
}

export function webhookFromRow(r: WebhookDbRow): WebhookWithSecret {
  return { id: r.id, url: r.url, repo_id: r.repo_id, events: json(r.events), secret: r.secret, created_by: r.created_by, created_at: r.created_at, after_event: r.after_event };
}
