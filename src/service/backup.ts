// Backups of a data directory that a server may be using, and restores into a stopped one.
//
// The database is copied with SQLite's online backup API; then, per repository the copy knows
// of, refs are read first (HEAD, loose refs over packed-refs) and objects copied after. Objects
// are immutable and a repack writes its new pack (.pack, then .idx) before deleting the packs
// it replaces, never dropping objects, so every object a recorded ref needs is in a file that
// still exists when we copy it, or in a newer pack that does: a pack that vanishes under us
// makes us list the directory again. Packs and loose objects are hard-linked where the
// filesystem allows (they are never modified in place), copied otherwise. The copied
// repository's refs are exactly the recorded ones (one packed-refs file), listed in
// backup.json: what a restored server will serve.
import fs from 'node:fs';
import path from 'node:path';
import { GitgateError } from '../errors.js';
import { backupDatabase, listRepoRows } from '../db/sqlite/backup.js';
import { LOOSE_DIR } from '../repo/loose.js';
import { PACK_FILE } from '../repo/pack-names.js';
import { TEMP_FILE } from '../repo/recovery.js';
import { RefStore } from '../repo/refs.js';
import { nodeStorage } from '../repo/storage.js';
import { DB_FILE } from './services.js';
import { acquireDataDirLock, LOCK_FILE } from './data-dir-lock.js';
import { DATA_DIR_MODE, ensurePrivateDir, PRIVATE_FILE_MODE } from './data-dir.js';

export const MANIFEST_FILE = 'backup.json';

export interface BackupRepo {
  id: string;
  name: string | null;
  /** HEAD's symbolic target, or its commit when detached, null when absent */
  head: string | null;
  refs: Record<string, string>;
}

export interface BackupManifest {
  format: 'gitgate-backup';
  version: 1;
  created_at: string;
  database: string;
  repos: BackupRepo[];
  /** Repositories in the database whose directory was gone (deleted while we copied). */
  missing: string[];
  /** How many object files were hard-linked rather than copied. */
  linked: number;
  copied: number;
}

/** Never part of a repository's state: in-flight writes (the names recovery removes) and locks. */
const isTransient = (name: string): boolean => TEMP_FILE.test(name) || name.startsWith('tmp_') || name.endsWith('.lock');

function isEmptyDir(dir: string): boolean {
  return fs.readdirSync(dir).length === 0;
}

function exists(p: string): boolean {
  return fs.existsSync(p);
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

class Copier {
  linked = 0;
  copied = 0;

  /** Hard link (same filesystem) or copy; ENOENT propagates: the source went away. */
  file(src: string, dst: string): void {
    try {
      fs.linkSync(src, dst);
      this.linked++;
    } catch (err) {
      if (code(err) === 'EEXIST') return;
      if (code(err) !== 'EXDEV' && code(err) !== 'EPERM' && code(err) !== 'EMLINK') throw err;
      fs.copyFileSync(src, dst, fs.constants.COPYFILE_EXCL);
      this.copied++;
    }
  }
}

export async function backupDataDir(dataDir: string, toDir: string): Promise<BackupManifest> {
  const db = path.join(dataDir, DB_FILE);
  if (!exists(db)) throw new GitgateError('CONFIG', { detail: `${dataDir} is not a gitgate data directory (no ${DB_FILE}); check --data / GITGATE_DATA` });
  if (exists(toDir) && !isEmptyDir(toDir)) throw new GitgateError('DIR_NOT_EMPTY', { dir: toDir, hint: 'back up into a new or empty directory' });
  ensurePrivateDir(toDir);

  await backupDatabase(db, path.join(toDir, DB_FILE));
  const copier = new Copier();
  const repos: BackupRepo[] = [];
  const missing: string[] = [];
  for (const row of listRepoRows(path.join(toDir, DB_FILE))) {
    const src = path.join(dataDir, `${row.id}.git`);
    if (!exists(path.join(src, 'HEAD'))) {
      missing.push(row.id);
      continue;
    }
    repos.push({ name: row.name, ...(await backupRepo(dataDir, src, path.join(toDir, `${row.id}.git`), row.id, copier)) });
  }
  const manifest: BackupManifest = {
    format: 'gitgate-backup',
    version: 1,
    created_at: new Date().toISOString(),
    database: DB_FILE,
    repos,
    missing,
    linked: copier.linked,
    copied: copier.copied,
  };
  // the manifest last: a backup without one is incomplete and restore refuses it
  fs.writeFileSync(path.join(toDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
  return manifest;
}

async function backupRepo(dataDir: string, src: string, dst: string, id: string, copier: Copier): Promise<Omit<BackupRepo, 'name'>> {
  // 1. refs first
  const store = new RefStore(nodeStorage(dataDir), src);
  const symbolic = await store.readSymbolic('HEAD');
  const head = symbolic ?? (await store.resolve('HEAD'));
  const refs: Record<string, string> = {};
  for (const r of await store.list('refs/')) refs[r.name] = r.oid;

  // 2. the repository's other files (config, description, info/, shallow), then objects
  fs.mkdirSync(dst, { mode: DATA_DIR_MODE });
  copyTree(src, dst, (rel) => rel === 'objects' || rel === 'refs' || rel === 'packed-refs' || rel === 'HEAD' || rel === 'logs');
  const srcObjects = path.join(src, 'objects');
  const dstObjects = path.join(dst, 'objects');
  fs.mkdirSync(path.join(dstObjects, 'pack'), { recursive: true });
  fs.mkdirSync(path.join(dstObjects, 'info'), { recursive: true });
  for (const sub of fs.readdirSync(srcObjects)) {
    if (!LOOSE_DIR.test(sub)) continue;
    fs.mkdirSync(path.join(dstObjects, sub), { recursive: true });
    for (const f of readdirOrEmpty(path.join(srcObjects, sub))) {
      if (isTransient(f)) continue;
      try {
        copier.file(path.join(srcObjects, sub, f), path.join(dstObjects, sub, f));
      } catch (err) {
        // repacked meanwhile: a pack holding it was installed first, and packs are copied next
        if (code(err) !== 'ENOENT') throw err;
      }
    }
  }
  copyPacks(path.join(srcObjects, 'pack'), path.join(dstObjects, 'pack'), copier, id);

  // 3. exactly the recorded refs
  fs.mkdirSync(path.join(dst, 'refs', 'heads'), { recursive: true });
  fs.mkdirSync(path.join(dst, 'refs', 'tags'), { recursive: true });
  const packed = Object.entries(refs).map(([name, oid]) => `${oid} ${name}\n`).join('');
  fs.writeFileSync(path.join(dst, 'packed-refs'), packed ? `# pack-refs with: sorted \n${packed}` : '');
  fs.writeFileSync(path.join(dst, 'HEAD'), symbolic ? `ref: ${symbolic}\n` : `${head ?? ''}\n`);
  return { id, head, refs };
}

/** Link every installed pack (.pack with its .idx); list again when one vanished mid-copy. */
function copyPacks(srcDir: string, dstDir: string, copier: Copier, id: string): void {
  for (let round = 0; round < 20; round++) {
    let vanished = false;
    for (const f of readdirOrEmpty(srcDir)) {
      if (!PACK_FILE.test(f)) continue;
      const base = f.slice(0, -'.pack'.length);
      const idx = `${base}.idx`;
      if (exists(path.join(dstDir, idx))) continue;
      // .pack is renamed into place before its .idx: without the .idx it is not installed yet
      if (!exists(path.join(srcDir, idx))) continue;
      try {
        copier.file(path.join(srcDir, f), path.join(dstDir, f));
        copier.file(path.join(srcDir, idx), path.join(dstDir, idx));
      } catch (err) {
        if (code(err) !== 'ENOENT') throw err;
        fs.rmSync(path.join(dstDir, f), { force: true });
        vanished = true;
      }
    }
    if (!vanished) return;
  }
  throw new GitgateError('UNAVAILABLE', { detail: `the packs of repository ${id} kept changing during the backup; try again` });
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    if (code(err) === 'ENOENT') return [];
    throw err;
  }
}

/** Copy a directory tree (regular files and directories), leaving out `skip`ped top-level
 *  entries and transient files. */
function copyTree(src: string, dst: string, skip: (rel: string) => boolean, rel = ''): void {
  for (const entry of fs.readdirSync(path.join(src, rel), { withFileTypes: true })) {
    const r = rel ? path.join(rel, entry.name) : entry.name;
    if ((rel === '' && skip(r)) || isTransient(entry.name)) continue;
    if (entry.isDirectory()) {
      fs.mkdirSync(path.join(dst, r), { recursive: true });
      copyTree(src, dst, skip, r);
    } else if (entry.isFile()) {
      fs.copyFileSync(path.join(src, r), path.join(dst, r));
    }
  }
}

export function readManifest(fromDir: string): BackupManifest {
  let raw: string;
  try {
    raw = fs.readFileSync(path.join(fromDir, MANIFEST_FILE), 'utf8');
  } catch (err) {
    throw new GitgateError('NOT_A_BACKUP', { dir: fromDir, detail: `no ${MANIFEST_FILE} (${code(err) ?? 'unreadable'}): incomplete, or not made by gitgate backup` });
  }
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(raw) as BackupManifest;
  } catch {
    throw new GitgateError('NOT_A_BACKUP', { dir: fromDir, detail: `${MANIFEST_FILE} is not valid JSON` });
  }
  if (manifest?.format !== 'gitgate-backup' || manifest.version !== 1 || !Array.isArray(manifest.repos)) {
    throw new GitgateError('NOT_A_BACKUP', { dir: fromDir, detail: `${MANIFEST_FILE} is not a version 1 gitgate backup manifest` });
  }
  for (const r of manifest.repos) {
    if (typeof r?.id !== 'string' || !/^[A-Za-z0-9_-]+$/.test(r.id) || !exists(path.join(fromDir, `${r.id}.git`, 'HEAD'))) {
      throw new GitgateError('NOT_A_BACKUP', { dir: fromDir, detail: `repository ${JSON.stringify(r?.id)} is listed but not present` });
    }
  }
  if (!exists(path.join(fromDir, DB_FILE))) throw new GitgateError('NOT_A_BACKUP', { dir: fromDir, detail: `no ${DB_FILE}` });
  return manifest;
}

/** Restore a backup into `dataDir`. Holds the data directory's serve lock throughout, so it
 *  refuses while a server runs there and no server starts meanwhile. */
export function restoreDataDir(fromDir: string, dataDir: string, opts: { force?: boolean } = {}): BackupManifest {
  const manifest = readManifest(fromDir);
  if (path.resolve(fromDir) === path.resolve(dataDir)) throw new GitgateError('DIR_NOT_EMPTY', { dir: dataDir, hint: 'restore into another directory than the backup' });
  const preexisting = exists(dataDir) ? fs.readdirSync(dataDir) : [];
  if (preexisting.length && !opts.force) {
    throw new GitgateError('DIR_NOT_EMPTY', { dir: dataDir, hint: 'restore into a new or empty directory, or pass --force to replace its contents' });
  }
  ensurePrivateDir(dataDir);
  const lock = acquireDataDirLock(dataDir);
  try {
    for (const name of fs.readdirSync(dataDir)) {
      if (name !== LOCK_FILE) fs.rmSync(path.join(dataDir, name), { recursive: true, force: true });
    }
    // a copy, not links: the restored server must not share files with the backup it came from
    fs.copyFileSync(path.join(fromDir, DB_FILE), path.join(dataDir, DB_FILE));
    fs.chmodSync(path.join(dataDir, DB_FILE), PRIVATE_FILE_MODE);
    for (const r of manifest.repos) {
      fs.cpSync(path.join(fromDir, `${r.id}.git`), path.join(dataDir, `${r.id}.git`), { recursive: true, errorOnExist: true, force: false });
    }
    return manifest;
  } finally {
    lock.release();
  }
}
