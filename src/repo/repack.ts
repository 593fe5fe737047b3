// Pack upkeep: every push adds a pack, so without consolidation lookups and clones slow down
// with the number of pushes. This is `git repack --geometric=2 -d` plus loose objects:
//
//  - packs are sorted by object count; the smallest ones are rolled up into one new pack until
//    the remaining packs form a geometric progression (geometric.ts), so there are O(log n)
//    packs and each object is rewritten O(log n) times over its life;
//  - loose objects (written by the REST API) go into the new pack and their files are deleted
//    once it is installed; loose objects that some pack already holds are deleted too;
//  - the new pack is written by pack-rewrite.ts (entries chosen, written, renamed into place).
//
// Where it runs: for repositories on disk, in a worker process (repack-runner.ts: one at a
// time per server, at the lowest CPU priority), so clones and pushes served meanwhile are not
// slowed by it on the event loop; memfs repositories, which only this process can see, are
// repacked here, pausing while requests run (courtesy.ts). Either way the files are written
// first, and only then does this process list the new pack, retire the old ones (readers that
// still hold them keep their open handles until they finish: ObjectStore.pin) and delete their
// files. A worker that dies leaves at most an extra, complete pack (duplicates are valid).
// The bitmap for the largest pack (bitmap-write.ts) is then built by the same worker run (a roll-up
// big enough for a worker usually makes a new largest pack), or after a roll-up made here.
//
// Scheduled in the background after pushes and API commits (maintenance.ts), serialised per
// repository (here in-process; across cluster nodes by Maintenance's lock), never under the
// repository lock (pushes and the REST API are not blocked by it). In cluster mode the replaced
// packs are renamed aside (retireGarbage) and deleted past a grace (sweepRetired), as other
// nodes may still be streaming from them.
import path from 'node:path';
import { chooseRollup } from './geometric.js';
import { Courtesy } from './courtesy.js';
import { listLoose } from './loose.js';
import { PACK_COMPANIONS, plan, writePackFiles, type PackWritten, type RepackTarget } from './pack-rewrite.js';
import { runInWorker, type WorkerFault } from './repack-runner.js';
import { bitmapAfterRepack, noteBitmapAttempt, unclosedPacks, type BitmapAttempt } from './bitmap-write.js';
import { repoLockKey, withRepoLock } from './repo-lock.js';
import type { Repository } from './repository.js';
import { PACK_KEEP, packDirOf } from './pack-names.js';
import { LooseObjects } from './loose.js';
import { isMissing } from './storage.js';

/** Loose objects alone start a new pack from this many (with a roll-up they always go in). */
export const LOOSE_OBJECT_THRESHOLD = 100;

export interface RepackOptions {
  /** Geometric factor (default 2). */
  factor?: number;
  /** Roll every pack and every loose object up into one pack (like `git repack -ad`, but never dropping objects). */
  all?: boolean;
  /** Loose objects that make a pack on their own (default LOOSE_OBJECT_THRESHOLD). */
  looseThreshold?: number;
  /** Checked between steps; an aborted repack before installation leaves nothing behind. */
  signal?: { readonly aborted: boolean };
  /** Pause between entries while requests run (background repacks on the event loop do; default off). */
  courteous?: boolean;
  /** Run on the event loop even for a repository on disk (default: in a worker process). */
  inline?: boolean;
  /** Tests only: make the worker process die at this step. */
  fault?: WorkerFault;
  /**
   * Take over deleting the replaced files (paths) of the replaced packs (names) instead of
   * deleting them at once, e.g. to give C Git readers of the repository (an fsck) time to
   * finish with them. The packs are already out of the object store's list; call
   * `repo.objects.unignore(packs)` once the files are gone.
   */
  defer?: (files: string[], packs: string[]) => void;
}

export interface RepackResult {
  /** The new pack's base name, or null when nothing needed writing. */
  pack: string | null;
  /** Packs replaced by it (deleted). */
  rolledUp: string[];
  /** Objects written into the new pack. */
  objects: number;
  /** Loose object files deleted (or handed to `defer`). */
  looseRemoved: number;
}

/** What the file work leaves for this process to do: list the pack, retire and delete the rest. */
export interface RepackOutcome extends RepackResult {
  /** Replaced pack files and loose object files, to delete once the new pack is listed. */
  garbage: string[];
  /** A worker that also did the bitmap step: what it did (null: nothing to do), or why it failed. */
  bitmap?: BitmapAttempt | null;
  bitmapError?: string;
}

/** The lock key that serialises repacks of one repository (not the ref-update lock). */
export function repackLockKey(gitdir: string): string {
  return `${repoLockKey(gitdir)}#repack`;
}

/** One geometric repack of `repo` (see the file comment). Serialised per repository. */
export function repack(repo: Repository, opts: RepackOptions = {}): Promise<RepackResult> {
  return withRepoLock(repackLockKey(repo.gitdir), async () => {
    const empty: RepackResult = { pack: null, rolledUp: [], objects: 0, looseRemoved: 0 };
    if (opts.signal?.aborted) return empty;
    const offLoop = repo.storage.kind === 'fs' && opts.inline !== true;
    let outcome: RepackOutcome | null;
    const work = offLoop ? await repackWanted(repo, opts) : null;
    if (!offLoop) outcome = await repackFiles(repo, opts);
    // nothing to roll up (most pushes): no worker to start
    else if (work === 'none') outcome = { ...empty, garbage: [] };
    // a few pushes' packs: here (pausing while requests run) costs less than a worker's start
    else if (work === 'small') outcome = await repackFiles(repo, { ...opts, courteous: true });
    else {
      outcome = await runInWorker<RepackOutcome>(
        {
          kind: 'repack',
          root: repo.storage.root,
          gitdir: repo.gitdir,
          owner: repo.storage.owner,
          factor: opts.factor,
          all: opts.all,
          looseThreshold: opts.looseThreshold,
          ignore: repo.objects.ignoredPacks,
          fault: opts.fault,
          // the bitmap in the same worker: a roll-up this size usually makes a new largest pack
          bitmap: { skip: unclosedPacks(repo) },
        },
        opts.signal,
      );
    }
    if (!outcome) return empty; // aborted before anything was installed
    const { garbage, bitmap, bitmapError, ...result } = outcome;
    if (result.pack) await repo.objects.addPack(result.pack);
    if (result.rolledUp.length > 0) await repo.objects.retirePacks(result.rolledUp);
    if (opts.defer) opts.defer(garbage, result.rolledUp);
    else await deleteGarbage(repo, garbage, result.rolledUp);
    // the largest pack gets a .bitmap/.rev if it has none: done by the worker above, else here
    // (or in a worker of its own)
    if (bitmap !== undefined || bitmapError !== undefined) await noteBitmapAttempt(repo, bitmap ?? null, bitmapError);
    else await bitmapAfterRepack(repo, { signal: opts.signal, inline: !offLoop });
    return result;
  });
}

/** What a repack would roll up, and the loose files it would handle (no writing). */
async function chooseWork(target: RepackTarget, opts: Pick<RepackOptions, 'factor' | 'all' | 'looseThreshold'>) {
  const { storage } = target;
  const store = target.objects;
  const packDir = packDirOf(target.gitdir);
  const files = await storage.readdir(packDir);
  const kept = new Set(files.filter((f) => PACK_KEEP.test(f)).map((f) => f.slice(0, -5)));
  const all = await store.packInfos();
  const candidates = all.filter((p) => !kept.has(p.name)).sort((a, b) => a.count - b.count || (a.name < b.name ? -1 : 1));

  const loose = await listLoose(storage, path.join(target.gitdir, 'objects'));
  const packedLoose = loose.filter((oid) => store.inPacks(Buffer.from(oid, 'hex')));
  const unpacked = loose.filter((oid) => !store.inPacks(Buffer.from(oid, 'hex'))).sort();

  const choice = chooseRollup(
    candidates.map((p) => p.count),
    unpacked.length,
    { factor: opts.factor ?? 2, all: opts.all === true, looseThreshold: opts.looseThreshold ?? LOOSE_OBJECT_THRESHOLD },
  );
  return { all, candidates, rollup: candidates.slice(0, choice.packs), unpacked, packedLoose, choice };
}

/** Roll-ups up to this many objects and pack bytes run in the server process. */
const SMALL_ROLLUP_OBJECTS = 10_000;
const SMALL_ROLLUP_BYTES = 8 * 1024 * 1024;

/**
 * How much a repack has to do: asked here before starting a worker process, since after most
 * pushes the answer is nothing, or the packs of a few pushes, and the worker costs ~0.5-1 s of
 * CPU on a large repository (node's start, loading modules, opening and checking every .idx).
 */
async function repackWanted(repo: Repository, opts: RepackOptions): Promise<'none' | 'small' | 'large'> {
  await repo.objects.rescan();
  const release = repo.objects.pin();
  try {
    const { rollup, unpacked, packedLoose, choice } = await chooseWork(repo, opts);
    if (rollup.length === 0 && !choice.loose && packedLoose.length === 0) return 'none';
    let objects = choice.loose ? unpacked.length : 0;
    let bytes = 0;
    for (const p of rollup) (objects += p.count), (bytes += p.pack.size);
    // a full repack (asked for, not after a push) and the tests' faults: in the worker
    const small = !opts.all && opts.fault === undefined && objects <= SMALL_ROLLUP_OBJECTS && bytes <= SMALL_ROLLUP_BYTES;
    return small ? 'small' : 'large';
  } finally {
    release();
  }
}

/**
 * The file work of one repack: choose, write the new pack and rename it into place; returns
 * what to list and what to delete (nothing deleted yet). Null when aborted before installing.
 */
export async function repackFiles(target: RepackTarget, opts: Omit<RepackOptions, 'defer'>, written?: PackWritten): Promise<RepackOutcome | null> {
  const { storage } = target;
  const store = target.objects;
  const packDir = packDirOf(target.gitdir);
  const looseFiles = new LooseObjects(storage, target.gitdir);
  const aborted = () => opts.signal?.aborted === true;
  const outcome: RepackOutcome = { pack: null, rolledUp: [], objects: 0, looseRemoved: 0, garbage: [] };

  await store.rescan();
  const release = store.pin(); // the PackFiles below are read across awaits
  try {
    const { all, rollup, unpacked, packedLoose, choice } = await chooseWork(target, opts);
    const rolled = new Set(rollup.map((p) => p.name));
    const others = all.filter((p) => !rolled.has(p.name)).map((p) => p.pack);
    const garbage = outcome.garbage;

    if (rollup.length > 0 || choice.loose) {
      if (aborted()) return null;
      const courtesy = new Courtesy(opts.courteous === true, opts.signal);
      const items = await plan(rollup.map((p) => p.pack).reverse(), others, choice.loose ? unpacked : [], courtesy);
      if (aborted()) return null;
      if (items.length > 0) {
        const name = await writePackFiles(target, items, opts, courtesy, written);
        if (name === null) return null; // aborted
        outcome.pack = name;
        outcome.objects = items.length;
      }
      // the old packs go only once the new one is in place
      outcome.rolledUp = rollup.map((p) => p.name).filter((n) => n !== outcome.pack);
      if (outcome.rolledUp.length > 0) {
        await storage.unlink(path.join(packDir, 'multi-pack-index'));
        for (const base of outcome.rolledUp) {
          // .idx first: C Git finds packs through their index
          for (const ext of ['.idx', '.pack', ...PACK_COMPANIONS]) garbage.push(path.join(packDir, `${base}${ext}`));
        }
      }
      if (choice.loose) for (const oid of unpacked) garbage.push(looseFiles.pathOf(oid));
    }
    // loose copies of packed objects (C Git's prune-packed)
    for (const oid of packedLoose) garbage.push(looseFiles.pathOf(oid));
    outcome.looseRemoved = garbage.length - outcome.rolledUp.length * (2 + PACK_COMPANIONS.length);
    return outcome;
  } finally {
    release();
  }
}

/** Delete replaced files, then let the object store forget the packs they belonged to. */
export async function deleteGarbage(repo: Repository, files: string[], packs: string[]): Promise<void> {
  for (const file of files) await repo.storage.unlink(file);
  if (packs.length) await repo.storage.syncDir(repo.packDir);
  repo.objects.unignore(packs);
}

/** A pack file renamed aside by retireGarbage: `<file>.retired-<ms since epoch>`. */
const RETIRED = /^pack-[0-9a-f]+\.[a-z]+\.retired-(\d+)$/;

/**
 * Cluster mode's deleteGarbage: other nodes may be streaming from the replaced packs, so their
 * files are renamed aside (no lookup on any node, nor C Git, finds them by name any more; open
 * handles keep reading) and deleted by sweepRetired once the grace has passed. Loose files go
 * at once: readers take them in one read and look in the packs on a miss.
 */
export async function retireGarbage(repo: Repository, files: string[], packs: string[], now = Date.now()): Promise<void> {
  const packDir = repo.packDir;
  for (const file of files) {
    if (path.dirname(file) !== packDir) {
      await repo.storage.unlink(file);
      continue;
    }
    try {
      await repo.storage.rename(file, `${file}.retired-${now}`);
    } catch (err) {
      if (!isMissing(err)) throw err; // gone already (another node retired it, or it never had this companion)
    }
  }
  if (packs.length) await repo.storage.syncDir(packDir);
  repo.objects.unignore(packs);
}

/** Delete retired pack files older than `graceMs`; returns how many went. */
export async function sweepRetired(repo: Repository, graceMs: number, now = Date.now()): Promise<number> {
  const packDir = repo.packDir;
  let removed = 0;
  for (const name of await repo.storage.readdir(packDir)) {
    const at = RETIRED.exec(name)?.[1];
    if (at === undefined || Number(at) + graceMs > now) continue;
    await repo.storage.unlink(path.join(packDir, name));
    removed++;
  }
  return removed;
}
