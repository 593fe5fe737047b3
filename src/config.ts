// Configuration from flags and environment, with safe defaults (loopback, ./repos).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GitgateError } from './errors.js';
import { loadLimits, type LimitsConfig, type LimitsFlags } from './config-limits.js';
import { parseNetworks } from './net/address-policy.js';
import { DEFAULT_FSCK_POLICY, parseFsckSeverities, parseSkipList, type FsckPolicy } from './repo/fsck/policy.js';
import { loadWebhookConfig, type WebhookConfig } from './config-webhooks.js';

export interface Config extends LimitsConfig, WebhookConfig {
  host: string;
  port: number;
  dataDir: string;
  memory: boolean;
  /** PostgreSQL for the stores (GITGATE_DATABASE_URL, --database-url); null: SQLite in dataDir. */
  databaseUrl: string | null;
  /** This process in a cluster (GITGATE_NODE_ID; default hostname-pid). */
  nodeId: string;
  defaultBranch: string;
  bcryptRounds: number;
  tokenCacheTtlMs: number;
  /** Lifetime of API-minted tokens without ttl_seconds (null: maxTokenTtlSeconds). */
  defaultTokenTtlSeconds: number | null;
  /** Longest ttl_seconds the API accepts (null: no limit). The operator CLI is not bound. */
  maxTokenTtlSeconds: number | null;
  maxPushBytes: number;
  maxPushObjects: number;
  maxPushRefs: number;
  maxJsonBytes: number;
  maxImportBytes: number;
  /** CIDRs git sources may reach although loopback/private/... (GITGATE_IMPORT_ALLOW_NETWORKS). */
  importAllowNetworks: string[];
  authorName: string;
  authorEmail: string;
  logLevel: string;
  /** Checks of pushed objects: C Git's receive.fsck.<msg-id> and receive.fsck.skipList. */
  fsck: FsckPolicy;
  /** Fetches may want any object by id, reachable or not (C Git's uploadpack.allowAnySHA1InWant). */
  allowAnySha1InWant: boolean;
  /** Unreachable objects older than this are pruned by maintenance (C Git's gc.pruneExpire). */
  pruneExpireMs: number;
  /** Serve HTTPS with these PEM files (both or neither). */
  tls: { cert: string; key: string } | null;
  /** Byte budgets of the process-wide caches (each shared by every repository). */
  caches: CacheBudgets;
}

export interface CacheBudgets {
  /** Resolved objects of open packs (delta bases): GITGATE_PACK_CACHE_BYTES. */
  packObjectBytes: number;
  /** Full-clone object lists: GITGATE_CLONE_PLAN_CACHE_BYTES. */
  clonePlanBytes: number;
  /** Code-search indexes and blob terms: GITGATE_SEARCH_CACHE_BYTES. */
  searchBytes: number;
  /** Raw blocks read from open packs: GITGATE_PACK_BLOCK_CACHE_BYTES. */
  packBlockBytes: number;
  /** Loaded reachability bitmaps: GITGATE_BITMAP_CACHE_BYTES. */
  bitmapBytes: number;
  /** Cache entries unused this long are dropped: GITGATE_CACHE_IDLE_SECONDS (0: never). */
  idleMs: number;
}

export interface ConfigFlags extends LimitsFlags {
  host?: string;
  port?: string | number;
  data?: string;
  memory?: boolean;
  databaseUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
}

type Env = Record<string, string | undefined>;

function int(name: string, raw: string | number | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined || raw === '') return fallback;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new GitgateError('CONFIG', { detail: `${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(String(raw))}` });
  }
  return n;
}

function networks(name: string, raw: string | undefined): string[] {
  try {
    return parseNetworks(raw);
  } catch (err) {
    throw new GitgateError('CONFIG', { detail: `${name}: ${(err as Error).message}` });
  }
}

/** A positive integer setting that is off when unset. */
function optionalInt(name: string, raw: string | undefined): number | null {
  return raw === undefined || raw === '' ? null : int(name, raw, 0, 1, 100 * 365 * 24 * 3600);
}

function bool(raw: string | undefined): boolean {
  return raw !== undefined && /^(1|true|yes|on)$/i.test(raw);
}

/** GITGATE_FSCK (`badFilemode=error,missingEmail=ignore`) and GITGATE_FSCK_SKIPLIST (a file of ids). */
function fsckPolicy(env: Env): FsckPolicy {
  let severities: ReturnType<typeof parseFsckSeverities> = { overrides: new Map() };
  try {
    severities = parseFsckSeverities(env.GITGATE_FSCK ?? '');
  } catch (err) {
    throw new GitgateError('CONFIG', { detail: `GITGATE_FSCK: ${(err as Error).message}` });
  }
  let skip = new Set<string>();
  const file = env.GITGATE_FSCK_SKIPLIST;
  if (file) {
    try {
      skip = parseSkipList(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ? `cannot read ${file} (${(err as NodeJS.ErrnoException).code})` : (err as Error).message;
      throw new GitgateError('CONFIG', { detail: `GITGATE_FSCK_SKIPLIST: ${reason}` });
    }
  }
  return { ...DEFAULT_FSCK_POLICY, ...severities, skip };
}

function tlsFiles(cert: string | undefined, key: string | undefined): Config['tls'] {
  if (!cert && !key) return null;
  if (!cert || !key) throw new GitgateError('CONFIG', { detail: 'HTTPS needs both a certificate and a key: --tls-cert and --tls-key (GITGATE_TLS_CERT, GITGATE_TLS_KEY)' });
  return { cert: path.resolve(cert), key: path.resolve(key) };
}

function databaseUrl(raw: string | undefined): string | null {
  if (raw === undefined || raw === '') return null;
  if (!/^postgres(ql)?:\/\//.test(raw)) {
    // never echo the value: it may carry a password
    throw new GitgateError('CONFIG', { detail: 'GITGATE_DATABASE_URL (--database-url) must be a postgres:// or postgresql:// URL' });
  }
  return raw;
}

function nodeId(raw: string | undefined): string {
  const id = raw || `${os.hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) {
    throw new GitgateError('CONFIG', { detail: `GITGATE_NODE_ID must be 1-100 letters, digits, ".", "_" or "-", got ${JSON.stringify(id)}` });
  }
  return id;
}

export function loadConfig(flags: ConfigFlags = {}, env: Env = process.env): Config {
  const defaultBranch = env.GITGATE_DEFAULT_BRANCH || 'main';
  if (!/^[A-Za-z0-9._\/-]+$/.test(defaultBranch) || defaultBranch.includes('..')) {
    throw new GitgateError('CONFIG', { detail: `GITGATE_DEFAULT_BRANCH is not a valid branch name: ${defaultBranch}` });
  }
  const maxTtl = optionalInt('GITGATE_MAX_TOKEN_TTL_SECONDS', env.GITGATE_MAX_TOKEN_TTL_SECONDS);
  const defaultTtl = optionalInt('GITGATE_DEFAULT_TOKEN_TTL_SECONDS', env.GITGATE_DEFAULT_TOKEN_TTL_SECONDS);
  if (maxTtl !== null && defaultTtl !== null && defaultTtl > maxTtl) {
    throw new GitgateError('CONFIG', { detail: `GITGATE_DEFAULT_TOKEN_TTL_SECONDS (${defaultTtl}) exceeds GITGATE_MAX_TOKEN_TTL_SECONDS (${maxTtl})` });
  }
  const importAllowNetworks = networks('GITGATE_IMPORT_ALLOW_NETWORKS', env.GITGATE_IMPORT_ALLOW_NETWORKS);
  return {
    host: flags.host ?? env.HOST ?? '127.0.0.1',
    port: int('port', flags.port ?? env.PORT, 8080, 0, 65535),
    dataDir: path.resolve(flags.data ?? env.GITGATE_DATA ?? 'repos'),
    memory: flags.memory ?? bool(env.GITGATE_MEMORY),
    databaseUrl: databaseUrl(flags.databaseUrl ?? env.GITGATE_DATABASE_URL),
    nodeId: nodeId(env.GITGATE_NODE_ID),
    defaultBranch,
    bcryptRounds: int('GITGATE_BCRYPT_ROUNDS', env.GITGATE_BCRYPT_ROUNDS, 10, 4, 31),
    tokenCacheTtlMs: int('GITGATE_TOKEN_CACHE_SECONDS', env.GITGATE_TOKEN_CACHE_SECONDS, 300, 0) * 1000,
    defaultTokenTtlSeconds: defaultTtl,
    maxTokenTtlSeconds: maxTtl,
    maxPushBytes: int('GITGATE_MAX_PUSH_BYTES', env.GITGATE_MAX_PUSH_BYTES, 2 * 1024 ** 3, 1024),
    maxPushObjects: int('GITGATE_MAX_PUSH_OBJECTS', env.GITGATE_MAX_PUSH_OBJECTS, 10_000_000, 1),
    maxPushRefs: int('GITGATE_MAX_PUSH_REFS', env.GITGATE_MAX_PUSH_REFS, 100_000, 1),
    maxJsonBytes: int('GITGATE_MAX_JSON_BYTES', env.GITGATE_MAX_JSON_BYTES, 32 * 1024 ** 2, 1024),
    maxImportBytes: int('GITGATE_MAX_IMPORT_BYTES', env.GITGATE_MAX_IMPORT_BYTES, 1024 ** 3, 1024),
    importAllowNetworks,
    authorName: env.GITGATE_AUTHOR_NAME || 'gitgate',
    authorEmail: env.GITGATE_AUTHOR_EMAIL || 'gitgate@localhost',
    logLevel: env.LOG_LEVEL || 'info',
    fsck: fsckPolicy(env),
    allowAnySha1InWant: bool(env.GITGATE_ALLOW_ANY_SHA1_IN_WANT),
    pruneExpireMs: int('GITGATE_PRUNE_EXPIRE_SECONDS', env.GITGATE_PRUNE_EXPIRE_SECONDS, 14 * 86_400, 0) * 1000,
    tls: tlsFiles(flags.tlsCert ?? env.GITGATE_TLS_CERT, flags.tlsKey ?? env.GITGATE_TLS_KEY),
    caches: {
      packObjectBytes: int('GITGATE_PACK_CACHE_BYTES', env.GITGATE_PACK_CACHE_BYTES, 32 * 1024 ** 2, 0),
      clonePlanBytes: int('GITGATE_CLONE_PLAN_CACHE_BYTES', env.GITGATE_CLONE_PLAN_CACHE_BYTES, 64 * 1024 ** 2, 0),
      searchBytes: int('GITGATE_SEARCH_CACHE_BYTES', env.GITGATE_SEARCH_CACHE_BYTES, 384 * 1024 ** 2, 0),
      packBlockBytes: int('GITGATE_PACK_BLOCK_CACHE_BYTES', env.GITGATE_PACK_BLOCK_CACHE_BYTES, 16 * 1024 ** 2, 0),
      bitmapBytes: int('GITGATE_BITMAP_CACHE_BYTES', env.GITGATE_BITMAP_CACHE_BYTES, 64 * 1024 ** 2, 0),
      idleMs: int('GITGATE_CACHE_IDLE_SECONDS', env.GITGATE_CACHE_IDLE_SECONDS, 10, 0) * 1000,
    },
    ...loadLimits(flags, env),
    ...loadWebhookConfig(env, importAllowNetworks),
  };
}
