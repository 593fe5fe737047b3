// The configured byte budgets of the process-wide caches, applied once when a context is made,
// and their release when idle: entries unused for GITGATE_CACHE_IDLE_SECONDS are dropped, and
// when that frees a good amount a full collection returns it to the system at once (an idle
// process allocates nothing, so V8 would not collect on its own).
import type { CacheBudgets } from '../config.js';
import type { BytePool } from '../pack/lru-cache.js';
import { collectNow } from '../pack/low-memory.js';
import { packBlockPool, packObjectPool } from '../pack/pack-file.js';
import { bitmapPool } from '../repo/bitmap-index.js';
import { clonePlanPool } from '../repo/clone-plan-cache.js';
import { searchPools, setSearchCacheBytes } from './content/search.js';

/** Freed bytes worth a full collection. */
const COLLECT_AFTER_BYTES = 4 * 1024 * 1024;

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

/** Drop cache entries unused for `idleMs`; returns the bytes freed. */
export function releaseIdle(idleMs: number, now = Date.now()): number {
  let freed = 0;
  for (const [, pools] of cachePools()) for (const pool of pools) freed += pool.trimIdle(now - idleMs);
  if (freed >= COLLECT_AFTER_BYTES) collectNow();
  return freed;
}
