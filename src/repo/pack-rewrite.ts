// The pack-writing step of repacking and pruning: which entries the new pack holds (plan) and
// writing them as a pack plus index under temporary names, renamed into place (writePackFiles).
// Runs wherever the repack runs (the worker process, or the event loop for memfs) and touches
// only files: listing the new pack in a server's object store is the caller's business.
//  - objects that a pack outside the roll-up already holds are not written again (thin-pack
//    completion duplicates bases), so packs stay disjoint and clones can copy them whole;
//  - stored bytes are reused: whole entries verbatim (CRC-checked against the source index),
//    deltas whose base is in the new pack as ofs-deltas (bases are written first), deltas
//    whose base is outside it re-emitted whole (the new pack is self-contained, never thin).
import path from 'node:path';
import zlib from 'node:zlib';
import { GitgateError } from '../errors.js';
import { writeFully } from '../pack/file-io.js';
import { PackIndex, writePackIndex, type IndexEntry } from '../pack/idx.js';
import { PackFile } from '../pack/pack-file.js';
import { writePack, type PackEntry } from '../pack/pack-writer.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, codeFromType, hashObject } from '../pack/types.js';
import type { Courtesy } from './courtesy.js';
import { LooseObjects } from './loose.js';
import type { ObjectDatabase } from './object-database.js';
import { packDirOf } from './pack-names.js';
import type { FileHandleLike, Storage } from './storage.js';

/** Stored whole entries larger than this are copied in chunks rather than read whole. */
const STREAM_ENTRY_BYTES = 1024 * 1024;
/** Writes to the new pack are gathered into blocks of this size. */
const WRITE_BLOCK = 1024 * 1024;
/** Files that belong to a pack besides .pack and .idx (deleted with it). */
export const PACK_COMPANIONS = ['.rev', '.bitmap', '.mtimes', '.promisor'];

/** What the pack-writing step works on: a repository's files and an object store over them. */
export interface RepackTarget {
  readonly storage: Storage;
  readonly gitdir: string;
  readonly objects: ObjectDatabase;
}

export interface Item {
  oid: Buffer;
  /** Source pack and the object's position in its index; null for a loose object. */
  pack: PackFile | null;
  pos: number;
  offset: number;
  /** Item number of the delta base in the new pack (reused delta), else -1. */
  base: number;
  /** The stored entry is a delta whose base is not in the new pack: write the object whole. */
  inflate: boolean;
}

/**
 * The entries of the new pack, bases before their deltas: every object of the rolled-up packs
 * (largest first, each in stored order) that no other pack holds and `drop` (prune) does not
 * reject, then the loose objects.
 */
export async function plan(
  sources: PackFile[],
  others: PackFile[],
  unpacked: string[],
  courtesy: Courtesy,
  drop: (oid: Buffer) => boolean = () => false,
): Promise<Item[]> {
  const items: Item[] = [];
  const chosen = new Map<string, number>(); // oid (latin1) -> item number
  const elsewhere = (oid: Buffer) => others.some((p) => p.index.find(oid) >= 0);

  for (const pack of sources) {
    const { index } = pack;
    const byOffset = Array.from({ length: index.count }, (_, i) => i);
    const offsets = byOffset.map((i) => index.offsetAt(i));
    byOffset.sort((a, b) => offsets[a]! - offsets[b]!);
    for (const start of byOffset) {
      if (courtesy.busy) await courtesy.yield();
      if (courtesy.aborted) return []; // the caller sees the signal too
      if (chosen.has(index.oidAt(start).toString('latin1')) || elsewhere(index.oidAt(start)) || drop(index.oidAt(start))) continue;
      // depth-first down the delta chain so that bases are written first
      const stack = [start];
      const onStack = new Set(stack);
      while (stack.length > 0) {
        const pos = stack[stack.length - 1]!;
        const oid = Buffer.from(index.oidAt(pos));
        const key = oid.toString('latin1');
        if (chosen.has(key)) {
          stack.pop();
          onStack.delete(pos);
          continue;
        }
        const offset = index.offsetAt(pos);
        const info = await pack.entryAt(offset);
        let base = -1;
        let inflate = false;
        if (info.typeCode === OBJ_OFS_DELTA || info.typeCode === OBJ_REF_DELTA) {
          const baseOid = info.baseOid ?? index.oidAtOffset(info.baseOffset!);
          const known = baseOid ? chosen.get(baseOid.toString('latin1')) : undefined;
          if (known !== undefined) base = known;
          else {
            const basePos = baseOid ? index.find(baseOid) : -1;
            if (baseOid && basePos >= 0 && !onStack.has(basePos) && !elsewhere(baseOid) && !drop(baseOid)) {
              stack.push(basePos);
              onStack.add(basePos);
              continue; // come back once the base is placed
            }
            inflate = true; // the base stays in another pack (or is pruned): no thin packs on disk
          }
        }
        stack.pop();
        onStack.delete(pos);
        chosen.set(key, items.length);
        items.push({ oid, pack, pos, offset, base, inflate });
      }
    }
  }
  for (const hex of unpacked) {
    const oid = Buffer.from(hex, 'hex');
    if (chosen.has(oid.toString('latin1'))) continue;
    chosen.set(oid.toString('latin1'), items.length);
    items.push({ oid, pack: null, pos: -1, offset: 0, base: -1, inflate: false });
  }
  return items;
}

/** The written pack's name and each entry's type code (OBJ_COMMIT…OBJ_TAG) in pack order, known from writing it. */
export type PackWritten = (name: string, typeCodes: Uint8Array) => void;

/**
 * Write the items as a pack under temporary names, index it, rename it into place (.pack,
 * then .idx). The caller lists it in its object store. Null when aborted. `written` gets the
 * entries' types, which a bitmap of the new pack needs (no second pass over its entries).
 */
export async function writePackFiles(
  target: RepackTarget,
  items: Item[],
  opts: { signal?: { readonly aborted: boolean } },
  courtesy: Courtesy,
  written?: PackWritten,
): Promise<string | null> {
  const { storage } = target;
  const loose = new LooseObjects(storage, target.gitdir);
  const packDir = packDirOf(target.gitdir);
  const tag = `repack_${process.pid}_${storage.tempTag()}`;
  const tmpPack = path.join(packDir, `tmp_pack_${tag}`);
  const tmpIdx = path.join(packDir, `tmp_idx_${tag}`);
  let installed = false;
  const handle = await storage.open(tmpPack, 'wx+');
  let handleOpen = true;
  try {
    const count = items.length;
    const offsets = new Array<number>(count);
    const crcs = new Array<number>(count);
    const typeCodes = new Uint8Array(count);
    /** CRC the written entry must have: the source's, for entries copied byte for byte. */
    const expected = new Array<number | undefined>(count);
    const out = new BlockWriter(handle);
    let current = -1; // entry whose bytes are being written; -1 for the pack header and trailer
    let crc = 0;
    let last: Buffer = Buffer.alloc(0);

    const finish = () => {
      if (current < 0) return;
      crcs[current] = crc;
      const want = expected[current];
      if (want !== undefined && want !== crc) {
        throw new GitgateError('CORRUPT_REPO', { detail: `object ${items[current]!.oid.toString('hex')} fails its CRC check in its pack` });
      }
      current = -1;
    };

    async function* entries(): AsyncGenerator<PackEntry> {
      for (let k = 0; k < count; k++) {
        finish(); // every byte of entry k-1 has been written by now
        if (courtesy.busy) await courtesy.yield();
        if (opts.signal?.aborted) throw new Aborted();
        const item = items[k]!;
        const entry = await entryFor(item, k);
        offsets[k] = out.position;
        current = k;
        crc = 0;
        yield entry;
      }
      finish();
    }

    async function entryFor(item: Item, k: number): Promise<PackEntry> {
      if (!item.pack) {
        const obj = await loose.read(item.oid.toString('hex'), { verify: true });
        if (!obj) throw new Error(`loose object ${item.oid.toString('hex')} vanished while repacking`);
        typeCodes[k] = codeFromType(obj.type);
        return { kind: 'object', type: obj.type, content: obj.content };
      }
      const { pack } = item;
      if (item.inflate) {
        const obj = await pack.readAt(item.offset);
        if (!hashObject(obj.type, obj.content).equals(item.oid)) {
          throw new GitgateError('CORRUPT_REPO', { detail: `object ${item.oid.toString('hex')} does not match its id` });
        }
        typeCodes[k] = codeFromType(obj.type);
        return { kind: 'object', type: obj.type, content: obj.content };
      }
      const info = await pack.entryAt(item.offset);
      const sourceCrc = pack.index.crcAt(item.pos);
      // a delta's base is written first (plan); a stored entry that is not a delta is whole
      typeCodes[k] = item.base >= 0 ? typeCodes[item.base]! : info.typeCode;
      if (item.base >= 0) {
        const raw = await pack.rawEntry(item.offset);
        if (zlib.crc32(raw) !== sourceCrc) {
          throw new GitgateError('CORRUPT_REPO', { detail: `object ${item.oid.toString('hex')} fails its CRC check in its pack` });
        }
        return { kind: 'ofs-delta', baseIndex: item.base, resultSize: info.size, compressed: raw.subarray(info.headerLength) };
      }
      expected[k] = sourceCrc;
      if (info.end - info.start > STREAM_ENTRY_BYTES) return { kind: 'raw-stream', chunks: pack.rawEntryStream(item.offset) };
      return { kind: 'raw', bytes: await pack.rawEntry(item.offset) };
    }

    try {
      for await (const chunk of writePack(count, entries())) {
        if (current >= 0) crc = zlib.crc32(chunk, crc);
        last = chunk;
        await out.write(chunk);
      }
    } catch (err) {
      if (err instanceof Aborted) return null;
      throw err;
    }
    await out.flush();
    const trailer = last.subarray(last.length - 20);
    await handle.sync();
    handleOpen = false;
    await handle.close();

    const entriesForIdx: IndexEntry[] = items.map((it, k) => ({ oid: it.oid, offset: offsets[k]!, crc: crcs[k]! }));
    const idx = writePackIndex(entriesForIdx, Buffer.from(trailer));
    await checkWritten(storage, tmpPack, idx);
    if (opts.signal?.aborted) return null;

    const idxHandle = await storage.open(tmpIdx, 'wx');
    try {
      await writeFully(idxHandle, idx, 0);
      await idxHandle.sync();
    } finally {
      await idxHandle.close();
    }
    const name = `pack-${Buffer.from(trailer).toString('hex')}`;
    // pack first, index last: readers discover packs through their .idx
    await storage.rename(tmpPack, path.join(packDir, `${name}.pack`));
    await storage.rename(tmpIdx, path.join(packDir, `${name}.idx`));
    await storage.syncDir(packDir);
    installed = true;
    written?.(name, typeCodes);
    return name;
  } finally {
    if (handleOpen) await handle.close().catch(() => undefined);
    if (!installed) {
      await storage.unlink(tmpPack).catch(() => undefined);
      await storage.unlink(tmpIdx).catch(() => undefined);
    }
  }
}

/** The written pack opens with its index (object count, trailer, offsets agree). */
async function checkWritten(storage: Storage, file: string, idx: Buffer): Promise<void> {
  const handle = await storage.open(file, 'r');
  let pack: PackFile;
  try {
    pack = await PackFile.open(handle, PackIndex.parse(idx));
  } catch (err) {
    await handle.close();
    throw err;
  }
  await pack.close();
}

class Aborted extends Error {}

/** Sequential writes gathered into large blocks. */
class BlockWriter {
  position = 0;
  private filePosition = 0;
  private readonly block = Buffer.allocUnsafe(WRITE_BLOCK);
  private used = 0;

  constructor(private readonly handle: FileHandleLike) {}

  async write(chunk: Buffer): Promise<void> {
    this.position += chunk.length;
    if (this.used + chunk.length > WRITE_BLOCK) await this.flush();
    if (chunk.length >= WRITE_BLOCK) {
      await writeFully(this.handle, chunk, this.filePosition);
      this.filePosition += chunk.length;
      return;
    }
    chunk.copy(this.block, this.used);
    this.used += chunk.length;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await writeFully(this.handle, this.block.subarray(0, this.used), this.filePosition);
    this.filePosition += this.used;
    this.used = 0;
  }
}
