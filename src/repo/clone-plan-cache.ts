// Full clones of the same tips send the same objects, and objects never change: the plan
// (from the reachability bitmap when there is one, else from a walk) is cached per repository
// (a few entries, shared by concurrent clones).
import { bitmapPlan } from './bitmap-plan.js';
import type { ObjectStore } from './object-store.js';
import { planObjects, type SendPlan } from './reachability.js';
import type { Repository } from './repository.js';

const MAX_ENTRIES = 4;
const caches = new WeakMap<ObjectStore, Map<string, Promise<SendPlan>>>();

/** planObjects for a fetch with no haves, no shallow boundary and no filter (from the bitmap when there is one). */
export async function fullClonePlan(repo: Repository, wants: string[]): Promise<SendPlan> {
  const store = repo.objects;
  const plan = await cachedPlan(repo, wants);
  // a plan that sends stored packs whole is good while those packs are in use (not repacked away)
  if (!plan.wholePacks?.length) return plan;
  const live = await store.allPacks();
  if (plan.wholePacks.every((p) => live.includes(p))) return plan;
  caches.get(store)?.delete(cacheKey(wants));
  return cachedPlan(repo, wants);
}

const cacheKey = (wants: string[]) => [...new Set(wants)].sort().join(',');

function cachedPlan(repo: Repository, wants: string[]): Promise<SendPlan> {
  const store = repo.objects;
  let cache = caches.get(store);
  if (!cache) caches.set(store, (cache = new Map()));
  const key = cacheKey(wants);
  let plan = cache.get(key);
  if (plan) {
    cache.delete(key); // refresh LRU position
  } else {
    plan = bitmapPlan(repo, wants, []).then((p) => p ?? planObjects(store, wants, { haves: [] }));
    plan.catch(() => cache!.delete(key));
  }
  cache.set(key, plan);
  while (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  return plan;
}
