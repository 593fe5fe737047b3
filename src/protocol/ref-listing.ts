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

/** Refs under `prefix` (default refs/), sorted, each with its peeled value when `peel` is set. */
export async function listRefs(repo: Repository, opts: { peel: boolean; prefix?: string }): Promise<AdvertisedRef[]> {
  const out: AdvertisedRef[] = [];
  for (const ref of await repo.refs.listPeeled(opts.prefix ?? 'refs/')) {
    const entry: AdvertisedRef = { name: ref.name, oid: ref.oid };
    if (opts.peel) {
      const peeled = ref.peeled !== undefined ? ref.peeled : await peel(repo, ref.oid);
      if (peeled) entry.peeled = peeled;
    }
    out.push(entry);
  }
  return out;
}

export async function listAdvertisedRefs(repo: Repository, opts: { includeHead: boolean; peel: boolean }): Promise<AdvertisedRef[]> {
  const out: AdvertisedRef[] = [];
  if (opts.includeHead) {
    const head = await repo.refs.resolve('HEAD');
    if (head) out.push({ name: 'HEAD', oid: head });
  }
  out.push(...(await listRefs(repo, { peel: opts.peel })));
  return out;
}
