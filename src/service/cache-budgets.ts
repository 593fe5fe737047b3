// The configured byte budgets of the process-wide caches, applied once when the services are made.
import type { CacheBudgets } from '../config.js';
import { packObjectPool } from '../pack/pack-file.js';
import { clonePlanPool } from '../repo/clone-plan-cache.js';
import { setSearchCacheBytes } from './content/search.js';

export function applyCacheBudgets(budgets: CacheBudgets): void {
  packObjectPool.resize(budgets.packObjectBytes);
  clonePlanPool.resize(budgets.clonePlanBytes);
  setSearchCacheBytes(budgets.searchBytes);
}
