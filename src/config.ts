// Configuration from flags and environment: one zod schema (SETTINGS) with every default, one
// integer parser, and CONFIG errors naming the variable and what it accepts. Safe defaults:
// loopback, ./repos.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { GitgateError } from './errors.js';
import { parseNetworks } from './net/address-policy.js';
import { DEFAULT_FSCK_POLICY, parseFsckSeverities, parseSkipList, type FsckPolicy } from './repo/fsck/policy.js';

export type MetricsAccess = 'loopback' | 'public' | 'token' | 'off';
export type LogFormat = 'json' | 'pretty';
/** Express `trust proxy`: off, a hop count, or addresses/CIDRs/names of trusted proxies. */
export type TrustProxy = false | number | string[];

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

export interface ConfigFlags {
  host?: string;
  port?: string | number;
  data?: string;
  memory?: boolean;
  databaseUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  logPretty?: boolean;
  trustProxy?: string;
}

type Env = Record<string, string | undefined>;

/** A rule the value breaks: reported as "NAME <message>" (a parser's own error: "NAME: <message>"). */
class Rule extends Error {}

/** A string setting run through `parse`; its errors become issues on the setting. */
function parsed<T>(parse: (raw: string) => T) {
  return z.string().transform((raw, ctx) => {
    try {
      return parse(raw);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Rule ? ` ${err.message}` : `: ${(err as Error).message}` });
      return z.NEVER;
    }
  });
}

/** The one integer parser: the text as a number, an integer in [min, max]. */
function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.union([z.number(), z.string()]).transform((raw, ctx) => {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    ctx.addIssue({ code: 'custom', message: ` must be an integer between ${min} and ${max}, got ${JSON.stringify(String(raw))}` });
    return z.NEVER;
  });
}

/** Seconds in the environment, milliseconds in Config. */
function seconds(min: number, max: number | undefined, fallback: number) {
  return int(min, max).default(fallback).transform((s) => s * 1000);
}

function oneOf<const T extends readonly [string, ...string[]]>(allowed: T, fallback: T[number]) {
  return parsed((raw) => {
    if (!(allowed as readonly string[]).includes(raw)) throw new Rule(`must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
    return raw as T[number];
  }).prefault(fallback);
}

const bool = z
  .union([z.boolean(), z.string()])
  .transform((v) => (typeof v === 'boolean' ? v : /^(1|true|yes|on)$/i.test(v)))
  .default(false);

/** A positive number of seconds that is off (null) when unset. */
const optionalSeconds = int(1, 100 * 365 * 24 * 3600).nullable().default(null);

const networks = parsed(parseNetworks);

function branchName(raw: string): string {
  if (!/^[A-Za-z0-9._/-]+$/.test(raw) || raw.includes('..')) throw new Rule(`is not a valid branch name: ${raw}`);
  return raw;
}

function databaseUrl(raw: string): string {
  // never echo the value: it may carry a password
  if (!/^postgres(ql)?:\/\//.test(raw)) throw new Rule('(--database-url) must be a postgres:// or postgresql:// URL');
  return raw;
}

function nodeId(raw: string): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(raw)) throw new Rule(`must be 1-100 letters, digits, ".", "_" or "-", got ${JSON.stringify(raw)}`);
  return raw;
}

function fsckSkipList(file: string): Set<string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseSkipList(text);
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** `off` (default), a hop count, or a comma-separated list of proxy addresses, CIDRs and the
 *  names loopback/linklocal/uniquelocal. "Trust everyone" is refused: any client could then
 *  pick its own address and walk past the throttle. */
function trustProxy(raw: string): TrustProxy {
  const value = raw.trim();
  const bad = (why: string) => new Rule(`${why}: use off, loopback, a comma-separated list of proxy addresses or CIDRs, or a hop count; got ${JSON.stringify(raw)}`);
  if (value === '' || /^(off|false|no|0)$/i.test(value)) return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 64) throw bad('hop count is too large');
    return hops;
  }
  if (/^(true|all|\*)$/i.test(value)) throw bad('may not trust every address');
  const entries = value.split(',').map((e) => e.trim());
  for (const entry of entries) {
    if (PROXY_NAMES.includes(entry)) continue;
    const [addr = '', bits, ...rest] = entry.split('/');
    const family = net.isIP(addr);
    const max = family === 6 ? 128 : 32;
    if (!family || rest.length || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > max))) throw bad(`has an invalid entry ${JSON.stringify(entry)}`);
  }
  return entries;
}

const MiB = 1024 ** 2;

/** Longer than the longest request on any node: a clone of a large repository over a slow link. */
const CLUSTER_PACK_RETIRE_GRACE_MS = 3600_000;

interface Setting {
  /** The environment variable (README's configuration table lists each). */
  env: string;
  /** Where a command-line flag, when given, takes precedence. */
  flag?: (flags: ConfigFlags) => unknown;
  /** An empty value is a value (not "unset"). */
  keepEmpty?: boolean;
  schema: z.ZodType;
}

/** Every setting: its variable, its flag, its parser and its default. */
const SETTINGS = {
  host: { env: 'HOST', flag: (f) => f.host, schema: z.string().default('127.0.0.1') },
  port: { env: 'PORT', flag: (f) => f.port, schema: int(0, 65535).default(8080) },
  dataDir: { env: 'GITGATE_DATA', flag: (f) => f.data, schema: z.string().default('repos').transform((d) => path.resolve(d)) },
  memory: { env: 'GITGATE_MEMORY', flag: (f) => f.memory, schema: bool },
  /** PostgreSQL for the stores; null: SQLite in dataDir. */
  databaseUrl: { env: 'GITGATE_DATABASE_URL', flag: (f) => f.databaseUrl, schema: parsed(databaseUrl).nullable().default(null) },
  /** This process in a cluster. */
  nodeId: { env: 'GITGATE_NODE_ID', schema: parsed(nodeId).prefault(() => `${os.hostname()}-${process.pid}`) },
  /** Cluster: how often a node refreshes its heartbeat row … */
  heartbeatMs: { env: 'GITGATE_HEARTBEAT_MS', schema: int(50, 3_600_000).default(10_000) },
  /** … after how long without one it counts as dead (its temporary files, throttle slots and row are cleaned up) … */
  nodeExpiryMs: { env: 'GITGATE_NODE_EXPIRY_MS', schema: int(100, 86_400_000).default(60_000) },
  /** … and when an owner-less lock or temporary file counts as a leftover. */
  staleLockMs: { env: 'GITGATE_STALE_LOCK_SECONDS', schema: seconds(1, 86_400, 600) },
  tlsCert: { env: 'GITGATE_TLS_CERT', flag: (f) => f.tlsCert, schema: z.string().nullable().default(null) },
  tlsKey: { env: 'GITGATE_TLS_KEY', flag: (f) => f.tlsKey, schema: z.string().nullable().default(null) },
  defaultBranch: { env: 'GITGATE_DEFAULT_BRANCH', schema: parsed(branchName).default('main') },
  bcryptRounds: { env: 'GITGATE_BCRYPT_ROUNDS', schema: int(4, 31).default(10) },
  tokenCacheTtlMs: { env: 'GITGATE_TOKEN_CACHE_SECONDS', schema: seconds(0, undefined, 300) },
  /** Longest ttl_seconds the API accepts (null: no limit). The operator CLI is not bound. */
  maxTokenTtlSeconds: { env: 'GITGATE_MAX_TOKEN_TTL_SECONDS', schema: optionalSeconds },
  /** Lifetime of API-minted tokens without ttl_seconds (null: maxTokenTtlSeconds). */
  defaultTokenTtlSeconds: { env: 'GITGATE_DEFAULT_TOKEN_TTL_SECONDS', schema: optionalSeconds },
  maxPushBytes: { env: 'GITGATE_MAX_PUSH_BYTES', schema: int(1024).default(2 * 1024 * MiB) },
  maxPushObjects: { env: 'GITGATE_MAX_PUSH_OBJECTS', schema: int(1).default(10_000_000) },
  maxPushRefs: { env: 'GITGATE_MAX_PUSH_REFS', schema: int(1).default(100_000) },
  /** Checks of pushed objects: C Git's receive.fsck.<msg-id> … */
  fsckSeverities: { env: 'GITGATE_FSCK', schema: parsed(parseFsckSeverities).prefault('') },
  /** … and receive.fsck.skipList (a file of ids). */
  fsckSkip: { env: 'GITGATE_FSCK_SKIPLIST', schema: parsed(fsckSkipList).default(() => new Set<string>()) },
  maxJsonBytes: { env: 'GITGATE_MAX_JSON_BYTES', schema: int(1024).default(32 * MiB) },
  maxImportBytes: { env: 'GITGATE_MAX_IMPORT_BYTES', schema: int(1024).default(1024 * MiB) },
  /** CIDRs git sources may reach although loopback/private/... */
  importAllowNetworks: { env: 'GITGATE_IMPORT_ALLOW_NETWORKS', schema: networks.prefault('') },
  /** Fetches may want any object by id, reachable or not (C Git's uploadpack.allowAnySHA1InWant). */
  allowAnySha1InWant: { env: 'GITGATE_ALLOW_ANY_SHA1_IN_WANT', schema: bool },
  /** Unreachable objects older than this are pruned by maintenance (C Git's gc.pruneExpire). */
  pruneExpireMs: { env: 'GITGATE_PRUNE_EXPIRE_SECONDS', schema: seconds(0, undefined, 14 * 86_400) },
  /** Replaced packs are renamed aside and deleted this long after, as other nodes may still be
   *  reading them (null: the default, 1 h with PostgreSQL, else deleted at once). */
  packRetireGraceMs: { env: 'GITGATE_PACK_RETIRE_GRACE_MS', schema: int(0).nullable().default(null) },
  packObjectBytes: { env: 'GITGATE_PACK_CACHE_BYTES', schema: int(0).default(32 * MiB) },
  clonePlanBytes: { env: 'GITGATE_CLONE_PLAN_CACHE_BYTES', schema: int(0).default(64 * MiB) },
  searchBytes: { env: 'GITGATE_SEARCH_CACHE_BYTES', schema: int(0).default(384 * MiB) },
  packBlockBytes: { env: 'GITGATE_PACK_BLOCK_CACHE_BYTES', schema: int(0).default(16 * MiB) },
  bitmapBytes: { env: 'GITGATE_BITMAP_CACHE_BYTES', schema: int(0).default(64 * MiB) },
  cacheIdleMs: { env: 'GITGATE_CACHE_IDLE_SECONDS', schema: seconds(0, undefined, 10) },
  authorName: { env: 'GITGATE_AUTHOR_NAME', schema: z.string().default('gitgate') },
  authorEmail: { env: 'GITGATE_AUTHOR_EMAIL', schema: z.string().default('gitgate@localhost') },
  logLevel: { env: 'LOG_LEVEL', schema: z.string().default('info') },
  logFormat: { env: 'LOG_FORMAT', flag: (f) => (f.logPretty ? 'pretty' : undefined), schema: oneOf(['json', 'pretty'], 'json') },
  /** Largest upload-pack (fetch negotiation) request body, after gunzip. */
  maxFetchRequestBytes: { env: 'GITGATE_MAX_FETCH_REQUEST_BYTES', schema: int(1024).default(64 * MiB) },
  /** Most blob bytes one content-API read holds in memory (GET /file, the total of GET /clone). */
  maxReadBytes: { env: 'GITGATE_MAX_READ_BYTES', schema: int(1024).default(64 * MiB) },
  /** Time a client has to send the request headers (0 = no limit). */
  headersTimeoutMs: { env: 'GITGATE_HEADERS_TIMEOUT_SECONDS', schema: seconds(0, 86_400, 60) },
  /** A socket with no bytes in either direction for this long is closed (0 = never). */
  idleTimeoutMs: { env: 'GITGATE_IDLE_TIMEOUT_SECONDS', schema: seconds(0, 86_400, 60) },
  /** Requests one token may have in flight at once; more get 429 (0 = no limit). */
  maxConcurrentPerToken: { env: 'GITGATE_MAX_CONCURRENT_PER_TOKEN', schema: int(0).default(32) },
  /** Failed authentications from one address within the window before it is blocked (0 = off). */
  authFailLimit: { env: 'GITGATE_AUTH_FAIL_LIMIT', schema: int(0).default(30) },
  authFailWindowMs: { env: 'GITGATE_AUTH_FAIL_WINDOW_SECONDS', schema: seconds(1, undefined, 180) },
  /** How long a blocked address gets 429 on every authenticated route. */
  authBanMs: { env: 'GITGATE_AUTH_BAN_SECONDS', schema: seconds(1, undefined, 180) },
  /** On SIGTERM/SIGINT, how long running requests may take to finish. */
  shutdownTimeoutMs: { env: 'GITGATE_SHUTDOWN_TIMEOUT_SECONDS', schema: seconds(0, 86_400, 30) },
  /** Who may read GET /metrics. */
  metrics: { env: 'GITGATE_METRICS', schema: oneOf(['loopback', 'public', 'token', 'off'], 'loopback') },
  /** Whose X-Forwarded-For gives the client address (throttle, last_used_ip, audit, logs, metrics). */
  trustProxy: { env: 'GITGATE_TRUST_PROXY', flag: (f) => f.trustProxy, schema: parsed(trustProxy).default(false) },
  /** CIDRs webhook URLs may reach although loopback/private/... (unset: the import allow-list; empty: none). */
  webhookAllowNetworks: { env: 'GITGATE_WEBHOOK_ALLOW_NETWORKS', keepEmpty: true, schema: networks.nullable().default(null) },
  /** How long a failing delivery is retried, from its first attempt's scheduling. */
  webhookRetryMs: { env: 'GITGATE_WEBHOOK_RETRY_SECONDS', schema: seconds(0, 30 * 86_400, 86_400) },
  /** Delay before the first retry; doubled after each failure, capped at webhookBackoffMaxMs. */
  webhookBackoffMs: { env: 'GITGATE_WEBHOOK_BACKOFF_MS', schema: int(1, 86_400_000).default(10_000) },
  webhookBackoffMaxMs: { env: 'GITGATE_WEBHOOK_BACKOFF_MAX_MS', schema: int(1, 86_400_000).default(3_600_000) },
  /** One delivery attempt's limit (connect to end of response). */
  webhookTimeoutMs: { env: 'GITGATE_WEBHOOK_TIMEOUT_SECONDS', schema: seconds(1, 300, 10) },
  /** Deliveries in flight at once. */
  webhookConcurrency: { env: 'GITGATE_WEBHOOK_CONCURRENCY', schema: int(1, 64).default(4) },
  /** How often the server looks for events written by another process (the CLI); its own wake feeds at once. */
  eventsPollMs: { env: 'GITGATE_EVENTS_POLL_MS', schema: int(10, 3_600_000).default(1000) },
} satisfies Record<string, Setting>;

type Key = keyof typeof SETTINGS;
type Raw = { [K in Key]: z.output<(typeof SETTINGS)[K]['schema']> };

/** The environment variables the schema reads, in table order. */
export const CONFIG_ENV_VARS: readonly string[] = Object.values(SETTINGS).map((s) => s.env);

const SCHEMA = z.object(Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.schema])) as { [K in Key]: (typeof SETTINGS)[K]['schema'] });

function assemble(v: Raw): Config {
  const { tlsCert, tlsKey, fsckSeverities, fsckSkip, packObjectBytes, clonePlanBytes, searchBytes, packBlockBytes, bitmapBytes, cacheIdleMs, webhookAllowNetworks, heartbeatMs, nodeExpiryMs, staleLockMs, ...rest } = v;
  // one late beat must not make a live node look dead (and lose its temporary files)
  if (nodeExpiryMs < 3 * heartbeatMs) {
    throw new GitgateError('CONFIG', { detail: `GITGATE_NODE_EXPIRY_MS (${nodeExpiryMs}) must be at least 3 × GITGATE_HEARTBEAT_MS (${heartbeatMs})` });
  }
  if (rest.maxTokenTtlSeconds !== null && rest.defaultTokenTtlSeconds !== null && rest.defaultTokenTtlSeconds > rest.maxTokenTtlSeconds) {
    throw new GitgateError('CONFIG', { detail: `GITGATE_DEFAULT_TOKEN_TTL_SECONDS (${rest.defaultTokenTtlSeconds}) exceeds GITGATE_MAX_TOKEN_TTL_SECONDS (${rest.maxTokenTtlSeconds})` });
  }
  if (!tlsCert !== !tlsKey) throw new GitgateError('CONFIG', { detail: 'HTTPS needs both a certificate and a key: --tls-cert and --tls-key (GITGATE_TLS_CERT, GITGATE_TLS_KEY)' });
  return {
    ...rest,
    tls: tlsCert && tlsKey ? { cert: path.resolve(tlsCert), key: path.resolve(tlsKey) } : null,
    fsck: { ...DEFAULT_FSCK_POLICY, ...fsckSeverities, skip: fsckSkip },
    caches: { packObjectBytes, clonePlanBytes, searchBytes, packBlockBytes, bitmapBytes, idleMs: cacheIdleMs },
    cluster: { heartbeatMs, nodeExpiryMs, staleLockMs },
    packRetireGraceMs: rest.packRetireGraceMs ?? (rest.databaseUrl !== null ? CLUSTER_PACK_RETIRE_GRACE_MS : null),
    webhookAllowNetworks: webhookAllowNetworks ?? rest.importAllowNetworks,
  };
}

export type Config = Omit<Raw, 'tlsCert' | 'tlsKey' | 'fsckSeverities' | 'fsckSkip' | 'packObjectBytes' | 'clonePlanBytes' | 'searchBytes' | 'packBlockBytes' | 'bitmapBytes' | 'cacheIdleMs' | 'webhookAllowNetworks' | 'heartbeatMs' | 'nodeExpiryMs' | 'staleLockMs'> & {
  /** Cluster: heartbeat interval, node expiry, stale lock bound (ms). */
  cluster: { heartbeatMs: number; nodeExpiryMs: number; staleLockMs: number };
  /** Serve HTTPS with these PEM files (both or neither). */
  tls: { cert: string; key: string } | null;
  /** Checks of pushed objects: C Git's receive.fsck.<msg-id> and receive.fsck.skipList. */
  fsck: FsckPolicy;
  /** Byte budgets of the process-wide caches (each shared by every repository), applied by createServices. */
  caches: CacheBudgets;
  webhookAllowNetworks: string[];
};

/** The settings the webhook dispatcher reads. */
export type WebhookConfig = Pick<Config, 'webhookAllowNetworks' | 'webhookRetryMs' | 'webhookBackoffMs' | 'webhookBackoffMaxMs' | 'webhookTimeoutMs' | 'webhookConcurrency' | 'eventsPollMs'>;

/** Flags first, then the environment; an empty variable is unset (except where noted). */
export function loadConfig(flags: ConfigFlags = {}, env: Env = process.env): Config {
  const input: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [Key, Setting][]) {
    const flag = s.flag?.(flags);
    const raw = flag ?? env[s.env];
    input[key] = raw === '' && !s.keepEmpty ? undefined : raw;
  }
  const result = SCHEMA.safeParse(input);
  if (!result.success) {
    const name = (i: z.core.$ZodIssue) => SETTINGS[i.path[0] as Key]?.env ?? String(i.path[0]);
    // our parsers' messages go on from the name (" must be…", ": …"); zod's own are sentences
    const detail = result.error.issues.map((i) => `${name(i)}${/^[ :]/.test(i.message) ? '' : ': '}${i.message}`).join('; ');
    throw new GitgateError('CONFIG', { detail });
  }
  return assemble(result.data as Raw);
}
