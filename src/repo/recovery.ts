// Crash recovery at server start. A gitgate killed mid-push or mid-repack leaves files that
// nothing else will remove: temporary packs and indexes (tmp_pack_*, tmp_idx_*), temporary
// loose objects (tmp_obj_*), half-installed packs (a .pack whose .idx was never renamed into
// place), and ref lock files (<ref>.lock, packed-refs.lock, HEAD.lock) that would refuse every
// later update of those refs. None of them holds data that a client was told is stored: refs
// move only after their objects are installed, and a ref's lock is renamed over it in one step.
// The one exception is an atomic ref batch past its commit point (its journal written): it is
// rolled forward first (refs.ts rollForwardRefs), so it lands whole, never half.
//
// One gitgate server owning a data directory calls it without a scope at start: any such file
// is a leftover, not the work of a live process. Nodes of a cluster share the directory, so
// they pass a RecoveryScope: a temporary file names its writer's node id ("…@<node>",
// Storage.tempTag) and goes only when that node is dead; lock files (C Git's `<ref>.lock`,
// whose content is the new value, so no room for an owner) and packs without an index (no
// owner either) go only once older than the staleness bound no live writer holds them for.
import path from 'node:path';
import { tempOwner, type Storage } from './storage.js';
import { LOOSE_DIR } from './loose.js';
import { PACK_FILE } from './pack-names.js';
import { rollForwardRefs } from './refs.js';

export interface RecoveryScope {
  /** A node's temporary files go when it is dead (heartbeat expired, or us starting again),
   *  stay while it is live, and go past staleBefore when it is unknown (no row, e.g. forgotten). */
  owner(node: string): 'dead' | 'live' | 'unknown';
  /** Locks, owner-less temporaries and index-less packs last modified before this (ms) go. */
  staleBefore: number;
}

export interface RecoveryReport {
  repositories: number;
  /** Paths removed, relative to the data directory. */
  removed: string[];
}

/** Storage.writeFileAtomic's "<file>.tmp-<rand>@<node>" (and "<file>.tmp-<pid>-<rand>" before owners). */
const ATOMIC_TEMP = /\.tmp-(\d+-[0-9a-z]+|[0-9a-f]+@[A-Za-z0-9._-]+)$/;
/** Temporary names: ours (tmp_pack_, tmp_idx_, tmp_obj_) and writeFileAtomic's. */
export const TEMP_FILE = new RegExp(`^(tmp_pack_|tmp_idx_|tmp_obj_)|${ATOMIC_TEMP.source}`);

/** Clean every `<id>.git` repository under the data directory (all leftovers without a scope). */
export async function recoverDataDir(storage: Storage, scope?: RecoveryScope): Promise<RecoveryReport> {
  const report: RecoveryReport = { repositories: 0, removed: [] };
  for (const entry of await storage.readdir(storage.root)) {
    if (!entry.endsWith('.git')) continue;
    const gitdir = path.join(storage.root, entry);
    if (!(await storage.stat(gitdir))?.isDirectory()) continue;
    report.repositories++;
    for (const file of await recoverRepository(storage, gitdir, scope)) report.removed.push(path.relative(storage.root, file));
  }
  return report;
}

/** Remove one repository's crash leftovers; returns the paths removed. */
export async function recoverRepository(storage: Storage, gitdir: string, scope?: RecoveryScope): Promise<string[]> {
  const removed: string[] = [];
  const remove = async (file: string) => {
    await storage.unlink(file);
    removed.push(file);
  };
  const stale = async (file: string) => {
    if (!scope) return true;
    const st = await storage.stat(file);
    return st !== null && st.mtimeMs < scope.staleBefore;
  };
  /** A temporary file: its node's when it names one, else by age. */
  /** A temporary file (or ref journal) is ours to clean up: its node is dead, or it has none and is stale. */
  const leftover = async (file: string) => {
    const owner = tempOwner(path.basename(file));
    const state = scope && owner !== null ? scope.owner(owner) : 'unknown';
    return !scope || state === 'dead' || (state === 'unknown' && (await stale(file)));
  };
  const removeTemp = async (file: string) => {
    if (await leftover(file)) await remove(file);
  };

  // objects/pack: temporary files and packs that never got their index
  const packDir = path.join(gitdir, 'objects', 'pack');
  const packFiles = await storage.readdir(packDir);
  for (const name of packFiles) {
    const file = path.join(packDir, name);
    if (TEMP_FILE.test(name)) await removeTemp(file);
    // between a pack's rename and its index's, a live writer's pack has no index either
    else if (PACK_FILE.test(name) && !packFiles.includes(`${name.slice(0, -5)}.idx`) && (await stale(file))) await remove(file);
  }

  // loose objects being written
  const objectsDir = path.join(gitdir, 'objects');
  for (const dir of await storage.readdir(objectsDir)) {
    if (LOOSE_DIR.test(dir)) {
      for (const name of await storage.readdir(path.join(objectsDir, dir))) {
        if (name.startsWith('tmp_obj_')) await removeTemp(path.join(objectsDir, dir, name));
      }
    } else if (dir.startsWith('tmp_obj_')) await removeTemp(path.join(objectsDir, dir));
  }

  // an atomic ref batch that had committed: finish it before its locks would be removed
  await rollForwardRefs(storage, gitdir, leftover);

  // lock files and atomic-write temporaries at the top (HEAD.lock, packed-refs.lock, config.lock, …)
  for (const name of await storage.readdir(gitdir)) {
    const isLock = name.endsWith('.lock');
    if (!isLock && !ATOMIC_TEMP.test(name)) continue;
    const file = path.join(gitdir, name);
    if (!(await storage.stat(file))?.isFile()) continue;
    if (isLock) {
      if (await stale(file)) await remove(file);
    } else await removeTemp(file);
  }

  // ref locks anywhere below refs/ (no valid ref name ends in .lock)
  await walk(storage, path.join(gitdir, 'refs'), async (file) => {
    if (file.endsWith('.lock') && (await stale(file))) await remove(file);
  });
  return removed;
}

async function walk(storage: Storage, dir: string, visit: (file: string) => Promise<void>): Promise<void> {
  for (const name of await storage.readdir(dir)) {
    const file = path.join(dir, name);
    const st = await storage.stat(file);
    if (st?.isDirectory()) await walk(storage, file, visit);
    else if (st?.isFile()) await visit(file);
  }
}
