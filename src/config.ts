// Configuration from flags and environment, with safe defaults (loopback, ./repos).
import path from 'node:path';
import { GitgateError } from './errors.js';
import { loadLimits, type LimitsConfig, type LimitsFlags } from './config-limits.js';
import { parseNetworks } from './net/address-policy.js';

export interface Config extends LimitsConfig {
  host: string;
  port: number;
  dataDir: string;
  memory: boolean;
  defaultBranch: string;
  bcryptRounds: number;
  tokenCacheTtlMs: number;
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
  /** Serve HTTPS with these PEM files (both or neither). */
  tls: { cert: string; key: string } | null;
}

export interface ConfigFlags extends LimitsFlags {
  host?: string;
  port?: string | number;
  data?: string;
  memory?: boolean;
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

function bool(raw: string | undefined): boolean {
  return raw !== undefined && /^(1|true|yes|on)$/i.test(raw);
}

function tlsFiles(cert: string | undefined, key: string | undefined): Config['tls'] {
  if (!cert && !key) return null;
  if (!cert || !key) throw new GitgateError('CONFIG', { detail: 'HTTPS needs both a certificate and a key: --tls-cert and --tls-key (GITGATE_TLS_CERT, GITGATE_TLS_KEY)' });
  return { cert: path.resolve(cert), key: path.resolve(key) };
}

export function loadConfig(flags: ConfigFlags = {}, env: Env = process.env): Config {
  const defaultBranch = env.GITGATE_DEFAULT_BRANCH || 'main';
  if (!/^[A-Za-z0-9._\/-]+$/.test(defaultBranch) || defaultBranch.includes('..')) {
    throw new GitgateError('CONFIG', { detail: `GITGATE_DEFAULT_BRANCH is not a valid branch name: ${defaultBranch}` });
  }
  return {
    host: flags.host ?? env.HOST ?? '127.0.0.1',
    port: int('port', flags.port ?? env.PORT, 8080, 0, 65535),
    dataDir: path.resolve(flags.data ?? env.GITGATE_DATA ?? 'repos'),
    memory: flags.memory ?? bool(env.GITGATE_MEMORY),
    defaultBranch,
    bcryptRounds: int('GITGATE_BCRYPT_ROUNDS', env.GITGATE_BCRYPT_ROUNDS, 10, 4, 31),
    tokenCacheTtlMs: int('GITGATE_TOKEN_CACHE_SECONDS', env.GITGATE_TOKEN_CACHE_SECONDS, 300, 0) * 1000,
    maxPushBytes: int('GITGATE_MAX_PUSH_BYTES', env.GITGATE_MAX_PUSH_BYTES, 2 * 1024 ** 3, 1024),
    maxPushObjects: int('GITGATE_MAX_PUSH_OBJECTS', env.GITGATE_MAX_PUSH_OBJECTS, 10_000_000, 1),
    maxPushRefs: int('GITGATE_MAX_PUSH_REFS', env.GITGATE_MAX_PUSH_REFS, 100_000, 1),
    maxJsonBytes: int('GITGATE_MAX_JSON_BYTES', env.GITGATE_MAX_JSON_BYTES, 32 * 1024 ** 2, 1024),
    maxImportBytes: int('GITGATE_MAX_IMPORT_BYTES', env.GITGATE_MAX_IMPORT_BYTES, 1024 ** 3, 1024),
    importAllowNetworks: networks('GITGATE_IMPORT_ALLOW_NETWORKS', env.GITGATE_IMPORT_ALLOW_NETWORKS),
    authorName: env.GITGATE_AUTHOR_NAME || 'gitgate',
    authorEmail: env.GITGATE_AUTHOR_EMAIL || 'gitgate@localhost',
    logLevel: env.LOG_LEVEL || 'info',
    tls: tlsFiles(flags.tlsCert ?? env.GITGATE_TLS_CERT, flags.tlsKey ?? env.GITGATE_TLS_KEY),
    ...loadLimits(flags, env),
  };
}
