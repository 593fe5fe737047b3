// A repository's object database: packs (via their .idx) first, loose objects second.
// Pack handles stay open across requests; the pack list is rescanned on a miss so objects
// written by another process are found.
import path from 'node:path';
import { PackFile } from '../pack/pack-file.js';
import { PackIndex } from '../pack/idx.js';
import { hashObject, type GitObject, type ObjectType } from '../pack/types.js';
import { LooseObjects } from './loose.js';
import type { Storage } from './storage.js';

export interface PackLocation {
  pack: PackFile;
  offset: number;
}

export class ObjectStore {
  readonly loose: LooseObjects;
  private packs = new Map<string, PackFile>(); // by pack base name
  private packOrder: PackFile[] = [];
  private scanned = false;
  private scanning: Promise<void> | null = null;

  constructor(
    private readonly storage: Storage,
    readonly gitdir: string,
  ) {
    this.loose = new LooseObjects(storage, gitdir);
  }

  get packDir(): string {
    return path.join(this.gitdir, 'objects', 'pack');
  }

  /** (Re)read objects/pack for .idx files we have not opened yet. */
  rescan(): Promise<void> {
    if (!this.scanning) {
      this.scanning = this.doScan().finally(() => {
        this.scanning = null;
      });
    }
    return this.scanning;
  }

  private async doScan(): Promise<void> {
    const names = await this.storage.readdir(this.packDir);
    const present = new Set<string>();
    for (const name of names) {
      if (!name.endsWith('.idx') || !name.startsWith('pack-')) continue;
      const base = name.slice(0, -4);
      if (!names.includes(`${base}.pack`)) continue;
      present.add(base);
      if (this.packs.has(base)) continue;
      await this.openPack(base);
    }
    // Packs deleted by a repack: close and forget them.
    for (const [base, pack] of this.packs) {
      if (!present.has(base)) {
        this.packs.delete(base);
        await pack.close().catch(() => undefined);
      }
    }
    this.packOrder = [...this.packs.values()].sort((a, b) => b.index.count - a.index.count);
    this.scanned = true;
  }

  private async openPack(base: string): Promise<void> {
    const idx = PackIndex.parse(await this.storage.readFile(path.join(this.packDir, `${base}.idx`)));
    const handle = await this.storage.open(path.join(this.packDir, `${base}.pack`), 'r');
    try {
      this.packs.set(base, await PackFile.open(handle, idx));
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Register a pack just written (after its .idx was renamed into place). */
  async addPack(base: string): Promise<void> {
    if (this.packs.has(base)) return;
    await this.openPack(base);
    this.packOrder = [...this.packs.values()].sort((a, b) => b.index.count - a.index.count);
  }

  async allPacks(): Promise<PackFile[]> {
    if (!this.scanned) await this.rescan();
    return this.packOrder;
  }

  private findInPacks(oid: Buffer): PackLocation | null {
    for (const pack of this.packOrder) {
      const offset = pack.index.offsetOf(oid);
      if (offset >= 0) return { pack, offset };
    }
    return null;
  }

  /** Where an object sits in a pack, for verbatim reuse; null for loose or missing objects. */
  async locate(oid: string): Promise<PackLocation | null> {
    if (!this.scanned) await this.rescan();
    return this.findInPacks(Buffer.from(oid, 'hex'));
  }

  async read(oid: string): Promise<GitObject | null> {
    if (!this.scanned) await this.rescan();
    const bin = Buffer.from(oid, 'hex');
    let loc = this.findInPacks(bin);
    if (loc) return loc.pack.readAt(loc.offset);
    const loose = await this.loose.read(oid);
    if (loose) return loose;
    await this.rescan();
    loc = this.findInPacks(bin);
    return loc ? loc.pack.readAt(loc.offset) : null;
  }

  async has(oid: string): Promise<boolean> {
    if (!this.scanned) await this.rescan();
    if (this.findInPacks(Buffer.from(oid, 'hex'))) return true;
    if (await this.loose.has(oid)) return true;
    await this.rescan();
    return this.findInPacks(Buffer.from(oid, 'hex')) !== null;
  }

  async readType(oid: string): Promise<{ type: ObjectType; size: number } | null> {
    if (!this.scanned) await this.rescan();
    const bin = Buffer.from(oid, 'hex');
    for (const pack of this.packOrder) {
      if (pack.has(bin)) return pack.readType(bin);
    }
    const obj = await this.read(oid);
    return obj ? { type: obj.type, size: obj.content.length } : null;
  }

  async write(type: ObjectType, content: Buffer): Promise<string> {
    const oid = hashObject(type, content).toString('hex');
    if (this.findInPacks(Buffer.from(oid, 'hex'))) return oid;
    return this.loose.write(type, content);
  }

  async close(): Promise<void> {
    const packs = [...this.packs.values()];
    this.packs.clear();
    this.packOrder = [];
    this.scanned = false;
    await Promise.all(packs.map((p) => p.close().catch(() => undefined)));
  }
}
