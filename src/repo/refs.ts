// Refs in C Git's "files" format: loose refs (<gitdir>/refs/...) override packed-refs.
// Updates follow refs/files-backend.c: per ref, an exclusive <ref>.lock is created, the old
// value verified under it, the new value written to the lock, fsynced and renamed over the
// ref. Lock files are what C Git itself honours, so a `git gc` running beside us is safe; the
// in-process repo lock orders our own transactions. An atomic batch of more than one step
// also writes a journal (gitgate-ref-txn-*) once every lock holds its new value: that is its
// commit point, and recovery rolls a journalled batch forward after a crash (rollForwardRefs).
import path from 'node:path';
import { GitgateError } from '../errors.js';
import type { FileHandleLike, Storage, StatLike } from './storage.js';
import { OID_SOURCE, isOid, oidOrNull } from '../oid.js';
import { EMPTY_PACKED, compareRefNames, namesWithPrefix, packedPeel, parsePackedRefs, type PackedRefs } from './packed-refs.js';
import { RefCaseIndex, isStorableRefName, isValidRefName } from './ref-names.js';
import { processLocker, repoLockKey, type RepoLocker } from './repo-lock.js';
import {
  MAX_SYMREF_DEPTH,
  assertRefName,
  assertSeedEntries,
  assertSymrefTarget,
  assertUpdateShapes,
  casFailure,
  dfConflict,
  failAtomically,
  refFailure as fail,
  staticChecks,
  type PeeledRefEntry,
  type RefDatabase,
  type RefEntry,
  type RefFailure as Failure,
  type RefUpdate,
  type RefUpdateResult,
} from './ref-database.js';

/** A lock file older than this was left by a crashed writer and may be broken (as C Git advises). */
export const STALE_LOCK_MS = 10 * 60 * 1000;

/** Journals of atomic batches being committed, in the gitdir (not C Git files): one per batch, so writers in several processes never share one. */
const TRANSACTION_PREFIX = 'gitgate-ref-txn-';
/** `gitgate-ref-txn-<rand>@<node>` (Storage.tempTag), or `-<pid>-<rand>` as first written. */
const TRANSACTION_FILE = /^gitgate-ref-txn-([0-9]+-[0-9a-f]+|[0-9a-f]+@[A-Za-z0-9._-]+)$/;
/** Listings kept per RefStore (one per prefix asked: refs/, refs/heads/, refs/tags/ …). */
const MAX_CACHED_LISTINGS = 8;

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
  /** How transactions are serialised (default: in-process only; a cluster's also spans nodes). */
  locker?: RepoLocker;
}

export class RefStore implements RefDatabase {
  readonly gitdir: string;
  /** The repository lock's key (update() and setSymbolic() take it themselves). */
  readonly lockKey: string;
  readonly locker: RepoLocker;
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
    this.locker = opts.locker ?? processLocker;
  }

  /** The object id `name` ('HEAD' or 'refs/...') points at, following symbolic refs; null if unborn/absent. */
  async resolve(name: string): Promise<string | null> {
    assertRefName(name);
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
    assertRefName(name);
    const loose = await this.readLoose(name);
    return loose?.kind === 'symref' ? loose.target : null;
  }

  /** Point `name` at `target` ('ref: <target>\n'), atomically. Throws REF_LOCKED if its lock is held. */
  async setSymbolic(name: string, target: string): Promise<void> {
    assertRefName(name);
    assertSymrefTarget(target);
    await this.locker.withLock(this.lockKey, async () => {
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
    assertUpdateShapes(updates);
    return this.locker.withLock(this.lockKey, () => this.transaction(updates, opts.atomic ?? false));
  }

  /**
   * Give a repository without refs all of `entries` at once, as one packed-refs file (what
   * `git clone` writes): one file and one fsync however many refs there are. Refuses when any
   * ref exists already.
   */
  async seed(entries: RefEntry[]): Promise<void> {
    assertSeedEntries(entries);
    await this.locker.withLock(this.lockKey, async () => {
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
      const steps = prepared.filter((p) => p && (p.newOid !== null || p.hadLoose)).length + (packedDeletes.length > 0 ? 1 : 0);
      if (atomic && steps > 1) return await this.commitJournalled(updates, prepared, packedDeletes, results);
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
   * Commit an atomic batch of several steps so that a crash leaves all of it or none: the
   * journal (written atomically, once every lock holds its new value) is the commit point;
   * rollForwardRefs then does the steps, here or, after a crash, in recovery.
   */
  private async commitJournalled(
    updates: RefUpdate[],
    prepared: (Prepared | undefined)[],
    packedDeletes: Prepared[],
    results: (RefUpdateResult | undefined)[],
  ): Promise<RefUpdateResult[]> {
    let packedLock: Lock | null = null;
    const live = prepared.flatMap((p, i) => (p ? [{ p, i }] : []));
    try {
      if (packedDeletes.length > 0) {
        const lock = await this.preparePacked(new Set(packedDeletes.map((p) => p.name)));
        if ('reason' in lock) {
          for (const p of packedDeletes) results[prepared.indexOf(p)] = fail(p.name, lock.code, `cannot delete '${p.name}': ${lock.reason}`);
          return failAtomically(results, updates);
        }
        packedLock = lock;
      }
      const journal = `${TRANSACTION_PREFIX}${this.storage.tempTag()}`; // carries the node id (cluster recovery)
      const lines = [JOURNAL_HEADER, ...(packedLock ? ['packed'] : []), ...live.map(({ p }) => (p.newOid !== null ? `update ${p.newOid} ${p.name}` : `delete ${p.name}`))];
      try {
        await this.storage.writeFileAtomic(this.file(journal), `${lines.join('\n')}\n`);
        await this.storage.syncDir(this.gitdir);
      } catch (err) {
        for (const { p, i } of live) results[i] = fail(p.name, 'error', `failed to update ref '${p.name}': ${errorCode(err)}`);
        return results as RefUpdateResult[];
      }
      // committed: the locks belong to the journal now (never released, only rolled forward)
      for (const lock of [...live.map(({ p }) => p.lock), ...(packedLock ? [packedLock] : [])]) {
        const fh = lock.fh;
        lock.fh = null;
        lock.done = true;
        await fh?.close().catch(() => undefined);
      }
      try {
        await rollForwardJournal(this.storage, this.gitdir, journal);
        for (const { p, i } of live) results[i] = { name: p.name, ok: true };
      } catch (err) {
        // the refs stay locked until recovery rolls the journal forward
        for (const { p, i } of live) results[i] = fail(p.name, 'error', `failed to update ref '${p.name}': ${errorCode(err)}`);
      }
      return results as RefUpdateResult[];
    } finally {
      if (packedLock) await this.release(packedLock);
    }
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
      const lost = casFailure(name, oldOid, current);
      if (lost) return await this.abandon(lock, lost);
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
      if (packed.has(ancestor) || (await this.stat(ancestor))?.isFile()) return dfConflict(name, ancestor);
    }
    const packedChild = firstWithPrefix(packed, `${name}/`);
    if (packedChild) return dfConflict(name, packedChild);
    if ((await this.stat(name))?.isDirectory()) {
      const inside = await this.firstFileUnder(name);
      if (inside) return dfConflict(name, inside);
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
    const lock = await this.preparePacked(names);
    if ('reason' in lock) return lock;
    try {
      await this.commitLock(lock, 'packed-refs');
      return null;
    } catch (err) {
      return fail('packed-refs', 'error', `unable to rewrite packed-refs: ${errorCode(err)}`);
    } finally {
      await this.release(lock);
    }
  }

  /** packed-refs without `names`, written to packed-refs.lock (held on success, not yet renamed). */
  private async preparePacked(names: Set<string>): Promise<Lock | Failure> {
    const lock = await this.acquire('packed-refs', 'packed-refs');
    if ('reason' in lock) return lock;
    try {
      const text = (await this.storage.readFileOrNull(this.file('packed-refs')))?.toString('utf8') ?? '';
      await this.writeLock(lock, removePackedRefs(text, names));
      return lock;
    } catch (err) {
      await this.release(lock);
      return fail('packed-refs', 'error', `unable to rewrite packed-refs: ${errorCode(err)}`);
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

  /** Only an empty directory goes, so a ref created meanwhile (by C Git) is never lost. */
  private rmdir(rel: string): Promise<boolean> {
    return this.storage.rmdir(this.file(rel));
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

const nullIfZero = oidOrNull;

const JOURNAL_HEADER = '# gitgate atomic ref transaction';

/** Finish every atomic batch a crash left committed but not done (recovery, at start); how many. */
export async function rollForwardRefs(storage: Storage, gitdir: string, include: (file: string) => Promise<boolean> = async () => true): Promise<number> {
  const dir = gitdir.replace(/\/+$/, '');
  let done = 0;
  for (const name of (await storage.readdir(dir)).filter((n) => TRANSACTION_FILE.test(n))) {
    // a cluster's recovery leaves a live node's batch to that node
    if (!(await include(`${dir}/${name}`))) continue;
    await rollForwardJournal(storage, dir, name);
    done++;
  }
  return done;
}

/**
 * Finish the atomic batch of one journal (see commitJournalled): packed-refs.lock over
 * packed-refs, each update's lock over its ref (only a lock holding exactly the journalled
 * value), each deletion's loose file and lock removed; then the journal. Idempotent, so a
 * crash inside it is finished by the next call.
 */
async function rollForwardJournal(storage: Storage, gitdir: string, name: string): Promise<void> {
  const dir = gitdir.replace(/\/+$/, '');
  const journal = `${dir}/${name}`;
  const text = (await storage.readFileOrNull(journal))?.toString('utf8');
  if (text === undefined) return;
  const lines = text.split('\n');
  if (lines[0] !== JOURNAL_HEADER || lines[lines.length - 1] !== '') throw corrupt(`${name} is not a ref transaction journal`);
  const body = lines.slice(1, -1);
  // packed-refs first (it precedes the refs in the journal): a deleted ref's packed value must be gone before its loose file
  if (body[0] === 'packed' && (await storage.exists(`${dir}/packed-refs.lock`))) await storage.rename(`${dir}/packed-refs.lock`, `${dir}/packed-refs`);
  const steps = body.slice(body[0] === 'packed' ? 1 : 0).map((line) => {
    const m = new RegExp(`^(?:update (${OID_SOURCE})|delete) (refs/.+)$`).exec(line);
    if (!m || !isValidRefName(m[2]!)) throw corrupt(`unexpected line in ${name}: ${line}`);
    return { oid: m[1], file: `${dir}/${m[2]}` };
  });
  // the refs are independent files, done a few at a time as in a plain transaction
  await forEachLimited(steps.length, PARALLEL_REF_IO, async (i) => {
    const { oid, file } = steps[i]!;
    if (oid) {
      const lock = await storage.readFileOrNull(`${file}.lock`);
      if (lock?.toString('utf8') !== `${oid}\n`) return; // done already
      await storage.rename(`${file}.lock`, file);
      await storage.syncDir(path.posix.dirname(file));
    } else if (await storage.exists(`${file}.lock`)) {
      await storage.unlink(file);
      await storage.unlink(`${file}.lock`);
    }
  });
  // every rename is durable by now (each directory synced), so the journal may go
  await storage.unlink(journal);
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
