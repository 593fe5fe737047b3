// Full clones of the same tips send the same objects, and objects never change. The plan comes
// from the reachability bitmap when there is one (bitmap-plan.ts), else from a walk. A plan that
// sends stored packs whole, or entries of one by pack reuse, is cheap to recompute from the
// bitmap and is only good while those packs are live, so it is not cached; any other plan is cached per repository, compact (each
// id as 20 bytes and a type byte, not hex strings: 21 bytes an object instead of ~100), under
// one process-wide byte budget (GITGATE_CLONE_PLAN_CACHE_BYTES); each clone expands its own
// list and drops it when done. Concurrent clones of the same tips share one computation.
import { ByteLru, BytePool } from '../pack/lru-cache.js';
import type { ObjectType } from '../pack/types.js';
import { bitmapPlan } from './bitmap-plan.js';
import type { ObjectDatabase } from './object-database.js';
import { planObjects, type ObjectToSend, type SendPlan } from './reachability.js';
import type { Repository } from './repository.js';

/**
 * A full clone that had to walk at least this many objects asks background maintenance for a
 * bitmap (Maintenance.scheduleBitmap): a repository copied in or imported without one would
 * else be walked by every clone (git.git: 20 s of CPU each) until its next push. Tests lower it.
 */
export const bitmapAfterWalk = { minObjects: 10_000 };

/** Budget of all cached clone plans (one plan may take all of it); empty until configured. */
export const clonePlanPool = new BytePool(0, 1);

const TYPES: readonly ObjectType[] = ['commit', 'tree', 'blob', 'tag'];

interface CompactPlan {
  ids: Buffer;
  types: Uint8Array;
  commitCount: number;
  bytes: number;
}

const cached = new WeakMap<ObjectDatabase, ByteLru<string, CompactPlan>>();
const computing = new WeakMap<ObjectDatabase, Map<string, Promise<SendPlan>>>();
const NOTHING = { has: () => false };

function compact(plan: SendPlan): CompactPlan {
  const n = plan.objects.length;
  const ids = Buffer.allocUnsafe(20 * n);
  const types = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const o = plan.objects[i]!;
    ids.write(o.oid, 20 * i, 20, 'hex');
    types[i] = TYPES.indexOf(o.type);
  }
  return { ids, types, commitCount: plan.commitCount, bytes: ids.length + types.length + 64 };
}

function expand(c: CompactPlan): SendPlan {
  const objects = new Array<ObjectToSend>(c.types.length);
  for (let i = 0; i < objects.length; i++) objects[i] = { oid: c.ids.toString('hex', 20 * i, 20 * i + 20), type: TYPES[c.types[i]!]! };
  return { objects, clientHas: NOTHING, deltaBases: new Map(), commitCount: c.commitCount };
}

/** planObjects for a fetch with no haves, no shallow boundary and no filter (from the bitmap when there is one). */
export function fullClonePlan(repo: Repository, wants: string[], progress?: { objects: number }): Promise<SendPlan> {
  const store = repo.objects;
  const key = [...new Set(wants)].sort().join(',');
  let cache = cached.get(store);
  if (!cache) cached.set(store, (cache = new ByteLru(clonePlanPool)));
  const hit = cache.get(key);
  if (hit) return Promise.resolve(expand(hit));
  let inflight = computing.get(store);
  if (!inflight) computing.set(store, (inflight = new Map()));
  let plan = inflight.get(key);
  if (!plan) {
    const done = cache;
    const map = inflight;
    plan = bitmapPlan(repo, wants, [])
      .then(async (p) => {
        if (p) return p;
        const walked = await planObjects(store, wants, { haves: [], progress });
        if (walked.objects.length >= bitmapAfterWalk.minObjects) repo.maintenance.scheduleBitmap();
        return walked;
      })
      .then((p) => {
        if (!p.wholePacks?.length && !p.reuse) done.set(key, compact(p));
        return p;
      })
      .finally(() => map.delete(key));
    inflight.set(key, plan);
  }
  return plan;
}
