// Pruning, like `git gc --prune=<expire>`: an object goes only when no ref reaches it AND it is
// older than the grace period (loose objects by their file's mtime, packed ones by their pack's).
// What keeps a racing writer safe (C Git's reasoning, plus an exclusion C Git does not have):
//  - objects younger than the grace are kept, and so is everything they reach (a push that
//    just landed a pack keeps what its objects point at, even if no ref shows it yet);
//  - the deletion runs with no push between its ingest and its ref update (ObjectUseGuard) and
//    under the repository lock, after a last walk from whatever refs, packs and loose objects
//    appeared since the first walk; anything that walk reaches is kept.
// Old packs holding garbage are rewritten without it (through the repack writer); the packs
// themselves leave the object store at once and their files go after `defer`'s delay.
import path from 'node:path';
import type { PackFile } from '../pack/pack-file.js';
import type { OidSet } from './oid-set.js';
import { walkReachable } from './reach-objects.js';
import { Courtesy } from './courtesy.js';
import { listLoose, plan, writePackFiles } from './pack-rewrite.js';
import { deleteGarbage, repackLockKey, type RepackOptions } from './repack.js';
import { withRepoLock } from './repo-lock.js';
import type { Repository } from './repository.js';
import { PACK_KEEP } from './pack-names.js';

/** Files that belong to a pack besides .pack and .idx (deleted with it). */
const PACK_FILES = ['.idx', '.pack', '.rev', '.bitmap', '.mtimes', '.promisor'];

export interface PruneOptions extends Pick<RepackOptions, 'signal' | 'courteous' | 'defer'> {
  /** Grace period: unreachable objects younger than this are kept. */
  expireMs: number;
  now?: number;
}

export interface PruneResult {
  /** Unreachable loose objects deleted. */
  looseRemoved: number;
  /** Unreachable packed objects left out of the rewritten packs. */
  packedRemoved: number;
  /** Old packs replaced by a pack without their garbage. */
  packsReplaced: string[];
  /** The replacing pack (null when none was needed). */
  pack: string | null;
}

export function prune(repo: Repository, opts: PruneOptions): Promise<PruneResult> {
  // under the repack lock: the pack list holds still except for packs pushes add
  return withRepoLock(repackLockKey(repo.gitdir), () => pruneNow(repo, opts));
}

/** Ref tips, HEAD included. */
async function refTips(repo: Repository): Promise<string[]> {
  const tips = (await repo.refs.list('refs/')).map((r) => r.oid);
  const head = await repo.refs.resolve('HEAD').catch(() => null);
  if (head) tips.push(head);
  return tips;
}

function packOids(pack: PackFile): string[] {
  const out: string[] = [];
  for (let i = 0; i < pack.index.count; i++) out.push(pack.index.oidAt(i).toString('hex'));
  return out;
}

async function pruneNow(repo: Repository, opts: PruneOptions): Promise<PruneResult> {
  const { storage } = repo;
  const store = repo.objects;
  const packDir = store.packDir;
  const cutoff = (opts.now ?? Date.now()) - opts.expireMs;
  const result: PruneResult = { looseRemoved: 0, packedRemoved: 0, packsReplaced: [], pack: null };
  const isOld = async (file: string) => ((await storage.stat(file))?.mtimeMs ?? Infinity) <= cutoff;

  await store.rescan();
  const release = store.pin();
  try {
    // 1. What exists now, and which of it is old enough to go.
    const files = await storage.readdir(packDir);
    const kept = new Set(files.filter((f) => PACK_KEEP.test(f)).map((f) => f.slice(0, -5)));
    const packs = await store.packInfos();
    const knownPacks = new Set(packs.map((p) => p.name));
    const oldPacks: typeof packs = [];
    const roots = await refTips(repo);
    for (const p of packs) {
      if (!kept.has(p.name) && (await isOld(path.join(packDir, `${p.name}.pack`)))) oldPacks.push(p);
      // young (or kept) objects count as reachable, and so does what they reach (one by one:
      // spreading a pack of 100k+ ids into push() overflows the stack)
      else for (const oid of packOids(p.pack)) roots.push(oid);
    }
    const loose = await listLoose(storage, path.join(repo.gitdir, 'objects'));
    const knownLoose = new Set(loose);
    const oldLoose: string[] = [];
    for (const oid of loose) {
      if (await isOld(store.loose.pathOf(oid))) oldLoose.push(oid);
      else roots.push(oid);
    }
    if (oldPacks.length === 0 && oldLoose.length === 0) return result;

    // 2. One walk from refs and young objects; a missing object stops the prune (never guess).
    const { seen } = await walkReachable(store, roots, { missing: 'throw' });
    const garbageLoose = oldLoose.filter((oid) => !seen.hasHex(oid));
    const drop = (oid: Buffer) => !seen.has(oid, 0);
    const dropped = new Map<string, string[]>(); // per old pack, its garbage as found by this walk
    for (const p of oldPacks) {
      const dead = packOids(p.pack).filter((oid) => !seen.hasHex(oid));
      if (dead.length) dropped.set(p.name, dead);
    }
    const affected = oldPacks.filter((p) => dropped.has(p.name));
    if (affected.length === 0 && garbageLoose.length === 0) return result;
    if (opts.signal?.aborted) return result;

    // 3. The affected packs' live objects go into one new pack (nothing is deleted yet).
    const courtesy = new Courtesy(opts.courteous === true, opts.signal);
    const affectedNames = new Set(affected.map((p) => p.name));
    const others = packs.filter((p) => !affectedNames.has(p.name)).map((p) => p.pack);
    if (affected.length > 0) {
      const items = await plan(affected.map((p) => p.pack), others, [], courtesy, drop);
      if (opts.signal?.aborted) return result;
      if (items.length > 0) {
        result.pack = await writePackFiles(repo, items, opts, courtesy);
        if (result.pack === null) return result; // aborted
        await store.addPack(result.pack);
      }
    }

    // 4. Delete, with no push in flight and the refs held still, whatever is still garbage.
    const done = await repo.objectUse.exclusive(
      () => withRepoLock(repo.refs.lockKey, () => finish(repo, { seen, knownPacks, knownLoose, newPack: result.pack, garbageLoose, dropped, result, opts })),
      opts.signal,
    );
    return done ?? result;
  } finally {
    release();
  }
}

interface FinishState {
  seen: OidSet;
  knownPacks: Set<string>;
  knownLoose: Set<string>;
  newPack: string | null;
  garbageLoose: string[];
  dropped: Map<string, string[]>;
  result: PruneResult;
  opts: PruneOptions;
}

async function finish(repo: Repository, st: FinishState): Promise<PruneResult> {
  const { storage } = repo;
  const store = repo.objects;
  await store.rescan();
  // what appeared since the first walk: moved refs, pushed packs, loose objects written
  const roots = await refTips(repo);
  for (const p of await store.packInfos()) {
    if (!st.knownPacks.has(p.name) && p.name !== st.newPack) for (const oid of packOids(p.pack)) roots.push(oid);
  }
  for (const oid of await listLoose(storage, path.join(repo.gitdir, 'objects'))) if (!st.knownLoose.has(oid)) roots.push(oid);
  await walkReachable(store, roots, { seen: st.seen, missing: 'throw' });

  const { result } = st;
  for (const oid of st.garbageLoose) {
    if (st.seen.hasHex(oid)) continue; // reached again meanwhile
    await storage.unlink(store.loose.pathOf(oid));
    result.looseRemoved++;
  }
  // a pack some of whose garbage came back to life stays (the new pack duplicates the rest: harmless)
  const replaced = [...st.dropped].filter(([, dead]) => !dead.some((oid) => st.seen.hasHex(oid)));
  for (const [, dead] of replaced) result.packedRemoved += dead.length;
  result.packsReplaced = replaced.map(([name]) => name);
  if (replaced.length > 0) {
    await storage.unlink(path.join(store.packDir, 'multi-pack-index'));
    await store.retirePacks(result.packsReplaced);
    const garbage = result.packsReplaced.flatMap((base) => PACK_FILES.map((ext) => path.join(store.packDir, `${base}${ext}`)));
    if (st.opts.defer) st.opts.defer(garbage, result.packsReplaced);
    else await deleteGarbage(repo, garbage, result.packsReplaced);
  }
  return result;
}
