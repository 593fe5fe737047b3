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
//
// For repositories on disk the walks and the rewrite run in the maintenance worker process
// (repack-runner.ts; pruneNow is the same code there, with hooks): when it is ready to delete,
// this process takes the push guard and the ref lock, lets it finish, and retires the packs
// it replaced before letting go.
import path from 'node:path';
import type { PackFile } from '../pack/pack-file.js';
import type { OidSet } from './oid-set.js';
import { walkReachable } from './reach-objects.js';
import { Courtesy } from './courtesy.js';
import { listLoose } from './loose.js';
import { plan, writePackFiles } from './pack-rewrite.js';
import { deleteGarbage, repackLockKey, type RepackOptions } from './repack.js';
import { runInWorker } from './repack-runner.js';
import { withRepoLock } from './repo-lock.js';
import type { Repository } from './repository.js';
import { PACK_KEEP } from './pack-names.js';
import { LooseObjects } from './loose.js';

/** Files that belong to a pack besides .pack and .idx (deleted with it). */
const PACK_FILES = ['.idx', '.pack', '.rev', '.bitmap', '.mtimes', '.promisor'];

export interface PruneOptions extends Pick<RepackOptions, 'signal' | 'courteous' | 'defer' | 'inline'> {
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

/** What pruneNow leaves to its caller: the result, and the files of the replaced packs (already retired in-process). */
export interface PruneOutcome extends PruneResult {
  garbage: string[];
}

/** The steps of pruneNow that touch this process's state (different in the worker process). */
export interface PruneHooks {
  /** List the pack just written. */
  installPack(name: string): Promise<void>;
  /** Run the deletion with no push in flight and the refs held still; null when aborted meanwhile. */
  exclusive<T>(fn: () => Promise<T>): Promise<T | null>;
  /** Stop reading the replaced packs and delete (or defer) their files, still inside `exclusive`. */
  retire(packs: string[], garbage: string[]): Promise<void>;
}

export function prune(repo: Repository, opts: PruneOptions): Promise<PruneResult> {
  // under the repack lock: the pack list holds still except for packs pushes add
  return withRepoLock(repackLockKey(repo.gitdir), async () => {
    const offLoop = repo.storage.kind === 'fs' && opts.inline !== true;
    const { garbage: _files, ...result } = offLoop ? await pruneInWorker(repo, opts) : await pruneNow(repo, opts, localHooks(repo, opts));
    return result;
  });
}

function localHooks(repo: Repository, opts: PruneOptions): PruneHooks {
  return {
    installPack: (name) => repo.objects.addPack(name),
    exclusive: (fn) => repo.objectUse.exclusive(() => repo.withLock(fn), opts.signal),
    async retire(packs, garbage) {
      await repo.objects.retirePacks(packs);
      if (opts.defer) opts.defer(garbage, packs);
      else await deleteGarbage(repo, garbage, packs);
    },
  };
}

/** pruneNow in the worker process; its deletion step runs while this process holds the locks. */
async function pruneInWorker(repo: Repository, opts: PruneOptions): Promise<PruneOutcome> {
  const empty: PruneOutcome = { looseRemoved: 0, packedRemoved: 0, packsReplaced: [], pack: null, garbage: [] };
  const hooks = localHooks(repo, opts);
  let settle: (out: PruneOutcome | null) => void = () => undefined;
  const ended = new Promise<PruneOutcome | null>((r) => (settle = r));
  let locked: Promise<unknown> | null = null;
  const run = runInWorker<PruneOutcome>(
    { kind: 'prune', root: repo.storage.root, gitdir: repo.gitdir, owner: repo.storage.owner, ignore: repo.objects.ignoredPacks, expireMs: opts.expireMs, now: opts.now },
    opts.signal,
    (pack, reply) => {
      locked = (async () => {
        if (pack) await repo.objects.addPack(pack);
        const done = await hooks.exclusive(async () => {
          reply({ type: 'finish' });
          // the worker deletes the loose garbage now; the packs it replaced are retired before the locks go
          const out = await ended;
          if (out && out.packsReplaced.length > 0) await hooks.retire(out.packsReplaced, out.garbage);
          return true;
        });
        if (done === null) reply({ type: 'abort' });
      })();
    },
  );
  try {
    const out = await run;
    settle(out);
    await locked;
    return out ?? empty;
  } catch (err) {
    settle(null);
    await locked;
    throw err;
  }
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

/** One prune of `repo` (see the file comment), its process-specific steps through `hooks`. */
export async function pruneNow(repo: Repository, opts: PruneOptions, hooks: PruneHooks): Promise<PruneOutcome> {
  const { storage } = repo;
  const store = repo.objects;
  const packDir = repo.packDir;
  const cutoff = (opts.now ?? Date.now()) - opts.expireMs;
  const result: PruneOutcome = { looseRemoved: 0, packedRemoved: 0, packsReplaced: [], pack: null, garbage: [] };
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
      if (await isOld(new LooseObjects(storage, repo.gitdir).pathOf(oid))) oldLoose.push(oid);
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
        await hooks.installPack(result.pack);
      }
    }

    // 4. Delete, with no push in flight and the refs held still, whatever is still garbage.
    const done = await hooks.exclusive(() => finish(repo, hooks, { seen, knownPacks, knownLoose, newPack: result.pack, garbageLoose, dropped, result }));
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
  result: PruneOutcome;
}

async function finish(repo: Repository, hooks: PruneHooks, st: FinishState): Promise<PruneOutcome> {
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
    await storage.unlink(new LooseObjects(storage, repo.gitdir).pathOf(oid));
    result.looseRemoved++;
  }
  // a pack some of whose garbage came back to life stays (the new pack duplicates the rest: harmless)
  const replaced = [...st.dropped].filter(([, dead]) => !dead.some((oid) => st.seen.hasHex(oid)));
  for (const [, dead] of replaced) result.packedRemoved += dead.length;
  result.packsReplaced = replaced.map(([name]) => name);
  if (replaced.length > 0) {
    await storage.unlink(path.join(repo.packDir, 'multi-pack-index'));
    result.garbage = result.packsReplaced.flatMap((base) => PACK_FILES.map((ext) => path.join(repo.packDir, `${base}${ext}`)));
    await hooks.retire(result.packsReplaced, result.garbage);
  }
  return result;
}
