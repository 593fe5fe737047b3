// Crash recovery at server start. A gitgate killed mid-push or mid-repack leaves files that
// nothing else will remove: temporary packs and indexes (tmp_pack_*, tmp_idx_*), temporary
// loose objects (tmp_obj_*), half-installed packs (a .pack whose .idx was never renamed into
// place), and ref lock files (<ref>.lock, packed-refs.lock, HEAD.lock) that would refuse every
// later update of those refs. None of them holds data that a client was told is stored: refs
// move only after their objects are installed, and a ref's lock is renamed over it in one step.
// The one exception is an atomic ref batch past its commit point (its journal written): it is
// rolled forward first (refs.ts rollForwardRefs), so it lands whole, never half.
//
// This assumes one gitgate server owns a data directory (as documented in the README): at
// start, any such file is a leftover, not the work of a live process.
import path from 'node:path';
import type { Storage } from './storage.js';
import { PACK_FILE } from './pack-names.js';
import { rollForwardRefs } from './refs.js';

export interface RecoveryReport {
  repositories: number;
  /** Paths removed, relative to the data directory. */
  removed: string[];
}

/** Temporary names: ours (tmp_pack_, tmp_idx_, tmp_obj_) and Storage.writeFileAtomic's "<file>.tmp-<pid>-<rand>". */
const TEMP_FILE = /^(tmp_pack_|tmp_idx_|tmp_obj_)|\.tmp-\d+-[0-9a-z]+$/;

/** Clean every `<id>.git` repository under the data directory. */
export async function recoverDataDir(storage: Storage): Promise<RecoveryReport> {
  const report: RecoveryReport = { repositories: 0, removed: [] };
  for (const entry of await storage.readdir(storage.root)) {
    if (!entry.endsWith('.git')) continue;
    const gitdir = path.join(storage.root, entry);
    if (!(await storage.stat(gitdir))?.isDirectory()) continue;
    report.repositories++;
    for (const file of await recoverRepository(storage, gitdir)) report.removed.push(path.relative(storage.root, file));
  }
  return report;
}

/** Remove one repository's crash leftovers; returns the paths removed. */
export async function recoverRepository(storage: Storage, gitdir: string): Promise<string[]> {
  const removed: string[] = [];
  const remove = async (file: string) => {
    await storage.unlink(file);
    removed.push(file);
  };

  // objects/pack: temporary files and packs that never got their index
  const packDir = path.join(gitdir, 'objects', 'pack');
  const packFiles = await storage.readdir(packDir);
  for (const name of packFiles) {
    const file = path.join(packDir, name);
    if (TEMP_FILE.test(name)) await remove(file);
    else if (PACK_FILE.test(name) && !packFiles.includes(`${name.slice(0, -5)}.idx`)) await remove(file);
  }

  // loose objects being written
  const objectsDir = path.join(gitdir, 'objects');
  for (const dir of await storage.readdir(objectsDir)) {
    if (/^[0-9a-f]{2}$/.test(dir)) {
      for (const name of await storage.readdir(path.join(objectsDir, dir))) {
        if (name.startsWith('tmp_obj_')) await remove(path.join(objectsDir, dir, name));
      }
    } else if (dir.startsWith('tmp_obj_')) await remove(path.join(objectsDir, dir));
  }

  // an atomic ref batch that had committed: finish it before its locks would be removed
  await rollForwardRefs(storage, gitdir);

  // lock files and atomic-write temporaries at the top (HEAD.lock, packed-refs.lock, config.lock, …)
  for (const name of await storage.readdir(gitdir)) {
    if (!name.endsWith('.lock') && !/\.tmp-\d+-[0-9a-z]+$/.test(name)) continue;
    const file = path.join(gitdir, name);
    if ((await storage.stat(file))?.isFile()) await remove(file);
  }

  // ref locks anywhere below refs/ (no valid ref name ends in .lock)
  await walk(storage, path.join(gitdir, 'refs'), async (file) => {
    if (file.endsWith('.lock')) await remove(file);
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
