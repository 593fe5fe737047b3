// Pack upkeep: every push adds a pack, so without consolidation lookups and clones slow down
// with the number of pushes. This is `git repack --geometric=2 -d` plus loose objects:
//
//  - packs are sorted by object count; the smallest ones are rolled up into one new pack until
//    the remaining packs form a geometric progression (each at least twice the size of the
//    next smaller one), so there are O(log n) packs and each object is rewritten O(log n)
//    times over its life;
//  - loose objects (written by the REST API) go into the new pack and their files are deleted
//    once it is installed; loose objects that some pack already holds are deleted too;
//  - objects that a pack outside the roll-up already holds are not written again (thin-pack
//    completion duplicates bases), so packs stay disjoint and clones can copy them whole;
//  - stored bytes are reused: whole entries verbatim (CRC-checked against the source index),
//    deltas whose base is in the new pack as ofs-deltas (bases are written first), deltas
//    whose base is outside it re-emitted whole (the new pack is self-contained, never thin).
//
// The new pack is written to tmp_pack_* in objects/pack with the streaming pack writer, its
// .idx computed while writing (offsets and CRCs), both fsynced and renamed (.pack, then .idx),
// added to the object store, and only then are the old packs deleted and retired: readers
// that still hold them keep their open handles until they finish (ObjectStore.pin).
//
// Runs in the background after pushes and API commits (Maintenance), serialised per
// repository, never concurrently with itself, never under the repository lock (pushes and the
// REST API are not blocked by it).
import crypto from 'node:crypto';
import path from 'node:path';
import zlib from 'node:zlib';
import { GitgateError } from '../errors.js';
import { writeFully } from '../pack/file-io.js';
import { PackIndex, writePackIndex, type IndexEntry } from '../pack/idx.js';
import { PackFile } from '../pack/pack-file.js';
import { writePack, type PackEntry } from '../pack/pack-writer.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, hashObject } from '../pack/types.js';
import type { FileHandleLike } from './storage.js';
import { repoLockKey, withRepoLock } from './repo-lock.js';
import type { Repository } from './repository.js';
import { PACK_KEEP } from './pack-names.js';

/** Stored whole entries larger than this are copied in chunks rather than read whole. */
const STREAM_ENTRY_BYTES = 1024 * 1024;
/** Writes to the new pack are gathered into blocks of this size. */
const WRITE_BLOCK = 1024 * 1024;
/** Files that belong to a pack besides .pack and .idx (deleted with it). */
const PACK_COMPANIONS = ['.rev', '.bitmap', '.mtimes', '.promisor'];

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
  /** Pause between entries while requests run (background repacks do; default off). */
  courteous?: boolean;
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

/**
 * How many of the packs (object counts sorted ascending) to roll up so the rest form a
 * geometric progression with `factor` (C Git's split_pack_geometry). `extra` is the weight of
 * loose objects that go into the new pack as well.
 */
export function geometricSplit(counts: readonly number[], factor = 2, extra = 0): number {
  const n = counts.length;
  if (n === 0) return 0;
  let i = n - 1;
  for (; i > 0; i--) {
    if (counts[i]! < factor * counts[i - 1]!) break;
  }
  let split = i === 0 ? 0 : i + 1;
  let total = extra;
  for (let k = 0; k < split; k++) total += counts[k]!;
  for (let k = split; k < n; k++) {
    if (counts[k]! < factor * total) {
      split++;
      total += counts[k]!;
    } else break;
  }
  return split;
}

// ---------------------------------------------------------------------------------------------
// Background work gives way to requests: while a clone, fetch or push is running anywhere in
// the process, a repack pauses between entries (up to MAX_YIELD_MS per run, so a server that is
// never idle still gets its packs consolidated).

let foreground = 0;
const MAX_YIELD_MS = 30_000;
const YIELD_STEP_MS = 15;

/** Mark a request (clone, fetch, push) as running; call the returned function when it ends. */
export function beginForeground(): () => void {
  foreground++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    foreground--;
  };
}

export class Courtesy {
  private waited = 0;
  constructor(
    private readonly enabled: boolean,
    private readonly signal?: { readonly aborted: boolean },
  ) {}
  /** Resolves at once when nothing is in the foreground; else after it is (or the budget is spent). */
  async yield(): Promise<void> {
    while (this.busy) {
      await new Promise((r) => setTimeout(r, YIELD_STEP_MS));
      this.waited += YIELD_STEP_MS;
    }
  }
  get aborted(): boolean {
    return this.signal?.aborted === true;
  }
  get busy(): boolean {
    return this.enabled && foreground > 0 && this.waited < MAX_YIELD_MS && !this.signal?.aborted;
  }
}

/** The lock key that serialises repacks of one repository (not the ref-update lock). */
export function repackLockKey(gitdir: string): string {
  return `${repoLockKey(gitdir)}#repack`;
}

/** One geometric repack of `repo` (see the file comment). Serialised per repository. */
export function repack(repo: Repository, opts: RepackOptions = {}): Promise<RepackResult> {
  return withRepoLock(repackLockKey(repo.gitdir), () => repackNow(repo, opts));
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

async function repackNow(repo: Repository, opts: RepackOptions): Promise<RepackResult> {
  const { storage } = repo;
  const store = repo.objects;
  const packDir = store.packDir;
  const objectsDir = path.join(repo.gitdir, 'objects');
  const factor = opts.factor ?? 2;
  const aborted = () => opts.signal?.aborted === true;
  const result: RepackResult = { pack: null, rolledUp: [], objects: 0, looseRemoved: 0 };

  await store.rescan();
  const release = store.pin(); // the PackFiles below are read across awaits
  try {
    const files = await storage.readdir(packDir);
    const kept = new Set(files.filter((f) => PACK_KEEP.test(f)).map((f) => f.slice(0, -5)));
    const all = await store.packInfos();
    const candidates = all.filter((p) => !kept.has(p.name)).sort((a, b) => a.count - b.count || (a.name < b.name ? -1 : 1));

    const loose = await listLoose(storage, objectsDir);
    const packedLoose = loose.filter((oid) => store.inPacks(Buffer.from(oid, 'hex')));
    const unpacked = loose.filter((oid) => !store.inPacks(Buffer.from(oid, 'hex'))).sort();

    const looseThreshold = opts.looseThreshold ?? LOOSE_OBJECT_THRESHOLD;
    const split = opts.all ? candidates.length : geometricSplit(candidates.map((p) => p.count), factor, unpacked.length);
    let rollup = candidates.slice(0, split);
    if (rollup.length === 1 && unpacked.length === 0) rollup = []; // rewriting one pack alone gains nothing
    const packLoose = unpacked.length > 0 && (rollup.length > 0 || opts.all || unpacked.length >= looseThreshold);
    const rolled = new Set(rollup.map((p) => p.name));
    const others = all.filter((p) => !rolled.has(p.name)).map((p) => p.pack);
    const garbage: string[] = [];

    if (rollup.length > 0 || packLoose) {
      if (aborted()) return result;
      const courtesy = new Courtesy(opts.courteous === true, opts.signal);
      const items = await plan(rollup.map((p) => p.pack).reverse(), others, packLoose ? unpacked : [], courtesy);
      if (aborted()) return result;
      if (items.length > 0) {
        const name = await writeAndInstall(repo, items, opts, courtesy);
        if (name === null) return result; // aborted
        result.pack = name;
        result.objects = items.length;
      }
      // the old packs go only now that the new one is installed and listed
      result.rolledUp = rollup.map((p) => p.name).filter((n) => n !== result.pack);
      if (result.rolledUp.length > 0) {
        await storage.unlink(path.join(packDir, 'multi-pack-index'));
        await store.retirePacks(result.rolledUp);
        for (const base of result.rolledUp) {
          // .idx first: C Git finds packs through their index
          for (const ext of ['.idx', '.pack', ...PACK_COMPANIONS]) garbage.push(path.join(packDir, `${base}${ext}`));
        }
      }
      if (packLoose) for (const oid of unpacked) garbage.push(store.loose.pathOf(oid));
    }
    // loose copies of packed objects (C Git's prune-packed)
    for (const oid of packedLoose) garbage.push(store.loose.pathOf(oid));
    result.looseRemoved = garbage.length - result.rolledUp.length * (2 + PACK_COMPANIONS.length);
    if (opts.defer) opts.defer(garbage, result.rolledUp);
    else await deleteGarbage(repo, garbage, result.rolledUp);
    return result;
  } finally {
    release();
  }
}

/** Delete replaced files, then let the object store forget the packs they belonged to. */
export async function deleteGarbage(repo: Repository, files: string[], packs: string[]): Promise<void> {
  for (const file of files) await repo.storage.unlink(file);
  if (packs.length) await repo.storage.syncDir(repo.objects.packDir);
  repo.objects.unignore(packs);
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

/** Write the items as a pack under temporary names, index it, rename it into place, list it. Null when aborted. */
export async function writeAndInstall(repo: Repository, items: Item[], opts: RepackOptions, courtesy: Courtesy): Promise<string | null> {
  const { storage } = repo;
  const store = repo.objects;
  const packDir = store.packDir;
  const tag = `repack_${process.pid}_${crypto.randomBytes(6).toString('hex')}`;
  const tmpPack = path.join(packDir, `tmp_pack_${tag}`);
  const tmpIdx = path.join(packDir, `tmp_idx_${tag}`);
  let installed = false;
  const handle = await storage.open(tmpPack, 'wx+');
  let handleOpen = true;
  try {
    const count = items.length;
    const offsets = new Array<number>(count);
    const crcs = new Array<number>(count);
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
        const obj = await store.loose.read(item.oid.toString('hex'), { verify: true });
        if (!obj) throw new Error(`loose object ${item.oid.toString('hex')} vanished while repacking`);
        return { kind: 'object', type: obj.type, content: obj.content };
      }
      const { pack } = item;
      if (item.inflate) {
        const obj = await pack.readAt(item.offset);
        if (!hashObject(obj.type, obj.content).equals(item.oid)) {
          throw new GitgateError('CORRUPT_REPO', { detail: `object ${item.oid.toString('hex')} does not match its id` });
        }
        return { kind: 'object', type: obj.type, content: obj.content };
      }
      const info = await pack.entryAt(item.offset);
      const sourceCrc = pack.index.crcAt(item.pos);
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
    await checkWritten(repo, tmpPack, idx);
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
    await store.addPack(name);
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
async function checkWritten(repo: Repository, file: string, idx: Buffer): Promise<void> {
  const handle = await repo.storage.open(file, 'r');
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

/** Loose object ids (objects/xx/yyyy…), sorted. */
export async function listLoose(storage: Repository['storage'], objectsDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const dir of await storage.readdir(objectsDir)) {
    if (!/^[0-9a-f]{2}$/.test(dir)) continue;
    for (const file of await storage.readdir(path.join(objectsDir, dir))) {
      if (/^[0-9a-f]{38}$/.test(file)) out.push(dir + file);
    }
  }
  return out.sort();
}
