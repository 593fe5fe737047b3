// One `serve` per data directory. Crash recovery deletes ref locks and temporary packs as
// leftovers, which is only true when no other server is writing them, so serve takes this lock
// before recovery and holds it until it exits. Node has no flock: the lock is a file created
// atomically (a hard link of a complete temporary file, so it is never seen half-written)
// holding pid, host and start time; a lock whose process is gone (same host, pid not alive)
// is stale and taken over. The CLI's token and repo commands do not take it: they only touch
// SQLite (WAL) and whole repositories, which a running server tolerates.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { GitgateError } from '../errors.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './data-dir.js';

export const LOCK_FILE = 'serve.lock';

export interface LockHolder {
  pid: number;
  host: string;
  started_at: string;
}

export interface DataDirLock {
  file: string;
  /** Remove the lock if it is still ours (idempotent). */
  release(): void;
}

/** `nodeId` (a cluster node on PostgreSQL): the lock is that node id's alone, so several nodes
 *  share the directory but one node id never runs twice. */
export function acquireDataDirLock(dir: string, nodeId?: string): DataDirLock {
  ensurePrivateDir(dir);
  const file = path.join(dir, nodeId === undefined ? LOCK_FILE : `serve.${nodeId}.lock`);
  const content = `${JSON.stringify({ pid: process.pid, host: os.hostname(), started_at: new Date().toISOString() } satisfies LockHolder)}\n`;
  // a few rounds: each lost race (a stale lock removed or replaced under us) starts over
  for (let round = 0; round < 5; round++) {
    if (tryCreate(file, content)) return { file, release: () => releaseIfOurs(file, content) };
    const raw = readOrNull(file);
    if (raw === null) continue; // removed between our attempt and the read
    const holder = parseHolder(raw);
    if (holder && isAlive(holder)) {
      throw new GitgateError('DATA_DIR_LOCKED', { dir, pid: holder.pid, host: holder.host, since: holder.started_at, file });
    }
    breakStale(file, raw);
  }
  throw new GitgateError('DATA_DIR_LOCKED', { dir, pid: 'unknown', host: 'unknown', since: 'unknown', file });
}

function tryCreate(file: string, content: string): boolean {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, content, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  try {
    fs.linkSync(tmp, file); // atomic; EEXIST while someone holds it
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function parseHolder(raw: string): LockHolder | null {
  try {
    const h = JSON.parse(raw) as Partial<LockHolder>;
    if (Number.isInteger(h.pid) && typeof h.host === 'string' && typeof h.started_at === 'string') return h as LockHolder;
  } catch {
    // not ours: garbage is not a live holder
  }
  return null;
}

/** On another host we cannot tell, so it counts as alive (a data directory on shared storage). */
function isAlive(h: LockHolder): boolean {
  if (h.host !== os.hostname()) return true;
  if (h.pid === process.pid) return true;
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Move the stale lock aside and delete it, unless what we moved is no longer the stale one
 *  (another starter replaced it meanwhile): then put that back. */
function breakStale(file: string, staleRaw: string): void {
  const aside = `${file}.stale-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    if (readOrNull(aside) !== staleRaw) {
      try {
        fs.linkSync(aside, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

function releaseIfOurs(file: string, content: string): void {
  try {
    if (readOrNull(file) === content) fs.unlinkSync(file);
  } catch {
    // exiting anyway: a leftover lock of a dead pid is taken over at the next start
  }
}
