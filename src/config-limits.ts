// Hardening settings (limits, timeouts, throttling, shutdown, metrics, log format), read from
// the environment and flags next to the rest of Config (src/config.ts spreads them in).
import net from 'node:net';
import { GitgateError } from './errors.js';

export type MetricsAccess = 'loopback' | 'public' | 'token' | 'off';
export type LogFormat = 'json' | 'pretty';
/** Express `trust proxy`: off, a hop count, or addresses/CIDRs/names of trusted proxies. */
export type TrustProxy = false | number | string[];

export interface LimitsConfig {
  /** Largest upload-pack (fetch negotiation) request body, after gunzip. */
  maxFetchRequestBytes: number;
  /** Most blob bytes one content-API read holds in memory (GET /file, the total of GET /clone). */
  maxReadBytes: number;
  /** Time a client has to send the request headers (0 = no limit). */
  headersTimeoutMs: number;
  /** A socket with no bytes in either direction for this long is closed (0 = never). */
  idleTimeoutMs: number;
  /** Requests one token may have in flight at once; more get 429 (0 = no limit). */
  maxConcurrentPerToken: number;
  /** Failed authentications from one address within the window before it is blocked (0 = off). */
  authFailLimit: number;
  authFailWindowMs: number;
  /** How long a blocked address gets 429 on every authenticated route. */
  authBanMs: number;
  /** On SIGTERM/SIGINT, how long running requests may take to finish. */
  shutdownTimeoutMs: number;
  /** Who may read GET /metrics. */
  metrics: MetricsAccess;
  logFormat: LogFormat;
  /** Whose X-Forwarded-For gives the client address (throttle, last_used_ip, audit, logs, metrics). */
  trustProxy: TrustProxy;
}

export interface LimitsFlags {
  logPretty?: boolean;
  trustProxy?: string;
}

type Env = Record<string, string | undefined>;

function int(name: string, raw: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new GitgateError('CONFIG', { detail: `${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}` });
  }
  return n;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new GitgateError('CONFIG', { detail: `${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}` });
  }
  return raw as T;
}

export function loadLimits(flags: LimitsFlags = {}, env: Env = process.env): LimitsConfig {
  return {
    maxFetchRequestBytes: int('GITGATE_MAX_FETCH_REQUEST_BYTES', env.GITGATE_MAX_FETCH_REQUEST_BYTES, 64 * 1024 ** 2, 1024),
    maxReadBytes: int('GITGATE_MAX_READ_BYTES', env.GITGATE_MAX_READ_BYTES, 64 * 1024 ** 2, 1024),
    headersTimeoutMs: int('GITGATE_HEADERS_TIMEOUT_SECONDS', env.GITGATE_HEADERS_TIMEOUT_SECONDS, 60, 0, 86_400) * 1000,
    idleTimeoutMs: int('GITGATE_IDLE_TIMEOUT_SECONDS', env.GITGATE_IDLE_TIMEOUT_SECONDS, 60, 0, 86_400) * 1000,
    maxConcurrentPerToken: int('GITGATE_MAX_CONCURRENT_PER_TOKEN', env.GITGATE_MAX_CONCURRENT_PER_TOKEN, 32, 0),
    authFailLimit: int('GITGATE_AUTH_FAIL_LIMIT', env.GITGATE_AUTH_FAIL_LIMIT, 30, 0),
    authFailWindowMs: int('GITGATE_AUTH_FAIL_WINDOW_SECONDS', env.GITGATE_AUTH_FAIL_WINDOW_SECONDS, 180, 1) * 1000,
    authBanMs: int('GITGATE_AUTH_BAN_SECONDS', env.GITGATE_AUTH_BAN_SECONDS, 180, 1) * 1000,
    shutdownTimeoutMs: int('GITGATE_SHUTDOWN_TIMEOUT_SECONDS', env.GITGATE_SHUTDOWN_TIMEOUT_SECONDS, 30, 0, 86_400) * 1000,
    metrics: oneOf('GITGATE_METRICS', env.GITGATE_METRICS, ['loopback', 'public', 'token', 'off'] as const, 'loopback'),
    logFormat: flags.logPretty ? 'pretty' : oneOf('LOG_FORMAT', env.LOG_FORMAT, ['json', 'pretty'] as const, 'json'),
    trustProxy: trustProxy(flags.trustProxy ?? env.GITGATE_TRUST_PROXY),
  };
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** `off` (default), a hop count, or a comma-separated list of proxy addresses, CIDRs and the
 *  names loopback/linklocal/uniquelocal. "Trust everyone" is refused: any client could then
 *  pick its own address and walk past the throttle. */
function trustProxy(raw: string | undefined): TrustProxy {
  const value = raw?.trim() ?? '';
  const bad = (why: string) =>
    new GitgateError('CONFIG', { detail: `GITGATE_TRUST_PROXY ${why}: use off, loopback, a comma-separated list of proxy addresses or CIDRs, or a hop count; got ${JSON.stringify(raw)}` });
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
