// A repository's object database (the file implementation of ObjectDatabase, over any Storage):
// packs (via their .idx) first, loose objects second; every write through `inserter`.
// Pack handles stay open across requests; the pack list is rescanned on a miss so objects
// written by another process are found.
//
// Packs can leave the list while readers still hold them (a repack replaced them, or they were
// deleted on disk). Such packs are *retired*: no new lookup finds them, but their handles stay
// open until no pinned operation is running, so a clone that planned its pack from them keeps
// reading. Operations that hold PackFiles or locations across awaits pin the store
// (Repository.track); the store's own read/has/readType/locate pin themselves.
// With maxScanAgeMs (cluster mode) the list is also re-read when older than that, so packs
// another node retired are let go of (and their handles closed) well before their files go.
import path from 'node:path';
import { PackFile, packBlockPool } from '../pack/pack-file.js';
import { PackIndex } from '../pack/idx.js';
import { BitmapFormatError, parseRev } from '../pack/bitmap-format.js';
import { hashObject, type GitObject, type ObjectType } from '../pack/types.js';
import { releaseOnce } from '../pack/release-once.js';
import { LooseObjects } from './loose.js';
import { packDirOf } from './pack-names.js';
import { isMissing, type Storage } from './storage.js';
import type { ObjectDatabase, ObjectInserter, PackInfo, PackLocation, PackReceiver } from './object-database.js';

export class ObjectStore implements ObjectDatabase {
  readonly loose: LooseObjects;
  readonly inserter: ObjectInserter = {
    insert: (type, content) => this.insert(type, content),
    newPack: () => this.newPack(),
  };
  private packs = new Map<string, PackFile>(); // by pack base name
  private packOrder: PackFile[] = [];
  private scanned = false;
  private scannedAt = 0;
  private scanning: Promise<void> | null = null;
  /** Serialises changes to the pack list (scans, additions, retirements). */
  private listTail: Promise<void> = Promise.resolve();
  /** Operations that may hold PackFiles right now. */
  private active = 0;
  /** Packs out of the list whose handles wait for `active` to reach 0. */
  private retired: PackFile[] = [];
  /** Retired packs whose files are still on disk for a while (deletion deferred): scans skip them. */
  private ignored = new Set<string>();

  constructor(
    private readonly storage: Storage,
    readonly gitdir: string,
    private readonly opts: { maxScanAgeMs?: number } = {},
  ) {
    this.loose = new LooseObjects(storage, gitdir);
  }

  /** Never scanned, or (cluster mode) scanned longer ago than maxScanAgeMs. */
  private get stale(): boolean {
    return !this.scanned || (this.opts.maxScanAgeMs !== undefined && Date.now() - this.scannedAt > this.opts.maxScanAgeMs);
  }

  get packDir(): string {
    return packDirOf(this.gitdir);
  }

  /**
   * Mark an operation that may hold PackFiles (or locations in them) across awaits; call the
   * returned function exactly once when it is done. Retired packs close when none is running.
   */
  pin(): () => void {
    this.active++;
    return releaseOnce(() => {
      this.active--;
      if (this.active === 0) void this.closeRetired();
    });
  }

  /** Operations currently pinning the store, and retired packs still open (for tests and diagnostics). */
  get usage(): { active: number; retired: number; packs: number } {
    return { active: this.active, retired: this.retired.length, packs: this.packs.size };
  }

  /** (Re)read objects/pack for .idx files we have not opened yet, and drop packs deleted on disk. */
  rescan(): Promise<void> {
    if (!this.scanning) {
      this.scanning = this.exclusive(() => this.doScan()).finally(() => {
        this.scanning = null;
      });
    }
    return this.scanning;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.listTail.then(fn);
    this.listTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async doScan(): Promise<void> {
    const startedAt = Date.now();
    const names = await this.storage.readdir(this.packDir);
    const files = new Set(names);
    const present = new Set<string>();
    for (const name of names) {
      if (!name.endsWith('.idx') || !name.startsWith('pack-')) continue;
      const base = name.slice(0, -4);
      if (!files.has(`${base}.pack`) || this.ignored.has(base)) continue;
      present.add(base);
      if (this.packs.has(base)) continue;
      // deleted between readdir and open (a repack): skip it, the next scan agrees
      const pack = await this.openPack(base).catch((err: unknown) => {
        if (isMissing(err)) return null;
        throw err;
      });
      if (pack) this.packs.set(base, pack);
    }
    // Packs deleted on disk (by our repack or by C Git): retire them.
    for (const [base, pack] of [...this.packs]) {
      if (present.has(base)) continue;
      if (await this.storage.exists(path.join(this.packDir, `${base}.idx`))) continue;
      this.packs.delete(base);
      this.retire(pack);
    }
    this.sortPacks();
    this.scanned = true;
    this.scannedAt = startedAt;
  }

  private sortPacks(): void {
    this.packOrder = [...this.packs.values()].sort((a, b) => b.index.count - a.index.count);
  }

  private async openPack(base: string): Promise<PackFile> {
    // the index is read as lookups need it, its blocks cached in the pack block budget
    const idx = PackIndex.open(await this.storage.openRandomAccess(path.join(this.packDir, `${base}.idx`)), packBlockPool);
    const handle = await this.storage.open(path.join(this.packDir, `${base}.pack`), 'r').catch(async (err: unknown) => {
      await idx.close();
      throw err;
    });
    try {
      await this.adoptRev(base, idx);
      return await PackFile.open(handle, idx);
    } catch (err) {
      await handle.close();
      await idx.close();
      throw err;
    }
  }

  /**
   * The pack order from the pack's .rev (written with its bitmap), which PackFile.open would
   * otherwise sort the whole index for to check its offsets (git.git: ~0.1 s of every
   * maintenance worker's start). Checked as strictly as the sort (a permutation whose offsets
   * ascend); one that is missing or fails is ignored, and the order is sorted as without it.
   */
  private async adoptRev(base: string, idx: PackIndex): Promise<void> {
    const rev = await this.storage.readFileOrNull(path.join(this.packDir, `${base}.rev`)).catch(() => null);
    if (!rev) return;
    try {
      idx.adoptPackOrder(parseRev(rev, idx.count, idx.packChecksum));
    } catch (err) {
      if (!(err instanceof BitmapFormatError)) throw err;
    }
  }

  /** Register a pack just written (after its .idx was renamed into place). */
  async addPack(base: string): Promise<void> {
    await this.exclusive(async () => {
      this.ignored.delete(base);
      if (this.packs.has(base)) return;
      this.packs.set(base, await this.openPack(base));
      this.sortPacks();
    });
  }

  /**
   * Take packs out of the lookup list (their files are about to be deleted, maybe later:
   * until unignore() scans do not list them again). Their handles close once no pinned
   * operation runs.
   */
  async retirePacks(bases: string[]): Promise<void> {
    await this.exclusive(async () => {
      for (const base of bases) {
        this.ignored.add(base);
        const pack = this.packs.get(base);
        if (!pack) continue;
        this.packs.delete(base);
        this.retire(pack);
      }
      this.sortPacks();
    });
  }

  /** Retired packs whose files are still on disk (their deletion deferred): not to be read again. */
  get ignoredPacks(): string[] {
    return [...this.ignored];
  }

  /** The retired packs' files are gone: forget them. */
  unignore(bases: string[]): void {
    for (const base of bases) this.ignored.delete(base);
  }

  private retire(pack: PackFile): void {
    this.retired.push(pack);
    if (this.active === 0) void this.closeRetired();
  }

  private async closeRetired(): Promise<void> {
    if (this.active > 0 || this.retired.length === 0) return;
    const packs = this.retired;
    this.retired = [];
    await Promise.all(packs.map((p) => p.close().catch(() => undefined)));
  }

  async allPacks(): Promise<PackFile[]> {
    if (this.stale) await this.rescan();
    return this.packOrder;
  }

  /** The packs in the lookup list with their names (for repacking). */
  async packInfos(): Promise<PackInfo[]> {
    if (this.stale) await this.rescan();
    return [...this.packs].map(([name, pack]) => ({ name, pack, count: pack.index.count }));
  }

  private findInPacks(oid: Buffer): PackLocation | null {
    for (const pack of this.packOrder) {
      const offset = pack.index.offsetOf(oid);
      if (offset >= 0) return { pack, offset };
    }
    return null;
  }

  /** True when some pack in the list holds the object (no loose lookup, no rescan). */
  inPacks(oid: Buffer): boolean {
    return this.findInPacks(oid) !== null;
  }

  /** Where an object sits in a pack, for verbatim reuse; null for loose or missing objects. */
  async locate(oid: string): Promise<PackLocation | null> {
    if (this.stale) await this.rescan();
    return this.findInPacks(Buffer.from(oid, 'hex'));
  }

  async read(oid: string): Promise<GitObject | null> {
    const release = this.pin();
    try {
      if (this.stale) await this.rescan();
      const bin = Buffer.from(oid, 'hex');
      let loc = this.findInPacks(bin);
      if (loc) return await loc.pack.readAt(loc.offset);
      const loose = await this.loose.read(oid);
      if (loose) return loose;
      await this.rescan();
      loc = this.findInPacks(bin);
      return loc ? await loc.pack.readAt(loc.offset) : null;
    } finally {
      release();
    }
  }

  async has(oid: string): Promise<boolean> {
    if (this.stale) await this.rescan();
    if (this.findInPacks(Buffer.from(oid, 'hex'))) return true;
    if (await this.loose.has(oid)) return true;
    // a repack may have moved it from loose into a pack meanwhile
    await this.rescan();
    return this.findInPacks(Buffer.from(oid, 'hex')) !== null;
  }

  async readType(oid: string): Promise<{ type: ObjectType; size: number } | null> {
    const release = this.pin();
    try {
      if (this.stale) await this.rescan();
      const bin = Buffer.from(oid, 'hex');
      for (const pack of this.packOrder) {
        if (pack.has(bin)) return await pack.readType(bin);
      }
      const obj = await this.read(oid);
      return obj ? { type: obj.type, size: obj.content.length } : null;
    } finally {
      release();
    }
  }

  private async insert(type: ObjectType, content: Buffer): Promise<string> {
    const oid = hashObject(type, content).toString('hex');
    if (this.findInPacks(Buffer.from(oid, 'hex'))) return oid;
    return this.loose.write(type, content);
  }

  /**
   * A pack is spooled under a temporary name in objects/pack and installed by renaming .pack,
   * then .idx, into place: readers (and C Git) find packs through their .idx, so a crash in
   * between leaves a .pack without index, which recovery removes.
   */
  private async newPack(): Promise<PackReceiver> {
    const dir = this.packDir;
    await this.storage.mkdir(dir);
    const tag = this.storage.tempTag(); // carries the node id: cluster recovery knows whose it is
    const tmpPack = path.join(dir, `tmp_pack_${tag}`);
    const tmpIdx = path.join(dir, `tmp_idx_${tag}`);
    const handle = await this.storage.open(tmpPack, 'wx+');
    let installed = false;
    return {
      handle,
      install: async (idx, checksum) => {
        await this.storage.writeFileAtomic(tmpIdx, idx);
        const name = `pack-${checksum.toString('hex')}`;
        await this.storage.rename(tmpPack, path.join(dir, `${name}.pack`));
        await this.storage.rename(tmpIdx, path.join(dir, `${name}.idx`));
        await this.storage.syncDir(dir);
        installed = true;
        await this.addPack(name);
        return name;
      },
      discard: async () => {
        if (installed) return;
        await this.storage.unlink(tmpPack).catch(() => undefined);
        await this.storage.unlink(tmpIdx).catch(() => undefined);
      },
    };
  }

  /** Close every pack, retired ones included (the repository is going away). */
  async close(): Promise<void> {
    await this.exclusive(async () => {
      const packs = [...this.packs.values(), ...this.retired];
      this.packs.clear();
      this.retired = [];
      this.packOrder = [];
      this.scanned = false;
      await Promise.all(packs.map((p) => p.close().catch(() => undefined)));
    });
  }
}
