// The credential helper's cache of minted child tokens: one JSON file per (server, repository,
// parent token, permission, ref scope), named by a SHA-256 of those (the parent secret enters
// only hashed), mode 0600 in a 0700 directory. Only tokens the helper minted are ever stored.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CachedChild {
  version: 1;
  /** server base URL the child was minted at, e.g. https://git.example.com */
  base: string;
  /** repository as named in the clone URL (id or name) */
  repo: string;
  /** the child's public id and secret */
  id: string;
  token: string;
  permission: string;
  /** ISO time, or null for a child without expiry */
  expires_at: string | null;
  created_at: string;
  /** public id of the parent token (never its secret) */
  parent_id: string;
}

export interface CacheKeyInput {
  base: string;
  repo: string;
  parentSecret: string;
  permission: string;
  refs?: string[];
  allowForce?: boolean;
  allowDelete?: boolean;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function cacheKey(k: CacheKeyInput): string {
  return sha256(
    JSON.stringify([
      'gitgate-credential-v1',
      k.base,
      k.repo,
      sha256(k.parentSecret),
      k.permission,
      k.refs ?? null,
      k.allowForce ?? null,
      k.allowDelete ?? null,
    ]),
  );
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const root = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(root, 'gitgate', 'credentials');
}

export class CredentialCache {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }

  private ensureDir(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    try {
      const st = fs.statSync(this.dir);
      if ((st.mode & 0o077) !== 0 && typeof process.getuid === 'function' && st.uid === process.getuid()) fs.chmodSync(this.dir, 0o700);
    } catch {
      /* best effort */
    }
  }

  get(key: string): CachedChild | null {
    return readEntry(this.file(key));
  }

  put(key: string, entry: CachedChild): void {
    this.ensureDir();
    const tmp = path.join(this.dir, `.${key}.${randomBytes(6).toString('hex')}.tmp`);
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(entry));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file(key));
  }

  delete(key: string): boolean {
    try {
      fs.unlinkSync(this.file(key));
      return true;
    } catch {
      return false;
    }
  }

  /** Every readable entry with its key. */
  entries(): Array<[string, CachedChild]> {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: Array<[string, CachedChild]> = [];
    for (const name of names) {
      const m = /^([0-9a-f]{64})\.json$/.exec(name);
      if (!m) continue;
      const entry = readEntry(path.join(this.dir, name));
      if (entry) out.push([m[1]!, entry]);
    }
    return out;
  }

  /** Drop entries that have expired (they are useless and hold a secret). */
  prune(nowMs: number): void {
    for (const [key, e] of this.entries()) {
      if (e.expires_at !== null && Date.parse(e.expires_at) <= nowMs) this.delete(key);
    }
  }
}

function readEntry(file: string): CachedChild | null {
  try {
    const e = JSON.parse(fs.readFileSync(file, 'utf8')) as CachedChild;
    if (e?.version !== 1 || typeof e.token !== 'string' || typeof e.id !== 'string' || typeof e.base !== 'string') return null;
    return e;
  } catch {
    return null;
  }
}
