// Refs in C Git's "files" format: loose refs (<gitdir>/refs/...) override packed-refs.
// Updates follow refs/files-backend.c: per ref, an exclusive <ref>.lock is created, the old
// value verified under it, the new value written to the lock, fsynced and renamed over the
// ref. Lock files are what C Git itself honours, so a `git gc` running beside us is safe; the
// in-process repo lock orders our own transactions.
import path from 'node:path';
import { GitgateError } from '../errors.js';
import type { FileHandleLike, Storage, StatLike } from './storage.js';
import { isOid, oidOrNull } from '../oid.js';
import { EMPTY_PACKED, compareRefNames, namesWithPrefix, packedPeel, parsePackedRefs, type PackedRefs } from './packed-refs.js';
import { RefCaseIndex, isStorableRefName, isValidRefName, refNameTooLong } from './ref-names.js';
import { repoLockKey, withRepoLock } from './repo-lock.js';

/** A lock file older than this was left by a crashed writer and may be broken (as C Git advises). */
export const STALE_LOCK_MS = 10 * 60 * 1000;

const MAX_SYMREF_DEPTH = 5; // C Git's SYMREF_MAXDEPTH
/** Listings kept per RefStore (one per prefix asked: refs/, refs/heads/, refs/tags/ …). */
const MAX_CACHED_LISTINGS = 8;

export interface RefEntry {
  name: string;
  oid: string;
}

export interface PeeledRefEntry extends RefEntry {
  /** What packed-refs says it peels to: an id, null (not a tag), undefined (not known). */
  peeled: string | null | undefined;
}

export interface RefUpdate {
  name: string;
  /** null or ZERO_OID: the ref must not exist. */
  oldOid: string | null;
  /** null or ZERO_OID: delete the ref. */
  newOid: string | null;
}

/** Why an update failed, for mapping to HTTP statuses (locked -> 423, stale/exists/missing -> 409). */
export type RefFailureCode = 'invalid' | 'locked' | 'stale' | 'exists' | 'missing' | 'conflict' | 'atomic' | 'error';

export type RefUpdateResult =
  | { name: string; ok: true }
  | { name: string; ok: false; reason: string; code?: RefFailureCode };

type Failure = { name: string; ok: false; reason: string; code: RefFailureCode };

type LooseRef = { kind: 'oid'; oid: string } | { kind: 'symref'; target: string } | { kind: 'broken' };

interface Lock {
  path: string;
  fh: FileHandleLike | null;
  /** Renamed into place or removed: the path is no longer ours to delete. */
  done: boolean;
}

interface Prepared {
  name: string;
  lock: Lock;
  newOid: string | null;
  hadLoose: boolean;
  inPacked: boolean;
}

export interface RefStoreOptions {
  staleLockMs?: number;
}

export class RefStore {
  readonly gitdir: string;
  /** The withRepoLock key for this repository (update() and setSymbolic() take it themselves). */
  readonly lockKey: string;
  private readonly staleLockMs: number;
  /** packed-refs as last parsed, and the identity (inode, size, mtime) of the file it came from. */
  private packedCache: { key: string; packed: PackedRefs } | null = null;
  /**
   * The last listing per prefix: the same array again while packed-refs (the same parse) and
   * the loose refs under the prefix are unchanged, so callers may cache what they derive from it.
   */
  private listings = new Map<string, { packed: PackedRefs; loose: string; entries: readonly Readonly<PeeledRefEntry>[] }>();

  constructor(
    private readonly storage: Storage,
    gitdir: string,
    opts: RefStoreOptions = {},
  ) {
    this.gitdir = gitdir.replace(/\/+$/, '');
    this.lockKey = repoLockKey(gitdir);
    this.staleLockMs = opts.staleLockMs ?? STALE_LOCK_MS;
  }

  /** The object id `name` ('HEAD' or 'refs/...') points at, following symbolic refs; null if unborn/absent. */
  async resolve(name: string): Promise<string | null> {
    assertName(name);
    let current = name;
    for (let depth = 0; depth <= MAX_SYMREF_DEPTH; depth++) {
      const loose = await this.readLoose(current);
      if (loose?.kind === 'oid') return loose.oid;
      if (loose?.kind === 'broken') throw corrupt(`ref ${current} is broken`);
      if (loose?.kind === 'symref') {
        current = loose.target;
        continue;
      }
      return (await this.readPacked()).get(current) ?? null;
    }
    throw corrupt(`symbolic ref ${name} nests too deeply`);
  }

  /** The target of a symbolic ref ('refs/heads/main' for a usual HEAD), null when `name` is not one. */
  async readSymbolic(name: string): Promise<string | null> {
    assertName(name);
    const loose = await this.readLoose(name);
    return loose?.kind === 'symref' ? loose.target : null;
  }

  /** Point `name` at `target` ('ref: <target>\n'), atomically. Throws REF_LOCKED if its lock is held. */
  async setSymbolic(name: string, target: string): Promise<void> {
    assertName(name);
    if (!target.startsWith('refs/') || !isValidRefName(target)) throw new GitgateError('BAD_REF_NAME', { ref: target });
    await withRepoLock(this.lockKey, async () => {
      const conflict = await this.directoryConflict(name, await this.readPacked());
      if (conflict) throw new GitgateError('VALIDATION', { detail: conflict });
      const lock = await this.acquire(name, `ref '${name}'`);
      if ('reason' in lock) {
        if (lock.code === 'locked') throw new GitgateError('REF_LOCKED', { ref: name });
        throw new GitgateError('INTERNAL', {}, { cause: new Error(lock.reason) });
      }
      try {
        await this.writeLock(lock, `ref: ${target}\n`);
        await this.commitLock(lock, name);
      } finally {
        await this.release(lock);
      }
    });
  }

  /** Refs whose names start with `prefix`, symbolic ones resolved, sorted bytewise as git does. */
  async list(prefix = 'refs/'): Promise<RefEntry[]> {
    return (await this.listPeeled(prefix)).map(({ name, oid }) => ({ name, oid }));
  }

  /**
   * list() with what packed-refs says each ref peels to. Costs the refs under `prefix`, not all
   * of them: packed-refs is parsed once per version of the file and searched by prefix; only
   * the loose refs below the prefix's directory are read.
   */
  async listPeeled(prefix = 'refs/'): Promise<readonly Readonly<PeeledRefEntry>[]> {
    const packed = await this.readPackedRefs();
    const loose = new Map<string, string | null>();
    for (const name of await this.looseNames(walkBase(prefix))) {
      if (!name.startsWith(prefix)) continue;
      const ref = await this.readLoose(name);
      if (ref === null) continue; // deleted while we walked
      // a broken or dangling loose ref hides its packed value, like C Git's "ignoring broken ref"
      loose.set(name, ref.kind === 'oid' ? ref.oid : ref.kind === 'symref' ? await this.resolveQuietly(ref.target) : null);
    }
    const looseNames = [...loose.keys()].sort(compareRefNames);
    const looseKey = looseNames.map((n) => `${n}\0${loose.get(n)}`).join('\n');
    const last = this.listings.get(prefix);
    if (last && last.packed === packed && last.loose === looseKey) return last.entries;
    const entries = this.mergeListing(packed, prefix, looseNames, loose);
    if (this.listings.size >= MAX_CACHED_LISTINGS) this.listings.clear();
    this.listings.set(prefix, { packed, loose: looseKey, entries });
    return entries;
  }

  private mergeListing(packed: PackedRefs, prefix: string, looseNames: string[], loose: Map<string, string | null>): PeeledRefEntry[] {
    const fromPacked = (name: string): PeeledRefEntry => ({ name, oid: packed.oids.get(name)!, peeled: packedPeel(packed, name) });
    const names = namesWithPrefix(packed, prefix);
    if (loose.size === 0) return names.map(fromPacked);
    // merge two sorted lists; a loose ref overrides its packed namesake (and its peeled value)
    const out: PeeledRefEntry[] = [];
    let i = 0;
    for (const name of looseNames) {
      while (i < names.length && compareRefNames(names[i]!, name) < 0) out.push(fromPacked(names[i++]!));
      if (i < names.length && names[i] === name) i++;
      const oid = loose.get(name)!;
      if (oid !== null) out.push({ name, oid, peeled: undefined });
    }
    while (i < names.length) out.push(fromPacked(names[i++]!));
    return out;
  }

  /**
   * Apply ref updates with compare-and-swap on the old values. Non-atomic: each ref succeeds or
   * fails on its own. Atomic: all refs are locked and checked first; if any fails, none change.
   * Results come back in input order.
   */
  async update(updates: RefUpdate[], opts: { atomic?: boolean } = {}): Promise<RefUpdateResult[]> {
    for (const u of updates) {
      if (u.oldOid === undefined || u.newOid === undefined) {
        throw new GitgateError('VALIDATION', { detail: `ref update for ${u.name} needs oldOid and newOid (null for none)` });
      }
    }
    return withRepoLock(this.lockKey, () => this.transaction(updates, opts.atomic ?? false));
  }

  /**
   * Give a repository without refs all of `entries` at once, as one packed-refs file (what
   * `git clone` writes): one file and one fsync however many refs there are. Refuses when any
   * ref exists already.
   */
  async seedPacked(entries: RefEntry[]): Promise<void> {
    for (const e of entries) {
      if (!e.name.startsWith('refs/') || !isValidRefName(e.name) || !isOid(e.oid)) throw new GitgateError('BAD_REF_NAME', { ref: e.name });
    }
    await withRepoLock(this.lockKey, async () => {
      if ((await this.list('refs/')).length > 0) throw new GitgateError('VALIDATION', { detail: 'the repository already has refs' });
      const lock = await this.acquire('packed-refs', 'packed-refs');
      if ('reason' in lock) throw new GitgateError('REF_LOCKED', { ref: 'packed-refs' });
      try {
        const sorted = [...entries].sort((a, b) => compareRefNames(a.name, b.name));
        await this.writeLock(lock, `# pack-refs with: sorted \n${sorted.map((e) => `${e.oid} ${e.name}\n`).join('')}`);
        await this.commitLock(lock, 'packed-refs');
      } finally {
        await this.release(lock);
      }
    });
  }

  // -------------------------------------------------------------------------------------------

  private async transaction(updates: RefUpdate[], atomic: boolean): Promise<RefUpdateResult[]> {
    const results = await this.apply(updates, atomic);
    // directories emptied by deletions, or made for creations that then failed
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i]!;
      const touched = nullIfZero(u.newOid) === null || !results[i]!.ok;
      if (touched && u.name.startsWith('refs/') && isValidRefName(u.name)) await this.pruneEmptyParents(u.name);
    }
    return results;
  }

  private async apply(updates: RefUpdate[], atomic: boolean): Promise<RefUpdateResult[]> {
    const results: (RefUpdateResult | undefined)[] = staticChecks(updates);
    if (atomic && results.some(Boolean)) return failAtomically(results, updates);
    await this.caseConflicts(updates, results);
    if (atomic && results.some(Boolean)) return failAtomically(results, updates);

    const packed = await this.readPacked();
    const prepared: (Prepared | undefined)[] = [];
    try {
      // refs are independent files: lock, check and write them a few at a time, so a push of
      // thousands of refs is not one file-system round trip after another
      await forEachLimited(updates.length, PARALLEL_REF_IO, async (i) => {
        if (results[i]) return;
        const p = await this.prepare(updates[i]!, packed);
        if ('reason' in p) results[i] = p;
        else prepared[i] = p;
      });
      if (atomic && results.some(Boolean)) return failAtomically(results, updates);

      // deletions must leave packed-refs before the loose files go, or the packed value would resurface
      const packedDeletes = prepared.filter((p): p is Prepared => !!p && p.newOid === null && p.inPacked);
      if (packedDeletes.length > 0) {
        const failure = await this.deleteFromPacked(new Set(packedDeletes.map((p) => p.name)));
        if (failure) {
          for (const p of packedDeletes) {
            const i = prepared.indexOf(p);
            results[i] = fail(p.name, failure.code, `cannot delete '${p.name}': ${failure.reason}`);
            prepared[i] = undefined;
            await this.release(p.lock);
          }
          if (atomic) return failAtomically(results, updates);
        }
      }

      await forEachLimited(updates.length, PARALLEL_REF_IO, async (i) => {
        const p = prepared[i];
        if (!p) return;
        try {
          if (p.newOid !== null) await this.commitLock(p.lock, p.name);
          else if (p.hadLoose) await this.storage.unlink(this.file(p.name));
          results[i] = { name: p.name, ok: true };
        } catch (err) {
          results[i] = fail(p.name, 'error', `failed to update ref '${p.name}': ${errorCode(err)}`);
        }
      });
    } finally {
      await forEachLimited(prepared.length, PARALLEL_REF_IO, async (i) => {
        const p = prepared[i];
        if (p) await this.release(p.lock);
      });
    }
    return results as RefUpdateResult[];
  }

  /**
   * A new ref whose name, or one of whose directories, differs only in case from an existing
   * ref's (or an earlier one in this batch) would be the same file on macOS and Windows: refused.
   */
  private async caseConflicts(updates: RefUpdate[], results: (RefUpdateResult | undefined)[]): Promise<void> {
    const creating = updates.flatMap((u, i) => (!results[i] && nullIfZero(u.oldOid) === null && nullIfZero(u.newOid) !== null ? [i] : []));
    if (creating.length === 0) return;
    const index = new RefCaseIndex((await this.list('refs/')).map((r) => r.name));
    for (const i of creating) {
      const name = updates[i]!.name;
      const clash = index.clash(name);
      if (clash) results[i] = fail(name, 'conflict', `refname conflicts with existing ref ${clash} (case-insensitive)`);
      else index.add(name);
    }
  }

  /** Lock one ref and verify its old value; the new value is already in the lock file on success. */
  private async prepare(u: RefUpdate, packed: ReadonlyMap<string, string>): Promise<Prepared | Failure> {
    const { name } = u;
    const oldOid = nullIfZero(u.oldOid);
    const newOid = nullIfZero(u.newOid);
    if (newOid !== null) {
      const conflict = await this.directoryConflict(name, packed);
      if (conflict) return fail(name, 'conflict', conflict);
    }
    const lock = await this.acquire(name, `ref '${name}'`);
    if ('reason' in lock) return { ...lock, name };
    try {
      const loose = await this.readLoose(name);
      if (loose?.kind === 'symref') return await this.abandon(lock, fail(name, 'invalid', `cannot lock ref '${name}': it is a symbolic ref`));
      if (loose?.kind === 'broken') {
        return await this.abandon(lock, fail(name, 'error', `cannot lock ref '${name}': unable to resolve reference '${name}': reference broken`));
      }
      const current = loose?.oid ?? packed.get(name) ?? null;
      if (oldOid === null && current !== null) {
        return await this.abandon(lock, fail(name, 'exists', `cannot lock ref '${name}': reference already exists`));
      }
      if (oldOid !== null && current === null) {
        return await this.abandon(lock, fail(name, 'missing', `cannot lock ref '${name}': reference is missing but expected ${oldOid}`));
      }
      if (oldOid !== null && current !== oldOid) {
        return await this.abandon(lock, fail(name, 'stale', `cannot lock ref '${name}': is at ${current} but expected ${oldOid}`));
      }
      if (newOid !== null) await this.writeLock(lock, `${newOid}\n`);
      return { name, lock, newOid, hadLoose: loose !== null, inPacked: packed.has(name) };
    } catch (err) {
      return this.abandon(lock, fail(name, 'error', `cannot lock ref '${name}': ${errorCode(err)}`));
    }
  }

  private async abandon(lock: Lock, failure: Failure): Promise<Failure> {
    await this.release(lock);
    return failure;
  }

  /**
   * C Git's D/F rule: refs/heads/a and refs/heads/a/b cannot both exist (a loose ref is a file,
   * so it cannot also be a directory). Empty directories left by deleted refs are removed.
   */
  private async directoryConflict(name: string, packed: ReadonlyMap<string, string>): Promise<string | null> {
    const parts = name.split('/');
    for (let i = 2; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      if (packed.has(ancestor) || (await this.stat(ancestor))?.isFile()) {
        return `cannot lock ref '${name}': '${ancestor}' exists; cannot create '${name}'`;
      }
    }
    const packedChild = firstWithPrefix(packed, `${name}/`);
    if (packedChild) return `cannot lock ref '${name}': '${packedChild}' exists; cannot create '${name}'`;
    if ((await this.stat(name))?.isDirectory()) {
      const inside = await this.firstFileUnder(name);
      if (inside) return `cannot lock ref '${name}': '${inside}' exists; cannot create '${name}'`;
      await this.removeEmptyTree(name);
    }
    return null;
  }

  private async acquire(name: string, what: string): Promise<Lock | Failure> {
    const file = this.file(name);
    const lockPath = `${file}.lock`;
    try {
      await this.storage.mkdir(path.posix.dirname(file));
    } catch (err) {
      return fail(name, 'conflict', `cannot lock ${what}: unable to create its directory (${errorCode(err)})`);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return { path: lockPath, fh: await this.storage.open(lockPath, 'wx'), done: false };
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') return fail(name, 'error', `cannot lock ${what}: ${errorCode(err)}`);
        if (attempt === 0 && (await this.isStale(lockPath))) {
          // left by a crashed writer; C Git never breaks locks itself, so no other process races us here
          await this.storage.unlink(lockPath);
          continue;
        }
        return fail(name, 'locked', `cannot lock ${what}: Unable to create '${name}.lock': File exists.`);
      }
    }
  }

  private async isStale(lockPath: string): Promise<boolean> {
    const st = await this.storage.stat(lockPath);
    return st !== null && Date.now() - st.mtimeMs > this.staleLockMs;
  }

  private async writeLock(lock: Lock, content: string): Promise<void> {
    const fh = lock.fh!;
    const data = Buffer.from(content);
    await fh.write(data, 0, data.length, 0);
    await fh.sync();
    lock.fh = null;
    await fh.close();
  }

  private async commitLock(lock: Lock, name: string): Promise<void> {
    await this.storage.rename(lock.path, this.file(name));
    lock.done = true;
    await this.storage.syncDir(path.posix.dirname(this.file(name)));
  }

  /** Close and delete a lock we still own. Never throws: it runs on error paths. */
  private async release(lock: Lock): Promise<void> {
    const fh = lock.fh;
    lock.fh = null;
    await fh?.close().catch(() => undefined);
    if (lock.done) return;
    lock.done = true;
    await this.storage.unlink(lock.path).catch(() => undefined);
  }

  /** Rewrite packed-refs without `names` (and their peeled lines) under packed-refs.lock. */
  private async deleteFromPacked(names: Set<string>): Promise<Failure | null> {
    const lock = await this.acquire('packed-refs', 'packed-refs');
    if ('reason' in lock) return lock;
    try {
      const text = (await this.storage.readFileOrNull(this.file('packed-refs')))?.toString('utf8') ?? '';
      await this.writeLock(lock, removePackedRefs(text, names));
      await this.commitLock(lock, 'packed-refs');
      return null;
    } catch (err) {
      return fail('packed-refs', 'error', `unable to rewrite packed-refs: ${errorCode(err)}`);
    } finally {
      await this.release(lock);
    }
  }

  private async readLoose(name: string): Promise<LooseRef | null> {
    let data: Buffer | null;
    try {
      data = await this.storage.readFileOrNull(this.file(name));
    } catch (err) {
      if (isNotAFile(err)) return null; // a directory, or a path below a file
      throw err;
    }
    return data === null ? null : parseLooseRef(data.toString('utf8'));
  }

  private async readPacked(): Promise<ReadonlyMap<string, string>> {
    return (await this.readPackedRefs()).oids;
  }

  /**
   * packed-refs, re-parsed only when the file changed. Every writer (C Git's and ours) renames a
   * new file into place, so a changed file has a new inode; size and mtime catch the rest. The
   * stat comes before the read: a file replaced in between is cached under the old identity and
   * so parsed again next time, never the other way round.
   */
  private async readPackedRefs(): Promise<PackedRefs> {
    const file = this.file('packed-refs');
    const st = await this.storage.stat(file);
    if (st === null) {
      this.packedCache = null;
      return EMPTY_PACKED;
    }
    const key = `${st.ino ?? ''}:${st.size}:${st.mtimeMs}`;
    if (this.packedCache?.key === key) return this.packedCache.packed;
    const data = await this.storage.readFileOrNull(file);
    const packed = data === null ? EMPTY_PACKED : parsePackedRefs(data.toString('utf8'));
    this.packedCache = { key, packed };
    return packed;
  }

  private async resolveQuietly(name: string): Promise<string | null> {
    try {
      return await this.resolve(name);
    } catch {
      return null;
    }
  }

  /** Loose ref names below `dir` (relative to gitdir), skipping lock and temporary files. */
  private async looseNames(dir: string): Promise<string[]> {
    const names: string[] = [];
    for (const entry of await this.readdir(dir)) {
      if (entry.endsWith('.lock')) continue;
      const rel = `${dir}/${entry}`;
      const st = await this.stat(rel);
      if (st?.isDirectory()) names.push(...(await this.looseNames(rel)));
      else if (st?.isFile() && isValidRefName(rel)) names.push(rel);
    }
    return names;
  }

  private async firstFileUnder(dir: string): Promise<string | null> {
    for (const entry of await this.readdir(dir)) {
      const rel = `${dir}/${entry}`;
      const st = await this.stat(rel);
      if (st?.isDirectory()) {
        const found = await this.firstFileUnder(rel);
        if (found) return found;
      } else if (st) return rel;
    }
    return null;
  }

  private async removeEmptyTree(dir: string): Promise<void> {
    for (const entry of await this.readdir(dir)) await this.removeEmptyTree(`${dir}/${entry}`);
    await this.rmdir(dir);
  }

  /** After a deletion, remove emptied directories up to (not including) refs/<kind>. */
  private async pruneEmptyParents(name: string): Promise<void> {
    const parts = name.split('/');
    for (let i = parts.length - 1; i >= 3; i--) {
      if (!(await this.rmdir(parts.slice(0, i).join('/')))) return;
    }
  }

  /** rmdir: removes only an empty directory, so a ref created meanwhile (by C Git) is never lost. */
  private async rmdir(rel: string): Promise<boolean> {
    try {
      await this.storage.fs.promises.rmdir(this.file(rel));
      return true;
    } catch {
      return false;
    }
  }

  private async readdir(rel: string): Promise<string[]> {
    try {
      return await this.storage.readdir(this.file(rel));
    } catch (err) {
      if (isNotAFile(err)) return [];
      throw err;
    }
  }

  private async stat(rel: string): Promise<StatLike | null> {
    try {
      return await this.storage.stat(this.file(rel));
    } catch (err) {
      if (isNotAFile(err)) return null;
      throw err;
    }
  }

  private file(rel: string): string {
    return `${this.gitdir}/${rel}`;
  }
}

// ---------------------------------------------------------------------------------------------

/** Per-update problems found before touching the disk: bad names/ids, duplicates, D/F within the batch. */
function staticChecks(updates: RefUpdate[]): (RefUpdateResult | undefined)[] {
  const results: (RefUpdateResult | undefined)[] = updates.map(() => undefined);
  const firstIndex = new Map<string, number>();
  updates.forEach((u, i) => {
    if (!u.name.startsWith('refs/') || !isValidRefName(u.name)) results[i] = fail(u.name, 'invalid', 'funny refname');
    else if (refNameTooLong(u.name)) results[i] = fail(u.name, 'invalid', refNameTooLong(u.name)!);
    else if (![u.oldOid, u.newOid].every((o) => o === null || isOid(o))) {
      const bad = [u.oldOid, u.newOid].find((o) => o !== null && !isOid(o));
      results[i] = fail(u.name, 'invalid', `invalid object name '${bad}'`);
    } else if (firstIndex.has(u.name)) results[i] = fail(u.name, 'invalid', `multiple updates for ref '${u.name}' not allowed`);
    else firstIndex.set(u.name, i);
  });
  updates.forEach((u, i) => {
    const parts = u.name.split('/');
    for (let k = 2; k < parts.length; k++) {
      const ancestor = parts.slice(0, k).join('/');
      const j = firstIndex.get(ancestor);
      if (j === undefined) continue;
      const reason = `cannot process '${ancestor}' and '${u.name}' at the same time`;
      results[i] ??= fail(u.name, 'conflict', reason);
      results[j] ??= fail(ancestor, 'conflict', reason);
    }
  });
  return results;
}

function failAtomically(results: (RefUpdateResult | undefined)[], updates: RefUpdate[]): RefUpdateResult[] {
  return updates.map((u, i) => {
    const r = results[i];
    return r && !r.ok ? r : fail(u.name, 'atomic', 'atomic transaction failed');
  });
}

function fail(name: string, code: RefFailureCode, reason: string): Failure {
  return { name, ok: false, reason, code };
}

const nullIfZero = oidOrNull;

function assertName(name: string): void {
  if (!isStorableRefName(name)) throw new GitgateError('BAD_REF_NAME', { ref: name });
}

/** 'ref: <target>' or '<40 hex>' followed by end or whitespace (files-backend parse_loose_ref_contents). */
function parseLooseRef(text: string): LooseRef {
  if (text.startsWith('ref:')) {
    const target = text.slice(4).trim();
    return isStorableRefName(target) ? { kind: 'symref', target } : { kind: 'broken' };
  }
  const oid = text.slice(0, 40).toLowerCase();
  const rest = text.slice(40);
  return isOid(oid) && (rest === '' || /^\s/.test(rest)) ? { kind: 'oid', oid } : { kind: 'broken' };
}

/** packed-refs text without the given refs and their '^' peeled lines; other bytes unchanged. */
function removePackedRefs(text: string, names: Set<string>): string {
  const kept: string[] = [];
  let dropPeeled = false;
  const lines = text.split('\n');
  const trailing = lines[lines.length - 1] === '' ? lines.pop() : undefined;
  for (const line of lines) {
    if (line.startsWith('^')) {
      if (!dropPeeled) kept.push(line);
      continue;
    }
    dropPeeled = !line.startsWith('#') && names.has(line.slice(41));
    if (!dropPeeled) kept.push(line);
  }
  return kept.join('\n') + (trailing !== undefined ? '\n' : '');
}

/** The directory list() has to walk for `prefix` (only ever below refs/). */
function walkBase(prefix: string): string {
  const dir = prefix.slice(0, prefix.lastIndexOf('/'));
  return dir.startsWith('refs/') && isValidRefName(dir) ? dir : 'refs';
}

/** How many refs are locked, written or released at once within one transaction. */
const PARALLEL_REF_IO = 16;

/** Run `fn(0…n-1)` with at most `limit` calls in flight. */
async function forEachLimited(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

const sortedNames = new WeakMap<ReadonlyMap<string, string>, string[]>();

/** The first name in `packed` starting with `prefix`, by binary search over its sorted names. */
function firstWithPrefix(packed: ReadonlyMap<string, string>, prefix: string): string | undefined {
  let names = sortedNames.get(packed);
  if (!names) sortedNames.set(packed, (names = [...packed.keys()].sort()));
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (names[mid]! < prefix) lo = mid + 1;
    else hi = mid;
  }
  return lo < names.length && names[lo]!.startsWith(prefix) ? names[lo] : undefined;
}

function isNotAFile(err: unknown): boolean {
  const code = errorCode(err);
  // a name too long for the file system cannot name an existing ref either
  return code === 'EISDIR' || code === 'ENOTDIR' || code === 'ENAMETOOLONG';
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}

function corrupt(detail: string): GitgateError {
  return new GitgateError('CORRUPT_REPO', { detail });
}
