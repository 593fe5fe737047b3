// The shapes the stores keep and return, shared by every implementation (src/db/stores.ts).
// Timestamps are ISO-8601 UTC strings with milliseconds (db/time.ts) unless named *_ms/_at ms.

/** A token (everything but its secret hash): §2's listTokens fields. */
export interface TokenRecord {
  id: string;
  kind: 'workspace' | 'repo';
  permission: 'read' | 'write' | 'admin';
  name: string;
  repo_ids: string[]; // scope of repo tokens, in the order given; always [] for workspace tokens
  /** Ref scope: refspec-glob patterns (refs/heads/agent/*) of the refs it may create, update
   *  and delete; [] = every ref. Reads are never restricted. */
  refs: string[];
  /** May make non-fast-forward updates (and move existing tags). */
  allow_force: boolean;
  /** May delete refs. */
  allow_delete: boolean;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
  created_by: string | null; // id of the minting token; null = operator (CLI, bootstrap)
}

/** The hashes a presented secret may match: the current one, and the one it replaced while its grace lasts. */
export interface SecretHashes {
  current: string;
  previous: string | null;
  previousUntil: string | null;
}

export interface Page<T> {
  items: T[];
  total_items: number;
  next_page: number | null;
}

export interface RepoRow {
  id: string;
  name: string | null;
  metadata: Record<string, string> | null;
  default_branch: string;
  created_at: string;
  updated_at: string | null;
}

export interface RepoListQuery {
  page_size?: number;
  page_start?: number;
  order_by?: 'created_at' | 'updated_at';
  order_descending?: boolean;
  created_after?: string;
  created_before?: string;
  filter_metadata?: Record<string, string>;
  ids?: string[]; // restrict to these (repo tokens see only their scope)
}

export type RepoPage = Page<RepoRow>;

/** One audit event as stored; `id` is the insertion order and the event-stream cursor. */
export interface AuditRow {
  id: number;
  at: string;
  action: string;
  actor_token_id: string | null;
  client_ip: string | null;
  repo_id: string | null; // the one repository, when repo_ids has exactly one
  repo_ids: string[];
  ref: string | null;
  old_oid: string | null;
  new_oid: string | null;
  target_token_id: string | null;
  detail: Record<string, unknown> | null;
}

/** What the audit log appends: a row without id and the derived repo_id (already redacted). */
export type NewAuditRow = Omit<AuditRow, 'id' | 'repo_id'>;

export interface AuditListQuery {
  repoId?: string;
  action?: string;
  pageSize: number;
  pageStart: number;
  /** Only events that mention at least one repository, all of them within this set. */
  withinRepos?: string[];
}

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
  first_at: number; // ms since epoch: the retry window starts here
  next_attempt_at: number; // ms; while an attempt runs, the end of its lease
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

export function publicWebhook(h: WebhookWithSecret): Webhook {
  return { id: h.id, url: h.url, repo_id: h.repo_id, events: h.events, created_by: h.created_by, created_at: h.created_at };
}
