// `gitgate credential <get|store|erase>`: a Git credential helper. Given a parent token (an
// admin token, from GITGATE_TOKEN, GITGATE_TOKEN_FILE or --token-file) it answers `get` for a
// gitgate repository URL with a freshly minted child token scoped to that one repository
// with a short TTL, cached until shortly before it expires; `erase` (git's "this credential
// was rejected") revokes the cached child; `store` does nothing. The parent secret is only
// ever sent to the server in an Authorization header: never printed, never cached. The helper
// knows its one server (--server or GITGATE_URL) and says nothing to git about any other URL, so
// a hostile URL (a submodule, a redirect) cannot make it send the parent token anywhere else.
import fs from 'node:fs';
import os from 'node:os';
import { Command, Option } from 'commander';
import { parseSecret } from '../auth/token-format.js';
import { redactSecrets } from '../redact.js';
import { isLoopbackAddress } from '../net/address-policy.js';
import { CredentialCache, cacheKey, defaultCacheDir, type CachedChild } from './credential-cache.js';
import { CredentialProtocolError, formatCredential, readCredential, type Credential } from './credential-protocol.js';
import { parseDuration } from './duration.js';

export const CHILD_USERNAME = 'x-access-token';
export const DEFAULT_TTL_SECONDS = 3600;
const HTTP_TIMEOUT_MS = 30_000;

export interface CredentialOptions {
  tokenFile?: string;
  ttl?: string;
  permission?: 'read' | 'write';
  ref?: string[];
  allowForce?: boolean;
  allowDelete?: boolean;
  minRemaining?: string;
  cacheDir?: string;
  cache?: boolean;
  name?: string;
  server?: string;
  allowHttp?: boolean;
}

export interface HelperIO {
  stdin: NodeJS.ReadableStream;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  now: () => number;
  fetch: typeof fetch;
}

/** A failure worth one line on stderr (git then treats the helper as having no credential). */
export class HelperError extends Error {}

/** Where a credential request points: the server's base URL and the repository named in the path. */
export interface Target {
  base: string;
  repo: string;
}

/** The repository of `server` a credential description is about, or null when it is about
 *  anything else: another scheme, host or port (compared as URL origins, so default ports and
 *  letter case do not matter), a path outside the server's path prefix or not a gitgate
 *  repository, or no path at all (git sends `path` only with credential.useHttpPath). */
export function targetOf(cred: Credential, server: URL): Target | null {
  const { protocol, host, path } = cred.attrs;
  if ((protocol !== 'http' && protocol !== 'https') || !host || !path) return null;
  let asked: URL;
  try {
    asked = new URL(`${protocol}://${host}/`);
  } catch {
    return null;
  }
  if (asked.origin !== server.origin || asked.username || asked.password) return null;
  const prefix = server.pathname.replace(/\/+$/, '');
  const rel = `/${path.replace(/^\/+/, '')}`;
  if (!rel.startsWith(`${prefix}/`)) return null;
  // v1/repo/<id>[.git][/...]
  const m = /^v1\/repo\/([^/]+?)(?:\.git)?(?:\/.*)?$/.exec(rel.slice(prefix.length + 1));
  if (!m || !m[1]) return null;
  return { base: `${server.origin}${prefix}`, repo: m[1] };
}

function parseServer(raw: string, source: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new HelperError(`${source} must be a URL like https://git.example.com, got ${JSON.stringify(raw)}`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || u.search || u.hash) {
    throw new HelperError(`${source} must be an http(s) URL without credentials, query or fragment, like https://git.example.com`);
  }
  return u;
}

/** Plain http only where nobody can listen in: a loopback server, or when --allow-http says so. */
export function assertTransport(server: URL, allowHttp: boolean): void {
  if (server.protocol !== 'http:' || allowHttp) return;
  const host = server.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || isLoopbackAddress(host)) return;
  throw new HelperError(`refusing to send the parent token over plain http to ${server.host}: use https, or pass --allow-http`);
}

function positiveInt(raw: string | undefined, flag: string, fallback: number, allowZero = false): number {
  if (raw === undefined) return fallback;
  const n = parseDuration(raw);
  if (n === null || n < (allowZero ? 0 : 1)) throw new HelperError(`${flag} must be a ${allowZero ? 'non-negative' : 'positive'} duration (seconds, or 90s, 30m, 1h, 7d), got ${JSON.stringify(raw)}`);
  return n;
}

/** The default renewal margin: 10% of the TTL but at least a minute, never more than half the TTL. */
export function defaultMinRemaining(ttlSeconds: number): number {
  return Math.min(Math.max(60, ttlSeconds * 0.1), ttlSeconds / 2);
}

export interface Parent {
  secret: string;
  id: string;
  source: string;
}

export function readParent(opts: CredentialOptions, env: NodeJS.ProcessEnv): Parent | null {
  let raw: string;
  let source: string;
  const fromFile = (file: string, label: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new HelperError(`cannot read the parent token file (${label}): ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  if (opts.tokenFile) {
    raw = fromFile(opts.tokenFile, '--token-file');
    source = '--token-file';
  } else if (env.GITGATE_TOKEN) {
    raw = env.GITGATE_TOKEN;
    source = 'GITGATE_TOKEN';
  } else if (env.GITGATE_TOKEN_FILE) {
    raw = fromFile(env.GITGATE_TOKEN_FILE, 'GITGATE_TOKEN_FILE');
    source = 'GITGATE_TOKEN_FILE';
  } else {
    return null;
  }
  const secret = raw.trim();
  const parsed = parseSecret(secret);
  if (!parsed) throw new HelperError(`the parent token from ${source} is not a well-formed gitgate token`);
  return { secret, id: parsed.id, source };
}

interface ApiResult {
  status: number;
  body: Record<string, unknown> | null;
}

async function api(io: HelperIO, method: string, url: string, parent: Parent, body?: unknown): Promise<ApiResult> {
  let res: Response;
  try {
    res = await io.fetch(url, {
      method,
      headers: {
        Authorization: `Bearer ${parent.secret}`,
        Accept: 'application/json',
        'User-Agent': 'gitgate-credential',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'error', // never carry the parent token somewhere else
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    throw new HelperError(`cannot reach ${new URL(url).origin}: ${e.cause?.code ?? e.cause?.message ?? e.message}`);
  }
  const text = await res.text().catch(() => '');
  let parsed: Record<string, unknown> | null = null;
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object') parsed = v as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

function serverMessage(r: ApiResult): string {
  const err = r.body?.error as { code?: unknown; message?: unknown } | undefined;
  const msg = typeof err?.message === 'string' ? err.message : '';
  const code = typeof err?.code === 'string' ? err.code : '';
  return `${r.status}${code ? ` ${code}` : ''}${msg ? `: ${msg}` : ''}`;
}

function credentialLines(child: CachedChild): string {
  const exp = child.expires_at === null ? undefined : Math.floor(Date.parse(child.expires_at) / 1000);
  return formatCredential({ username: CHILD_USERNAME, password: child.token, password_expiry_utc: exp });
}

interface Settings {
  ttl: number;
  minRemaining: number;
  permission: 'read' | 'write';
  refs?: string[];
  allowForce?: boolean;
  allowDelete?: boolean;
  cache: CredentialCache | null;
  name: string;
  /** the one server this helper answers for; null: answer nothing */
  server: URL | null;
  allowHttp: boolean;
}

function settings(opts: CredentialOptions, env: NodeJS.ProcessEnv): Settings {
  const ttl = positiveInt(opts.ttl, '--ttl', DEFAULT_TTL_SECONDS);
  const minRemaining = positiveInt(opts.minRemaining, '--min-remaining', defaultMinRemaining(ttl), true);
  return {
    ttl,
    minRemaining,
    permission: opts.permission ?? 'write',
    refs: opts.ref?.length ? opts.ref : undefined,
    allowForce: opts.allowForce,
    allowDelete: opts.allowDelete,
    cache: opts.cache === false ? null : new CredentialCache(opts.cacheDir ?? defaultCacheDir(env)),
    name: (opts.name ?? `git credential helper (${os.hostname()})`).slice(0, 200),
    server: opts.server ? parseServer(opts.server, '--server') : env.GITGATE_URL ? parseServer(env.GITGATE_URL, 'GITGATE_URL') : null,
    allowHttp: opts.allowHttp === true,
  };
}

function keyFor(s: Settings, t: Target, parent: Parent): string {
  return cacheKey({
    base: t.base,
    repo: t.repo,
    parentSecret: parent.secret,
    permission: s.permission,
    refs: s.refs,
    allowForce: s.allowForce,
    allowDelete: s.allowDelete,
  });
}

async function get(s: Settings, t: Target, parent: Parent, io: HelperIO): Promise<void> {
  const now = io.now();
  const key = keyFor(s, t, parent);
  const cached = s.cache?.get(key);
  if (cached && cached.expires_at !== null) {
    const left = (Date.parse(cached.expires_at) - now) / 1000;
    // still comfortably valid, and not longer-lived than what is asked for now
    if (left > s.minRemaining && left <= s.ttl + 60) {
      io.stdout(credentialLines(cached));
      return;
    }
  }

  // A child must not outlive its parent (the server refuses that): clamp the TTL.
  let ttl = s.ttl;
  const self = await api(io, 'GET', `${t.base}/v1/repo_token/${encodeURIComponent(parent.id)}`, parent);
  if (self.status === 401) throw new HelperError(`the parent token (${parent.source}) was rejected by ${t.base}: unknown, expired or revoked`);
  const parentExpiry = self.status === 200 && typeof self.body?.expires_at === 'string' ? Date.parse(self.body.expires_at) : NaN;
  if (Number.isFinite(parentExpiry)) {
    const left = Math.floor((parentExpiry - now) / 1000) - 1;
    if (left < 1) throw new HelperError(`the parent token (${parent.source}) has expired`);
    ttl = Math.min(ttl, left);
  }

  const body: Record<string, unknown> = { name: s.name, repo_ids: [t.repo], ttl_seconds: ttl, permission: s.permission };
  if (s.refs) body.refs = s.refs;
  if (s.allowForce !== undefined) body.allow_force = s.allowForce;
  if (s.allowDelete !== undefined) body.allow_delete = s.allowDelete;
  const r = await api(io, 'POST', `${t.base}/v1/repo_token`, parent, body);
  if (r.status !== 201 && r.status !== 200) {
    throw new HelperError(`cannot mint a ${s.permission} token for repository ${t.repo} at ${t.base}: ${serverMessage(r)}`);
  }
  const token = r.body?.token;
  const id = r.body?.id;
  const expiresAt = r.body?.expires_at;
  if (typeof token !== 'string' || !parseSecret(token) || typeof id !== 'string' || (expiresAt !== null && typeof expiresAt !== 'string')) {
    throw new HelperError(`unexpected answer from ${t.base} when minting a token`);
  }
  const child: CachedChild = {
    version: 1,
    base: t.base,
    repo: t.repo,
    id,
    token,
    permission: typeof r.body?.permission === 'string' ? r.body.permission : s.permission,
    expires_at: (expiresAt as string | null) ?? null,
    created_at: new Date(now).toISOString(),
    parent_id: parent.id,
  };
  // Fail closed: a server that ignored the ref scope minted a wider token than asked for.
  if (s.refs && !Array.isArray(r.body?.refs)) {
    await api(io, 'DELETE', `${t.base}/v1/repo_token/${encodeURIComponent(id)}`, parent).catch(() => undefined);
    throw new HelperError(`${t.base} does not support ref-scoped tokens (--ref); minted token revoked`);
  }
  if (s.cache) {
    try {
      s.cache.prune(now);
      s.cache.put(key, child);
    } catch (err) {
      io.stderr(`gitgate credential: warning: cannot cache the token in ${s.cache.dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}\n`);
    }
  }
  io.stdout(credentialLines(child));
}

async function erase(s: Settings, t: Target, cred: Credential, parent: Parent | null, io: HelperIO): Promise<void> {
  if (!s.cache) return;
  const password = cred.attrs.password;
  let found: [string, CachedChild] | null = null;
  if (parent) {
    const key = keyFor(s, t, parent);
    const e = s.cache.get(key);
    if (e && (password === undefined || e.token === password)) found = [key, e];
  }
  if (!found && password !== undefined) {
    // minted under other options: still ours, find it by its secret
    found = s.cache.entries().find(([, e]) => e.token === password && e.base === t.base) ?? null;
  }
  if (!found) return; // not something this helper minted: nothing to revoke
  const [key, child] = found;
  s.cache.delete(key);
  if (!parent) {
    io.stderr(`gitgate credential: warning: removed the cached token ${child.id} but cannot revoke it without the parent token\n`);
    return;
  }
  try {
    const r = await api(io, 'DELETE', `${child.base}/v1/repo_token/${encodeURIComponent(child.id)}`, parent);
    if (r.status !== 204 && r.status !== 200 && r.status !== 404) {
      io.stderr(`gitgate credential: warning: could not revoke token ${child.id}: ${serverMessage(r)}\n`);
    }
  } catch (err) {
    io.stderr(`gitgate credential: warning: could not revoke token ${child.id}: ${(err as Error).message}\n`);
  }
}

/** Runs one helper action; throws HelperError (or CredentialProtocolError) for a one-line failure. */
export async function runCredentialHelper(action: string, opts: CredentialOptions, io: HelperIO): Promise<void> {
  // git may grow new actions; a helper ignores the ones it does not know (gitcredentials(7))
  if (action !== 'get' && action !== 'store' && action !== 'erase') return;
  const s = settings(opts, io.env);
  const cred = await readCredential(io.stdin);
  if (action === 'store') return; // nothing to keep: only tokens this helper minted are cached, at minting
  if (s.server === null) {
    // a hint for a helper that looks meant for gitgate; silence for everything else
    if (/(^|\/)v1\/repo\//.test(cred.attrs.path ?? '')) io.stderr('gitgate credential: no server configured (--server URL or GITGATE_URL): not answering\n');
    return;
  }
  const t = targetOf(cred, s.server);
  if (!t) return; // another server, not a repository URL, or no path (credential.useHttpPath unset)
  assertTransport(s.server, s.allowHttp);
  if (action === 'erase') {
    let parent: Parent | null = null;
    try {
      parent = readParent(opts, io.env);
    } catch (err) {
      io.stderr(`gitgate credential: warning: ${(err as Error).message}\n`);
    }
    await erase(s, t, cred, parent, io);
    return;
  }
  const parent = readParent(opts, io.env);
  if (!parent) throw new HelperError('no parent token: set GITGATE_TOKEN or GITGATE_TOKEN_FILE, or pass --token-file');
  try {
    await get(s, t, parent, io);
  } catch (err) {
    throw new HelperError(scrub((err as Error).message, parent.secret));
  }
}

/** Belt and braces: nothing shaped like a secret, and never the parent's, in a message. */
function scrub(message: string, parentSecret: string): string {
  return redactSecrets(message.split(parentSecret).join('[parent token]'));
}

const HELP = `
The parent token (an admin token allowed to mint) comes from --token-file PATH, else the
environment variable GITGATE_TOKEN, else the file named by GITGATE_TOKEN_FILE. It is only
sent to the server, in an Authorization header: never printed and never cached.

The helper answers only for its server: --server URL, else the environment variable
GITGATE_URL (scheme, host and port must match; without either it answers nothing). It never
sends the parent token over plain http to a host other than loopback unless --allow-http.

Setup (git sends the repository path to helpers only with useHttpPath):
  git config --global credential.https://git.example.com.helper '!npx gitgate credential --server https://git.example.com'
  git config --global credential.https://git.example.com.useHttpPath true

On "get" for <server>/v1/repo/<id or name>.git it mints a child token scoped to that
repository (POST /v1/repo_token), caches it (mode 0600) until shortly before it expires,
and answers username=${CHILD_USERNAME}, password=<child>, password_expiry_utc=<unix time>.
"erase" (git's "that credential was rejected") revokes the cached child; "store" does
nothing. Any other URL, or one without a path, gets no answer.`;

/** Adds `credential <action>` to the program. */
export function credentialCommand(program: Command): Command {
  return program
    .command('credential')
    .description('Git credential helper: mints short-lived repository tokens from a parent token')
    .argument('<action>', 'get, store or erase (what git passes)')
    .option('--token-file <path>', 'read the parent token from this file (default: env GITGATE_TOKEN, then the file in env GITGATE_TOKEN_FILE)')
    .option('--ttl <duration>', `lifetime of minted tokens: seconds, or 90s, 30m, 1h, 7d (default ${DEFAULT_TTL_SECONDS}, never beyond the parent's expiry)`)
    .addOption(new Option('--permission <p>', 'permission of minted tokens (default write; never more than the parent)').choices(['read', 'write']))
    .option('--ref <pattern>', 'restrict minted tokens to refs matching this pattern (repeatable; sent as "refs")', (v: string, prev: string[] = []) => [...prev, v])
    .option('--allow-force', 'minted tokens may force-push (sent as allow_force: true)')
    .option('--no-allow-force', 'minted tokens may not force-push (sent as allow_force: false)')
    .option('--allow-delete', 'minted tokens may delete refs (sent as allow_delete: true)')
    .option('--no-allow-delete', 'minted tokens may not delete refs (sent as allow_delete: false)')
    .option('--min-remaining <seconds>', 'reuse a cached token only while more than this is left (default: 10% of the TTL, at least 60, at most half the TTL)')
    .option('--cache-dir <dir>', 'where minted tokens are cached (default $XDG_CACHE_HOME/gitgate/credentials or ~/.cache/gitgate/credentials)')
    .option('--no-cache', 'mint a new token for every request and cache nothing')
    .option('--name <name>', 'label of minted tokens')
    .option('--server <url>', 'the gitgate server to answer for, e.g. https://git.example.com (default: env GITGATE_URL; without either, no answers)')
    .option('--allow-http', 'allow sending the parent token over plain http to a server that is not loopback')
    .addHelpText('after', HELP)
    .action(async (action: string, opts: CredentialOptions) => {
      try {
        await runCredentialHelper(action, opts, {
          stdin: process.stdin,
          stdout: (s) => process.stdout.write(s),
          stderr: (s) => process.stderr.write(s),
          env: process.env,
          now: () => Date.now(),
          fetch: globalThis.fetch,
        });
      } catch (err) {
        // one line on stderr and nothing on stdout: git goes on as if this helper had no credential
        if (!(err instanceof HelperError) && !(err instanceof CredentialProtocolError)) throw err;
        process.stderr.write(`gitgate credential: ${err.message}\n`);
        process.exitCode = 1;
      }
    });
}
