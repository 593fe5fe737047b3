// The persistence seams of gitgate: one interface per store, Promise methods, and a bundle
// (`Stores`) with explicit transactions. Rules live above (auth/, audit/, webhooks/); these
// keep and return rows. Every implementation (src/db/sqlite/ today) passes the one shared
// conformance suite, test/db/store-suite.ts. SQL dialect stays inside the implementation.
//
// Atomicity that a rule depends on is a single store method, so no implementation can get it
// wrong by composing calls: minting only under a live minter chain (TokenStore.insert), the
// revocation cascade (revokeTree), rotation (rotate), claiming deliveries (claimDue).
import type {
  Attempt,
  AuditListQuery,
  AuditRow,
  Delivery,
  DeliveryState,
  NewAuditRow,
  Page,
  RepoListQuery,
  RepoPage,
  RepoRow,
  SecretHashes,
  TokenRecord,
  WebhookWithSecret,
} from './records.js';

export interface TokenListQuery {
  pageSize: number;
  pageStart: number;
  repoId?: string;
  includeRevoked: boolean;
  /** Narrows candidates to the viewer's reach (the scope part of policy.canManageToken):
   *  a non-admin sees only itself; a repo admin itself and repo tokens wholly inside its scope. */
  visibleTo?: TokenRecord;
  /** The final say per row; counts and pages cover kept rows only. */
  keep?: (t: TokenRecord) => boolean;
}

export interface TokenStore {
  /** Inserts the token with its repository scope, only if `created_by` (when set) and every
   *  token above it are present, unrevoked and unexpired at `at` — checked atomically with the
   *  insert, so a concurrent revokeTree of an ancestor either makes this return false or sees
   *  (and revokes) the new row. False: nothing inserted. */
  insert(record: TokenRecord, secretHash: string, at: string): Promise<boolean>;
  /** Inserts the token (no minter) only while the store holds no token at all, atomically: of N
   *  nodes starting at once on an empty database, one mints the bootstrap token. False:
   *  nothing inserted. */
  insertFirst(record: TokenRecord, secretHash: string): Promise<boolean>;
  get(id: string): Promise<TokenRecord | null>;
  exists(id: string): Promise<boolean>;
  secretHashes(id: string): Promise<SecretHashes | null>;
  /** Record and hashes in one read (verification re-checks both on every request). */
  getWithHashes(id: string): Promise<{ record: TokenRecord; hashes: SecretHashes } | null>;
  /** New secret hash; the old one stays valid until `previousUntil` (null: not at all). Only
   *  while the token is live at `at` and, when `actorId` is set, that token's chain is live
   *  (atomically, like insert). */
  rotate(id: string, newHash: string, previousUntil: string | null, at: string, actorId: string | null): Promise<'ok' | 'actor_dead' | 'target_dead'>;
  count(): Promise<number>;
  markUsed(id: string, at: string, ip: string | null): Promise<void>;
  /** Revokes `id` and everything minted below it, transitively, atomically. `affected`: every
   *  id in the tree; `revoked`: those not revoked before (changed = revoked.length). */
  revokeTree(id: string, at: string): Promise<{ affected: string[]; changed: number; revoked: string[] }>;
  /** Oldest first (created_at, then insertion order). */
  list(q: TokenListQuery): Promise<Page<TokenRecord>>;
}

export interface RepoStore {
  /** NAME_TAKEN when the name is used (as a name or an id), VALIDATION for a bad name or
   *  metadata, an id that exists or collides with a name. */
  insert(row: { id: string; name?: string | null; metadata?: Record<string, string> | null; default_branch?: string }): Promise<RepoRow>;
  /** By id, else by unique name. */
  get(idOrName: string): Promise<RepoRow | null>;
  /** VALIDATION for bad paging, dates or metadata filter. Ties keep insertion order. */
  list(q?: RepoListQuery): Promise<RepoPage>;
  /** updated_at = now. */
  touch(id: string): Promise<void>;
  /** Replace metadata and/or default branch, touching updated_at. Null when unknown. */
  update(id: string, patch: { metadata?: Record<string, string> | null; default_branch?: string }): Promise<RepoRow | null>;
  /** Deletes the record with its token scopes and protected refs. True if it existed. */
  delete(id: string): Promise<boolean>;
  /** Protected ref patterns in insertion order. */
  protectedRefs(id: string): Promise<string[]>;
  /** Replaces them (duplicates dropped); returns the stored list. */
  setProtectedRefs(id: string, patterns: readonly string[]): Promise<string[]>;
}

export interface AuditStore {
  /** Appends the events atomically, with increasing ids in the order given. Ids follow commit
   *  order (appends are serialised), so a reader past id N never later finds a new event below N
   *  (the event-stream cursor relies on it). */
  append(events: NewAuditRow[]): Promise<void>;
  /** Events with id > cursor, oldest first (the event stream). */
  after(cursor: number, limit: number): Promise<AuditRow[]>;
  /** The newest event's id, 0 when there is none. */
  latestId(): Promise<number>;
  /** Newest first. */
  list(q: AuditListQuery): Promise<Page<AuditRow>>;
}

export interface NewWebhook {
  url: string;
  repoId: string | null;
  events: string[];
  secret: string;
  createdBy: string;
  afterEvent: number;
  nowMs: number;
}

export interface DeliveryResult {
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  state: DeliveryState;
  /** When to try again (pending), else when it ended. */
  next: number;
  nowMs: number;
}

export interface WebhookStore {
  create(input: NewWebhook): Promise<WebhookWithSecret>;
  get(id: string): Promise<WebhookWithSecret | null>;
  /** Oldest first. */
  all(): Promise<WebhookWithSecret[]>;
  /** Deletes the webhook with its queue and attempts. */
  delete(id: string): Promise<boolean>;
  /** Deletes every webhook of one repository (being deleted) with their queues and attempts; how many. */
  deleteForRepo(repoId: string): Promise<number>;
  /** How far the fan-out from the audit trail has got (an audit event id). */
  dispatchCursor(): Promise<number>;
  /** Queues deliveries and advances the cursor (never backwards) atomically; a (webhook,
   *  event) pair already queued is left alone, so repeating a batch after a crash is harmless. */
  enqueue(items: { webhookId: string; eventId: number; eventType: string; body: string }[], cursor: number, nowMs: number): Promise<void>;
  /** Takes up to `limit` pending deliveries due by `nowMs`, oldest first, for one attempt
   *  each: their next_attempt_at becomes `leaseUntil` (a process that dies mid-attempt leaves
   *  them due again when the lease ends). Atomic: two concurrent claimers never get the same
   *  delivery (PostgreSQL: UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING). */
  claimDue(nowMs: number, limit: number, leaseUntil: number): Promise<Delivery[]>;
  /** When the next pending delivery falls due (ms), or null. */
  nextDue(): Promise<number | null>;
  /** An attempt cut short by shutdown: due again at `nowMs`, nothing recorded. */
  release(id: string, nowMs: number): Promise<void>;
  /** Records attempt number `d.attempts + 1` and the delivery's new state, atomically; nothing
   *  when the delivery is gone (its webhook was deleted). */
  finish(d: Delivery, result: DeliveryResult): Promise<void>;
  /** Gives up on a pending delivery without an attempt. */
  abandon(id: string): Promise<void>;
  /** Every attempt of a webhook, newest first. */
  attempts(webhookId: string, pageSize: number, pageStart: number): Promise<Page<Attempt>>;
  /** Drops finished deliveries (with their attempts) first queued before `beforeMs`. */
  prune(beforeMs: number): Promise<void>;
}

/** The stores, as seen inside a transaction. */
export interface TxStores {
  tokens: TokenStore;
  repos: RepoStore;
  audit: AuditStore;
  webhooks: WebhookStore;
  /** Nested: a savepoint, rolled back alone when `fn` throws. */
  withTransaction<T>(fn: (tx: TxStores) => Promise<T>): Promise<T>;
}

export interface Stores extends TxStores {
  /** 'sqlite', 'postgres'… (health, logs). */
  readonly kind: string;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
   *  Inside, use only `tx` (the outer stores wait for the transaction to end). */
  withTransaction<T>(fn: (tx: TxStores) => Promise<T>): Promise<T>;
  /** Resolves when the database answers a trivial query; rejects otherwise (health). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Cluster membership (PostgreSQL only): one heartbeat row per node id. */
export interface NodeRegistry {
  /** Registers `nodeId` (dropping in-flight counts a previous run under that id left) and
   *  refreshes its heartbeat every `intervalMs` until the returned stop is called. */
  startHeartbeat(nodeId: string, host: string, pid: number, intervalMs: number): Promise<() => void>;
  /** Node ids whose heartbeat is younger than `maxAgeMs`, and those older (dead). */
  nodes(maxAgeMs: number): Promise<{ live: string[]; dead: string[] }>;
  /** Deletes the rows (and in-flight counts) of those of `nodeIds` still dead by `maxAgeMs`, once
   *  their files are cleaned up; a node that came back meanwhile keeps its row. How many went. */
  forget(nodeIds: string[], maxAgeMs: number): Promise<number>;
}

/** When failed authentications block a client key: the `limit`-th failure within `windowMs`
 *  blocks it for `banMs` (the count starts afresh with the block). */
export interface ThrottleRule {
  limit: number;
  windowMs: number;
  banMs: number;
}

/** Failed-authentication counts and blocks per client key (an address, an IPv6 /64; policy in
 *  auth/throttle.ts), and requests in flight per token. One node: in process
 *  (db/memory-guard-store.ts). A cluster: UNLOGGED PostgreSQL tables shared by every node
 *  (db/postgres/guard-store.ts), so limits hold for the cluster, not per node. */
export interface GuardStore {
  /** Milliseconds until `key` may authenticate again (0: not blocked). */
  blockedFor(key: string): Promise<number>;
  /** Counts one failure of `key` under the store's rule, atomically across nodes; returns the
   *  milliseconds `key` is now blocked for (0: not blocked). */
  fail(key: string): Promise<number>;
  /** Takes one of `limit` in-flight slots of `tokenId` (counted over live nodes); false, and
   *  nothing taken, when all are in use. */
  admit(tokenId: string, limit: number): Promise<boolean>;
  /** Gives back a slot admit took. */
  release(tokenId: string): Promise<void>;
  /** Requests of `tokenId` in flight (over live nodes). */
  inflight(tokenId: string): Promise<number>;
  /** Drops expired failures and blocks, and refreshes stats(). */
  prune(): Promise<void>;
  /** Keys with recent failures and keys blocked (gauges: as of the last prune where shared). */
  stats(): { tracked: number; blocked: number };
}
