// The refs a repository advertises: HEAD first (upload-pack only), then refs/ sorted,
// annotated tags with their peeled value. Peeled values come from packed-refs' '^' lines
// where it has them; other refs are peeled once per object id (an id's target never changes).
import type { Repository } from '../repo/repository.js';
import { parseTag } from '../repo/objects/tag.js';
import type { AdvertisedRef } from './advertisement.js';

/** Object id → what it peels to (null: not a tag), per repository. */
const peelCaches = new WeakMap<Repository, Map<string, string | null>>();
/** Bounded by entries: 40-character keys and values, a few MiB at most. */
const PEEL_CACHE_ENTRIES = 50_000;

export async function peel(repo: Repository, oid: string): Promise<string | null> {
  let cache = peelCaches.get(repo);
  if (!cache) peelCaches.set(repo, (cache = new Map()));
  const hit = cache.get(oid);
  if (hit !== undefined) return hit;
  const peeled = await peelUncached(repo, oid);
  if (cache.size >= PEEL_CACHE_ENTRIES) cache.clear();
  cache.set(oid, peeled);
  return peeled;
}

async function peelUncached(repo: Repository, oid: string): Promise<string | null> {
  // the type from the object's header first: most refs are commits, not worth inflating
  if ((await repo.objects.readType(oid))?.type !== 'tag') return null;
  let current = oid;
  for (let depth = 0; depth < 16; depth++) {
    const obj = await repo.objects.read(current);
    if (!obj || obj.type !== 'tag') return depth === 0 ? null : current;
    current = parseTag(obj.content).object;
  }
  return current;
}

/**
 * What listRefs made from a listing of the RefStore, by peel flag. The store hands out the same
 * listing while the refs are unchanged, and what an id peels to never changes, so 20,000 tags
 * are turned into advertised refs once per change of the refs, not once per request.
 */
const derived = new WeakMap<object, { peeled?: readonly AdvertisedRef[]; plain?: readonly AdvertisedRef[] }>();

/** Refs under `prefix` (default refs/), sorted, each with its peeled value when `peel` is set. */
export async function listRefs(repo: Repository, opts: { peel: boolean; prefix?: string }): Promise<readonly Readonly<AdvertisedRef>[]> {
  const listing = await repo.refs.listPeeled(opts.prefix ?? 'refs/');
  let memo = derived.get(listing);
  if (!memo) derived.set(listing, (memo = {}));
  const hit = opts.peel ? memo.peeled : memo.plain;
  if (hit) return hit;
  const out: AdvertisedRef[] = [];
  for (const ref of listing) {
    const entry: AdvertisedRef = { name: ref.name, oid: ref.oid };
    if (opts.peel) {
      const peeled = ref.peeled !== undefined ? ref.peeled : await peel(repo, ref.oid);
      if (peeled) entry.peeled = peeled;
    }
    out.push(entry);
  }
  if (opts.peel) memo.peeled = out;
  else memo.plain = out;
  return out;
}

const tipSets = new WeakMap<object, ReadonlySet<string>>();

/**
 * Every id the upload-pack advertisement shows (HEAD, refs, their peeled values): the tips a
 * want must be reachable from. The set is built once per listing, not per fetch.
 */
export async function advertisedTips(repo: Repository): Promise<{ has(oid: string): boolean; readonly ids: Iterable<string> }> {
  const refs = await listRefs(repo, { peel: true });
  let tips = tipSets.get(refs);
  if (!tips) {
    const set = new Set<string>();
    for (const r of refs) {
      set.add(r.oid);
      if (r.peeled) set.add(r.peeled);
    }
    tipSets.set(refs, (tips = set));
  }
  const head = await repo.refs.resolve('HEAD');
  const all = tips;
  // HEAD first: a walk from the tips reaches the wanted trees of HEAD soonest
  return { has: (oid) => oid === head || all.has(oid), ids: head ? [head, ...all] : all };
}
