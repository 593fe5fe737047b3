// In-process async mutex keyed by string (one key per repository). Ref transactions and other
// repository-wide mutations run under it so they are ordered within this server process; lock
// files on disk still guard against other processes (C Git) touching the same repository.
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
  if (held.getStore()?.has(key)) return fn();
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
  if (held.getStore()?.has(key)) return fn();
  if (tails.has(key)) throw new GitgateError('REPO_LOCKED');
  return withRepoLock(key, fn);
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
