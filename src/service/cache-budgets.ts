// The configured byte budgets of the process-wide caches, applied once when the services are made,
// and their release when idle: entries unused for GITGATE_CACHE_IDLE_SECONDS are dropped, and
// when the process is idle with that or other garbage behind it (the heap grew since the last
// collection), one full collection returns it to the system: an idle process allocates
// nothing, so V8 would keep it until the next request (measured: 35-45 MiB of dead heap and
// buffers kept after a push or clones, scripts/bench-memory.mjs). The buffers that collection
// frees go back to glibc's heap, which keeps their pages unless trimmed (db/sqlite/native-heap.ts).
// Open packs' reverse indexes (pack/idx.ts, derived, rebuilt on demand) go with the caches.
import v8 from 'node:v8';
import type { CacheBudgets } from '../config.js';
import type { BytePool } from '../pack/lru-cache.js';
import { trimNativeHeap } from '../db/sqlite/native-heap.js';
import { collectNow, lowMemory } from '../pack/low-memory.js';
import { dropReverseIndexes } from '../pack/idx.js';
import { packBlockPool, packObjectPool } from '../pack/pack-file.js';
import { bitmapPool } from '../repo/bitmap-index.js';
import { clonePlanPool } from '../repo/clone-plan-cache.js';
import { searchPools, setSearchCacheBytes } from './content/search.js';

/** Freed or grown bytes worth a full collection. */
const COLLECT_AFTER_BYTES = 4 * 1024 * 1024;
/**
 * The heap is trimmed this long after a collection: V8 frees dead buffers' memory in a sweeping
 * task that may finish after gc() returns.
 */
const TRIM_AFTER_MS = 200;
/** Idle collections and trims run (tests and diagnostics). */
export let idleCollections = 0;
export let nativeTrims = 0;
/** Heap and buffers in use right after the last collection (or at start). */
let lastCollected = 0;
/** What the server is doing (wired by the server; by default never busy, quiet since ever). */
export interface ServerActivity {
  /** Requests are in progress. */
  busy(): boolean;
  /** When (ms since the epoch) the last request ended; 0 if none has. */
  quietSince(): number;
}
let activity: ServerActivity = { busy: () => false, quietSince: () => 0 };
/** Bytes the caches dropped since the last collection (their buffers are garbage until one). */
let droppedSinceCollection = 0;

/** Tell the idle release how to know the process is serving requests (it collects only when quiet). */
export function setServerActivity(a: ServerActivity): void {
  activity = a;
}

/**
 * Heap and ArrayBuffer bytes in use. Not V8's external_memory: it is not lowered when a
 * collection frees buffers (measured on Node 20: 10 MiB of buffers freed, external_memory
 * unchanged), so a count taken after one collection stayed high and the next workload's dead
 * buffers (5 pushes: 10 MiB) never looked like growth, and stayed resident while idle.
 */
function inUse(): number {
  return v8.getHeapStatistics().used_heap_size + process.memoryUsage().arrayBuffers;
}

/** Every process-wide cache pool, by the name its metric carries. */
export function cachePools(): [string, readonly BytePool[]][] {
  return [
    ['pack_objects', [packObjectPool]],
    ['pack_blocks', [packBlockPool]],
    ['bitmaps', [bitmapPool]],
    ['clone_plans', [clonePlanPool]],
    ['search', searchPools],
  ];
}

let sweeper: NodeJS.Timeout | null = null;

export function applyCacheBudgets(budgets: CacheBudgets): void {
  packObjectPool.resize(budgets.packObjectBytes);
  packBlockPool.resize(budgets.packBlockBytes);
  bitmapPool.resize(budgets.bitmapBytes);
  clonePlanPool.resize(budgets.clonePlanBytes);
  setSearchCacheBytes(budgets.searchBytes);
  if (sweeper) clearInterval(sweeper);
  sweeper = null;
  if (budgets.idleMs > 0) {
    sweeper = setInterval(() => releaseIdle(budgets.idleMs), Math.max(1000, budgets.idleMs / 2));
    sweeper.unref();
  }
}

/**
 * Drop cache entries unused for `idleMs`; once no request has run for `idleMs` either, collect
 * if that or other garbage is worth it. Returns the bytes dropped now.
 *
 * Why wait for a quiet `idleMs`: by then the entries the last requests used are dropped in the
 * same sweep, so a workload is followed by one collection and one trim, not one when its
 * requests end and another when its cache entries expire (git.git: a clone after a push paid
 * two, ~50 ms of main-thread CPU each with the trim, beside the collector's threads). While
 * requests keep coming, V8 collects on its own as it would anyway.
 */
export function releaseIdle(idleMs: number, now = Date.now()): number {
  let freed = 0;
  for (const [, pools] of cachePools()) for (const pool of pools) freed += pool.trimIdle(now - idleMs);
  freed += dropReverseIndexes(now - idleMs);
  droppedSinceCollection += freed;
  if (activity.busy() || now - activity.quietSince() < idleMs) return freed;
  if (droppedSinceCollection >= COLLECT_AFTER_BYTES || inUse() - lastCollected >= COLLECT_AFTER_BYTES) {
    collectNow();
    idleCollections++;
    droppedSinceCollection = 0;
    lastCollected = inUse();
    setTimeout(afterSweep, TRIM_AFTER_MS).unref();
  } else if (lowMemory && process.memoryUsage.rss() - rssAfterTrim >= COLLECT_AFTER_BYTES) {
    // requests that left the V8 heap as it was may still have left freed buffers in malloc's heap
    trimWhenIdle();
  }
  return freed;
}

/**
 * Once the collection's sweeping has freed the dead buffers: measure what is in use again (a
 * count taken while they were still counted made the next workload's garbage look like no
 * growth), then trim.
 */
function afterSweep(): void {
  lastCollected = Math.min(lastCollected, inUse());
  if (lowMemory) trimWhenIdle();
}

/** The resident size right after the last trim: a process that grew since is worth another. */
let rssAfterTrim = 0;

/** malloc_trim, unless a request started meanwhile (its buffers would be allocated again at once). */
function trimWhenIdle(): void {
  if (activity.busy() || !trimNativeHeap()) return;
  nativeTrims++;
  rssAfterTrim = process.memoryUsage.rss();
}
