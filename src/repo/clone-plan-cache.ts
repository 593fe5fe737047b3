// Full clones of the same tips send the same objects, and objects never change: the walk's
// result is cached per repository (a few entries, shared by concurrent clones), which
// plays the part of C Git's reachability bitmaps for the common "clone everything" case.
import { bitmapPlan } from './bitmap-plan.js';
import type { ObjectStore } from './object-store.js';
import { planObjects, type SendPlan } from './reachability.js';
import type { Repository } from './repository.js';

const MAX_ENTRIES = 4;
const caches = new WeakMap<ObjectStore, Map<string, Promise<SendPlan>>>();

/** planObjects for a fetch with no haves, no shallow boundary and no filter (from the bitmap when there is one). */
export function fullClonePlan(repo: Repository, wants: string[]): Promise<SendPlan> {
  const store = repo.objects;
  let cache = caches.get(store);
  if (!cache) caches.set(store, (cache = new Map()));
  const key = [...new Set(wants)].sort().join(',');
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
