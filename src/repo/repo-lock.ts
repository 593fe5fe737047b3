// In-process async mutex keyed by string (one key per repository). Ref transactions and other
// repository-wide mutations run under it so they are ordered within this server process; lock
// files on disk still guard against other processes (C Git) touching the same repository.
// A RepoLocker is what repositories take it through: in a cluster (several nodes on one data
// directory) it also holds a lock shared with the other nodes (SharedLocks: PostgreSQL advisory
// locks, db/postgres/advisory-locks.ts), always after the in-process one, so a node never ties
// up a database connection while its own requests queue.
import { AsyncLocalStorage } from 'node:async_hooks';
import path from 'node:path';
import { GitgateError } from '../errors.js';

/** Tail of the queue per key: resolves when the last queued holder has finished. */
const tails = new Map<string, Promise<void>>();
/** Keys held by the current async context, so nested calls re-enter instead of deadlocking. */
const held = new AsyncLocalStorage<ReadonlySet<string>>();

/** The canonical key for a git directory, so '/x/r.git' and '/x/r.git/' share one lock. */
export function repoLockKey(gitdir: string): string {
  return path.resolve(gitdir);
}

/** Run `fn` once every earlier holder of `key` has finished. Re-entrant within one async context. */
export async function withRepoLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  if (heldHere(key)) return fn();
  const previous = tails.get(key) ?? Promise.resolve();
  let release!: () => void;
  const current = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => current);
  tails.set(key, tail);
  await previous;
  try {
    return await runHolding(key, fn);
  } finally {
    release();
    // forget the key when nobody queued behind us, so the map does not grow with every repo ever seen
    if (tails.get(key) === tail) tails.delete(key);
  }
}

/** Like withRepoLock, but throws REPO_LOCKED (HTTP 423) instead of waiting when `key` is busy. */
export async function tryRepoLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  if (heldHere(key)) return fn();
  if (tails.has(key)) throw new GitgateError('REPO_LOCKED');
  return withRepoLock(key, fn);
}

/** Releases a SharedLocks lock. */
export type ReleaseShared = () => Promise<void>;

/** Locks every node sees, by name (the same name on every node for the same repository). */
export interface SharedLocks {
  /** Wait until `name` is ours; resolves to its release. */
  acquire(name: string): Promise<ReleaseShared>;
  /** `name` if nobody holds it right now, else null. */
  tryAcquire(name: string): Promise<ReleaseShared | null>;
}

/** How repositories serialise their read-modify-writes (keys from repoLockKey and its suffixes). */
export interface RepoLocker {
  /** Run `fn` once every earlier holder of `key` has finished. Re-entrant within one async context. */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Like withLock, but throws REPO_LOCKED (HTTP 423) instead of waiting when `key` is busy. */
  tryLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** One process alone (SQLite, memory): the in-process mutex. */
export const processLocker: RepoLocker = { withLock: withRepoLock, tryLock: tryRepoLock };

/**
 * Several nodes: the in-process mutex, then the shared lock named by the key's path below
 * `root` (the data directory, wherever each node mounts it). Nested calls for a key already
 * held in this context take neither again.
 */
export function clusterLocker(shared: SharedLocks, root: string): RepoLocker {
  const base = path.resolve(root);
  const nameOf = (key: string) => path.relative(base, key);
  const holding = async <T>(release: ReleaseShared, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } finally {
      await release();
    }
  };
  return {
    withLock: (key, fn) => (heldHere(key) ? fn() : withRepoLock(key, async () => holding(await shared.acquire(nameOf(key)), fn))),
    tryLock: (key, fn) =>
      heldHere(key)
        ? fn()
        : tryRepoLock(key, async () => {
            const release = await shared.tryAcquire(nameOf(key));
            if (!release) throw new GitgateError('REPO_LOCKED');
            return holding(release, fn);
          }),
  };
}

function heldHere(key: string): boolean {
  return held.getStore()?.has(key) === true;
}

/** True while some caller holds or waits for `key`. */
export function isRepoLocked(key: string): boolean {
  return tails.has(key);
}

function runHolding<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const keys = new Set(held.getStore() ?? []);
  keys.add(key);
  return held.run(keys, fn);
}
