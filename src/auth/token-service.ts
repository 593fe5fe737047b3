// Minting, verifying, listing and revoking tokens.
//
// Verification path (SPEC §2, §3):
//   1. parse + checksum: a mistyped secret costs no database work;
//   2. positive cache SHA-256(secret) -> id for cacheTtlMs, so a clone's several requests
//      pay bcrypt once (concurrent first requests share one bcrypt run);
//   3. on every request, cache hit or not, the row is re-read by primary key and checked
//      for revocation and expiry, so a revocation by another process on the same database
//      (the CLI, another node) bites on the very next request;
//   4. unknown ids still cost one bcrypt compare (against a dummy hash): no timing oracle.
import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';
import { isoAt, systemClock, type Clock } from '../db/time.js';
import { GitgateError } from '../errors.js';
import { isPermission, type Permission } from './permissions.js';
import { canManageToken, checkAttenuation, manageRefusal } from './policy.js';
import { normalizeRefPatterns, RefPatternError } from './ref-policy.js';
import { randomBase62 } from './base62.js';
import { generateSecret, isTokenId, looksLikeSecret, newTokenId, parseSecret, SECRET_LENGTH, type TokenKind } from './token-format.js';
import type { TokenRecord } from './token-record.js';
import type { Page, SecretHashes } from '../db/records.js';
import type { RepoStore, TokenStore } from '../db/stores.js';
import type { AuditLog } from '../audit/audit-log.js';

export type { TokenRecord };

export interface CreateTokenInput {
  kind: TokenKind;
  /** Default: 'write' for repo tokens (clone + push, what an agent needs), 'admin' for
   *  workspace tokens (an operator's API key, like the bootstrap token). */
  permission?: Permission;
  name?: string;
  /** Repo tokens: repository ids or unique names. Omitted with a repo-token minter: the
   *  minter's whole scope. Workspace tokens: must be empty. */
  repoIds?: string[];
  /** Omitted/null: the workspace default lifetime for tokens minted by tokens (TokenTtlPolicy),
   *  else no expiry of its own — but a child never outlives its minter, so it inherits an
   *  expiring minter's expires_at. An explicit ttl past that is refused. */
  ttlSeconds?: number | null;
  /** Ref scope (refspec globs, e.g. refs/heads/agent/*); [] = every ref. Omitted: the
   *  minter's ref scope (every ref for operators). */
  refs?: string[];
  /** Omitted: false for a token with a ref scope, else the minter's right (true for operators). */
  allowForce?: boolean;
  allowDelete?: boolean;
}

export interface RotateOptions {
  /** Seconds the replaced secret keeps working (0 or omitted: it stops at once). */
  graceSeconds?: number;
}

export interface TokenListQuery {
  page_size?: number;
  page_start?: number;
  repo_id?: string;
  include_revoked?: boolean;
  visibleTo?: TokenRecord;
}

export interface TokenServiceOptions {
  bcryptRounds?: number;
  cacheTtlMs?: number;
  now?: Clock;
  /** Where token creation and revocation are recorded (none: not audited). */
  audit?: AuditLog;
  ttl?: TokenTtlPolicy;
}

/** Lifetimes of tokens minted through the API (a minter token). Operator minting (the CLI,
 *  the bootstrap token) is bound by neither: whoever can open the database is the root of
 *  trust anyway. */
export interface TokenTtlPolicy {
  /** Lifetime of a token minted without ttl_seconds (null: the maximum, if any). */
  defaultSeconds: number | null;
  /** Longest ttl_seconds accepted (null: no limit); longer is 400 TTL_TOO_LONG. */
  maxSeconds: number | null;
}

const LAST_USED_INTERVAL_MS = 60_000;
const MAX_CACHE_ENTRIES = 10_000;
const MAX_NAME_LENGTH = 200;
const MAX_TTL_SECONDS = 100 * 365 * 24 * 3600;
export const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600;

interface CacheEntry {
  id: string;
  until: number;
  /** The stored hash the secret was checked against: the entry is good only while that hash still is. */
  hash: string;
}

export class TokenService {
  private readonly rows: TokenStore;
  private readonly repos: Pick<RepoStore, 'get'>;
  private readonly rounds: number;
  private readonly cacheTtlMs: number;
  private readonly now: Clock;
  /** SHA-256(secret) -> token id, the hash it matched and when the entry lapses. During a
   *  rotation's grace period a token has two entries (old and new secret). */
  private readonly cache = new Map<string, CacheEntry>();
  private readonly cacheKeysById = new Map<string, Set<string>>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly lastUsedWrite = new Map<string, number>();
  private dummyHash: Promise<string> | null = null;
  private readonly audit: AuditLog | undefined;
  private readonly ttl: TokenTtlPolicy;

  /** `stores`: where tokens are kept, and the repositories a scope may name. */
  constructor(stores: { tokens: TokenStore; repos: Pick<RepoStore, 'get'> }, opts: TokenServiceOptions = {}) {
    this.rows = stores.tokens;
    this.repos = stores.repos;
    this.rounds = opts.bcryptRounds ?? 10;
    this.cacheTtlMs = opts.cacheTtlMs ?? 5 * 60_000;
    this.now = opts.now ?? systemClock;
    this.audit = opts.audit;
    this.ttl = opts.ttl ?? { defaultSeconds: null, maxSeconds: null };
  }

  async create(input: CreateTokenInput, minter: TokenRecord | null): Promise<{ secret: string; record: TokenRecord }> {
    // the minter may have been revoked during bcrypt: the insert re-checks it atomically
    const minted = await this.mint(input, minter, (record, hash) => this.rows.insert(record, hash, isoAt(this.now())));
    if (!minted) throw new GitgateError('UNAUTHENTICATED');
    return minted;
  }

  /** An operator token minted only while no token exists at all (the bootstrap admin token):
   *  null when one does, also when another node minted it a moment ago. */
  createFirst(input: CreateTokenInput): Promise<{ secret: string; record: TokenRecord } | null> {
    return this.mint(input, null, (record, hash) => this.rows.insertFirst(record, hash));
  }

  private async mint(
    input: CreateTokenInput,
    minter: TokenRecord | null,
    insert: (record: TokenRecord, secretHash: string) => Promise<boolean>,
  ): Promise<{ secret: string; record: TokenRecord } | null> {
    const kind = input.kind;
    if (kind !== 'workspace' && kind !== 'repo') throw validation('kind must be "workspace" or "repo"');
    const permission = input.permission ?? (kind === 'repo' ? 'write' : 'admin');
    if (!isPermission(permission)) throw validation('permission must be read, write or admin');
    const name = input.name ?? `unnamed ${kind} token`;
    if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name)) {
      throw validation(`name must be at most ${MAX_NAME_LENGTH} characters without control characters`);
    }
    const repoIds = await this.resolveScope(kind, input.repoIds, minter);
    const nowMs = this.now();
    const expiresAt = this.expiry(input.ttlSeconds, nowMs, minter);
    const refs = this.refScope(input.refs, minter);
    const allowForce = this.right('allow_force', input.allowForce, refs, minter);
    const allowDelete = this.right('allow_delete', input.allowDelete, refs, minter);

    if (minter) {
      const reason = checkAttenuation(minter, { kind, permission, repoIds, expiresAt, refs, allowForce, allowDelete });
      if (reason) throw new GitgateError('ATTENUATION', { reason });
    }

    const id = newTokenId();
    const secret = generateSecret(kind, id);
    const secretHash = await bcrypt.hash(secret, this.rounds);
    const record: TokenRecord = {
      id,
      kind,
      permission,
      name,
      repo_ids: repoIds,
      refs,
      allow_force: allowForce,
      allow_delete: allowDelete,
      created_at: isoAt(nowMs),
      expires_at: expiresAt,
      revoked_at: null,
      last_used_at: null,
      last_used_ip: null,
      created_by: minter?.id ?? null,
    };
    if (!(await insert(record, secretHash))) return null;
    await this.audit?.record({
      action: 'token.create',
      actorTokenId: minter?.id ?? null,
      repoIds: repoIds,
      targetTokenId: id,
      detail: {
        kind,
        permission,
        name,
        expires_at: expiresAt,
        ...(refs.length ? { refs } : {}),
        allow_force: allowForce,
        allow_delete: allowDelete,
        via: minter ? 'api' : 'local',
      },
    });
    return { secret, record };
  }

  /**
   * A new secret for the same token (same id, scope and rights). The old secret stops working
   * at once, or after `graceSeconds`; rotating again ends an earlier grace period. `actor`
   * (null: the operator) must be the token itself or one that could have minted it
   * (policy.manageRefusal), and must still be live when the new hash is stored.
   */
  async rotate(id: string, opts: RotateOptions = {}, actor: TokenRecord | null = null): Promise<{ secret: string; record: TokenRecord; previous_secret_valid_until: string | null }> {
    const grace = opts.graceSeconds ?? 0;
    if (typeof grace !== 'number' || !Number.isFinite(grace) || grace < 0 || grace > MAX_ROTATION_GRACE_SECONDS) {
      throw validation(`grace_seconds must be a number of seconds from 0 to ${MAX_ROTATION_GRACE_SECONDS}`);
    }
    const current = await this.rows.get(id);
    if (!current) throw new GitgateError('TOKEN_NOT_FOUND');
    if (actor) this.authorizeManage(actor, current);
    if (!this.isLive(current, this.now())) throw validation('a revoked or expired token cannot be rotated');
    const secret = generateSecret(current.kind, id);
    const secretHash = await bcrypt.hash(secret, this.rounds);
    const nowMs = this.now();
    const previousUntil = grace > 0 ? isoAt(nowMs + Math.round(grace * 1000)) : null;
    const outcome = await this.rows.rotate(id, secretHash, previousUntil, isoAt(nowMs), actor && actor.id !== id ? actor.id : null);
    if (outcome === 'actor_dead') throw new GitgateError('UNAUTHENTICATED');
    if (outcome === 'target_dead') throw validation('a revoked or expired token cannot be rotated');
    // without grace the old secret's cache entry must not answer again (verify also re-checks
    // the hash on every hit, which covers rotations by another process)
    if (previousUntil === null) this.dropCache(id);
    const record = (await this.rows.get(id))!;
    await this.audit?.record({
      action: 'token.rotate',
      actorTokenId: actor ? actor.id : null,
      repoIds: record.repo_ids,
      targetTokenId: id,
      detail: { kind: record.kind, grace_seconds: grace, previous_secret_valid_until: previousUntil, via: actor ? 'api' : 'local' },
    });
    return { secret, record, previous_secret_valid_until: previousUntil };
  }

  /** The live token a secret belongs to; null for malformed, unknown, expired and revoked
   *  alike. */
  async verify(secret: string, clientIp?: string): Promise<TokenRecord | null> {
    const parsed = parseSecret(secret);
    if (!parsed) return null;
    const key = createHash('sha256').update(secret).digest('hex');
    const nowMs = this.now();

    const cached = this.cache.get(key);
    if (cached && cached.until > nowMs) {
      const row = await this.rows.getWithHashes(cached.id);
      if (!row || !this.isLive(row.record, nowMs) || row.record.kind !== parsed.kind || !hashValid(row.hashes, cached.hash, nowMs)) {
        // revoked, expired, or the secret was rotated away (possibly by another process)
        this.dropKey(key);
        return null;
      }
      return this.noteUse(row.record, nowMs, clientIp);
    }
    if (cached) this.dropKey(key);

    const hashes = await this.rows.secretHashes(parsed.id);
    const matched = await this.match(key, secret, hashes, nowMs);
    if (matched === null) return null;
    const afterMs = this.now();
    const row = await this.rows.getWithHashes(parsed.id); // re-read: it may have been revoked or rotated during bcrypt
    if (!row || !this.isLive(row.record, afterMs) || row.record.kind !== parsed.kind || !hashValid(row.hashes, matched, afterMs)) return null;
    this.remember(key, row.record.id, matched, afterMs);
    return this.noteUse(row.record, afterMs, clientIp);
  }

  /** Did this exact secret verify in this process, and has it not been dropped since
   *  (revocation, rotation, a failed re-check)? Lapsed cache entries count: the cache TTL
   *  only bounds how long bcrypt is skipped. No bcrypt, no database: cheap enough to ask
   *  before a throttle refuses the request. */
  isKnownGood(secret: string): boolean {
    return this.cache.has(createHash('sha256').update(secret).digest('hex'));
  }

  /** The stored hash `secret` matches (current, or the replaced one within its grace), or null. */
  private async match(key: string, secret: string, hashes: SecretHashes | null, nowMs: number): Promise<string | null> {
    // Compare even when the id is unknown, so timing tells nothing about which ids exist.
    if (hashes === null) {
      await this.compareOnce(key, secret, await this.dummy());
      return null;
    }
    if (await this.compareOnce(key, secret, hashes.current)) return hashes.current;
    if (hashes.previous !== null && hashValid(hashes, hashes.previous, nowMs) && (await this.compareOnce(key, secret, hashes.previous))) {
      return hashes.previous;
    }
    return null;
  }

  /** The token `ref` (id or secret) names, if `actor` may read, rotate or revoke it: itself,
   *  or one it could have minted. TOKEN_NOT_FOUND when it does not exist or lies outside the
   *  actor's reach, TOKEN_TOO_STRONG when it lies within the actor's repositories but is
   *  stronger. */
  async manageable(actor: TokenRecord, ref: string): Promise<TokenRecord> {
    const target = await this.resolve(ref);
    if (!target) throw new GitgateError('TOKEN_NOT_FOUND');
    this.authorizeManage(actor, target);
    return target;
  }

  private authorizeManage(actor: TokenRecord, target: TokenRecord): void {
    const refusal = manageRefusal(actor, target);
    if (refusal?.access === 'not_found') throw new GitgateError('TOKEN_NOT_FOUND');
    if (refusal) throw new GitgateError('TOKEN_TOO_STRONG', { reason: refusal.reason });
  }

  /** Any token by id, live or not (metadata). */
  get(id: string): Promise<TokenRecord | null> {
    return this.rows.get(id);
  }

  /** An opaque stamp of the token's current secret, which changes on every rotation: a session
   *  derived from a secret (the web console) ends when the secret it was opened with does.
   *  Never the hash itself, never the secret. null for an unknown token. */
  async secretStamp(id: string): Promise<string | null> {
    const hashes = await this.rows.secretHashes(id);
    return hashes ? createHash('sha256').update(`gitgate-session\0${hashes.current}`).digest('base64url') : null;
  }

  /** A public id or a full secret. A secret is only a locator here — its id is taken after
   *  the checksum and no bcrypt runs, because a checksum-valid secret can be built from the
   *  public id alone, so proving the random part would add nothing; authority comes from
   *  the caller's own token (manageable). */
  async resolve(secretOrId: string): Promise<TokenRecord | null> {
    if (isTokenId(secretOrId)) return this.rows.get(secretOrId);
    const parsed = looksLikeSecret(secretOrId) ? parseSecret(secretOrId) : null;
    if (!parsed) return null;
    const record = await this.rows.get(parsed.id);
    return record && record.kind === parsed.kind ? record : null;
  }

  async list(q: TokenListQuery = {}): Promise<Page<TokenRecord>> {
    const pageSize = q.page_size ?? 100;
    const pageStart = q.page_start ?? 0;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw validation('page_size must be an integer from 1 to 1000');
    if (!Number.isInteger(pageStart) || pageStart < 0) throw validation('page_start must be a non-negative integer');
    const viewer = q.visibleTo;
    const keep = viewer ? (t: TokenRecord) => canManageToken(viewer, t) : undefined;
    return this.rows.list({ pageSize, pageStart, repoId: q.repo_id, includeRevoked: q.include_revoked ?? false, visibleTo: viewer, keep });
  }

  /** Revokes the token and, transitively, every token it minted. Returns how many tokens
   *  became revoked (0 if all already were). TOKEN_NOT_FOUND for an unknown id. */
  async revoke(id: string): Promise<number> {
    if (!(await this.rows.exists(id))) throw new GitgateError('TOKEN_NOT_FOUND');
    const { affected, changed, revoked } = await this.rows.revokeTree(id, isoAt(this.now()));
    for (const tokenId of affected) this.dropCache(tokenId);
    if (this.audit && revoked.length) {
      const records = await Promise.all(revoked.map((tokenId) => this.rows.get(tokenId)));
      await this.audit.recordMany(
        revoked.map((tokenId, i) => {
          const r = records[i];
          return {
            action: 'token.revoke' as const,
            repoIds: r?.repo_ids ?? [],
            targetTokenId: tokenId,
            detail: tokenId === id ? { kind: r?.kind } : { kind: r?.kind, cascade_from: id },
          };
        }),
      );
    }
    return changed;
  }

  count(): Promise<number> {
    return this.rows.count();
  }

  private isLive(record: TokenRecord, nowMs: number): boolean {
    return record.revoked_at === null && (record.expires_at === null || Date.parse(record.expires_at) > nowMs);
  }

  private async resolveScope(kind: TokenKind, requested: string[] | undefined, minter: TokenRecord | null): Promise<string[]> {
    if (requested !== undefined && !Array.isArray(requested)) throw validation('repo_ids must be a list');
    if (kind === 'workspace') {
      if (requested && requested.length > 0) throw validation('workspace tokens cover every repository; repo_ids must be empty');
      return [];
    }
    if (requested === undefined && minter?.kind === 'repo') return [...minter.repo_ids];
    if (!requested || requested.length === 0) throw validation('a repo token needs at least one repository in repo_ids');
    const ids: string[] = [];
    for (const ref of requested) {
      if (typeof ref !== 'string') throw validation('repo_ids must be strings');
      const id = (await this.repos.get(ref))?.id ?? null;
      if (id === null) {
        // A scoped minter gets the same answer for missing and out-of-scope repositories.
        if (minter?.kind === 'repo') throw new GitgateError('ATTENUATION', { reason: `repository ${ref} is outside the minting token's scope` });
        throw new GitgateError('REPO_NOT_FOUND');
      }
      if (!ids.includes(id)) ids.push(id);
    }
    return ids;
  }

  private expiry(ttlSeconds: number | null | undefined, nowMs: number, minter: TokenRecord | null): string | null {
    // the workspace lifetimes bind tokens minted by tokens, not the operator
    const policy = minter ? this.ttl : { defaultSeconds: null, maxSeconds: null };
    if (ttlSeconds === undefined || ttlSeconds === null) {
      const implicit = policy.defaultSeconds ?? policy.maxSeconds;
      if (implicit === null) return minter?.expires_at ?? null;
      // an implicit lifetime is clamped to the minter's expiry rather than refused
      const own = nowMs + implicit * 1000;
      const cap = minter?.expires_at ? Date.parse(minter.expires_at) : Infinity;
      return own < cap ? isoAt(own) : minter!.expires_at;
    }
    if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_TTL_SECONDS) {
      throw validation('ttl_seconds must be a positive number of seconds');
    }
    if (policy.maxSeconds !== null && ttlSeconds > policy.maxSeconds) throw new GitgateError('TTL_TOO_LONG', { ttl: ttlSeconds, max: policy.maxSeconds });
    return isoAt(nowMs + Math.round(ttlSeconds * 1000));
  }

  /** One bcrypt run per distinct (secret, hash) at a time: parallel first requests share it. */
  private compareOnce(key: string, secret: string, hash: string): Promise<boolean> {
    const k = `${key}:${hash}`;
    let pending = this.inflight.get(k);
    if (!pending) {
      pending = bcrypt.compare(secret, hash).finally(() => this.inflight.delete(k));
      this.inflight.set(k, pending);
    }
    return pending;
  }

  private dummy(): Promise<string> {
    // Same cost factor as real hashes; of a random secret nobody knows.
    this.dummyHash ??= bcrypt.hash(randomBase62(SECRET_LENGTH), this.rounds);
    return this.dummyHash;
  }

  private remember(key: string, id: string, hash: string, nowMs: number): void {
    this.dropKey(key);
    if (this.cache.size >= MAX_CACHE_ENTRIES) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.dropKey(oldest);
    }
    this.cache.set(key, { id, until: nowMs + this.cacheTtlMs, hash });
    let keys = this.cacheKeysById.get(id);
    if (!keys) this.cacheKeysById.set(id, (keys = new Set()));
    keys.add(key);
  }

  /** Forget every cached secret of a token. */
  private dropCache(id: string): void {
    for (const key of this.cacheKeysById.get(id) ?? []) this.cache.delete(key);
    this.cacheKeysById.delete(id);
  }

  private dropKey(key: string): void {
    const entry = this.cache.get(key);
    if (!entry) return;
    this.cache.delete(key);
    const keys = this.cacheKeysById.get(entry.id);
    keys?.delete(key);
    if (keys && keys.size === 0) this.cacheKeysById.delete(entry.id);
  }

  private refScope(requested: string[] | undefined, minter: TokenRecord | null): string[] {
    if (requested === undefined) return minter ? [...minter.refs] : [];
    if (!Array.isArray(requested)) throw validation('refs must be a list of ref patterns');
    try {
      return normalizeRefPatterns(requested);
    } catch (err) {
      if (err instanceof RefPatternError) throw validation(err.message);
      throw err;
    }
  }

  private right(field: 'allow_force' | 'allow_delete', requested: boolean | undefined, refs: string[], minter: TokenRecord | null): boolean {
    if (requested !== undefined) {
      if (typeof requested !== 'boolean') throw validation(`${field} must be a boolean`);
      return requested;
    }
    if (refs.length > 0) return false;
    return minter ? minter[field] : true;
  }

  /** last_used_at/ip written at most once a minute per token by this process. */
  private async noteUse(record: TokenRecord, nowMs: number, clientIp: string | undefined): Promise<TokenRecord> {
    const last = this.lastUsedWrite.get(record.id);
    if (last !== undefined && nowMs - last < LAST_USED_INTERVAL_MS) return record;
    this.lastUsedWrite.set(record.id, nowMs);
    const at = isoAt(nowMs);
    const ip = clientIp ?? null;
    try {
      await this.rows.markUsed(record.id, at, ip);
    } catch {
      // Bookkeeping only: a busy database must not fail an otherwise valid request.
      return record;
    }
    return { ...record, last_used_at: at, last_used_ip: ip };
  }
}

/** Is `hash` (one a secret matched) still accepted: the current hash, or the replaced one before its grace ends? */
function hashValid(h: SecretHashes, hash: string, nowMs: number): boolean {
  if (hash === h.current) return true;
  return hash === h.previous && h.previousUntil !== null && Date.parse(h.previousUntil) > nowMs;
}

function validation(detail: string): GitgateError {
  return new GitgateError('VALIDATION', { detail });
}
