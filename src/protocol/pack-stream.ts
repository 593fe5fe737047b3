// Turns a list of objects into pack entries, reusing stored bytes: whole objects are
// copied verbatim; stored deltas are kept when their base is sent earlier in the same pack
// (as ofs-delta, or ref-delta if the client lacks ofs-delta) or, for thin packs, when the
// client already has the base. In a thin pack, a changed file or tree that is stored whole
// (or as a delta against something the client lacks) goes as a new delta against the client's
// version of it (SendPlan.deltaBases), as C Git's pack-objects does. Everything else is
// inflated and deflated again.
import zlib from 'node:zlib';
import { createDelta } from '../pack/delta-encode.js';
import type { PackEntry } from '../pack/pack-writer.js';
import type { PackFile } from '../pack/pack-file.js';
import { PACK_HEADER_LENGTH, PACK_TRAILER_LENGTH } from '../pack/pack-header.js';
import type { PackReuse, ReuseStats } from '../pack/pack-reuse.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA } from '../pack/types.js';
import type { ObjectDatabase } from '../repo/object-database.js';
import type { ObjectToSend } from '../repo/reachability.js';

/** Stored entries larger than this are streamed from disk instead of read whole. */
const STREAM_ENTRY_BYTES = 1024 * 1024;

interface Planned {
  obj: ObjectToSend;
  pack: PackFile | null;
  offset: number;
}

export interface PackPlanOptions {
  thin?: boolean;
  /** Objects the client has (bases allowed in a thin pack). */
  clientHas?: { has(oid: string): boolean };
  ofsDelta?: boolean;
  /** Object → the client's version of it, to delta against in a thin pack. */
  deltaBases?: ReadonlyMap<string, string>;
  /** Where the first objects are stored (SendPlan.located). */
  located?: { pack: PackFile; offsets: Float64Array };
  /** Packs sent whole before the objects, which are not in them (SendPlan.wholePacks; needs ofsDelta). */
  wholePacks?: PackFile[];
  /** Entries of a stored pack sent as a copied run after the whole packs (SendPlan.reuse; needs ofsDelta). */
  reuse?: PackReuse;
}

/** Objects larger than this are not deltified here (both versions are held in memory). */
const MAX_THIN_DELTA_BYTES = 16 * 1024 * 1024;

export interface PackPlan {
  count: number;
  entries: AsyncGenerator<PackEntry>;
  stats: { reused: number; reusedDeltas: number; deltas: number; packReused: number };
  /** Set when the pack to send is exactly one stored pack: send its file as it is. */
  verbatim: PackFile | null;
}

/** Order objects so that within each pack they follow stored offsets (bases before deltas). */
async function order(store: ObjectDatabase, objects: ObjectToSend[], known?: Known): Promise<{ ordered: Planned[]; whole: Set<PackFile> }> {
  const located: Planned[] = [];
  const loose: Planned[] = [];
  // locations the planner gave (a bitmap's pack), while that pack is still in use
  const given = known && (await store.allPacks()).includes(known.pack) ? known : null;
  for (let i = 0; i < objects.length; i++) {
    const obj = objects[i]!;
    if (given && i < given.offsets.length) {
      located.push({ obj, pack: given.pack, offset: given.offsets[i]! });
      continue;
    }
    const loc = await store.locate(obj.oid);
    if (loc) located.push({ obj, pack: loc.pack, offset: loc.offset });
    else loose.push({ obj, pack: null, offset: 0 });
  }
  const packIds = new Map<PackFile, number>();
  for (const p of located) if (!packIds.has(p.pack!)) packIds.set(p.pack!, packIds.size);
  const before = (a: Planned, b: Planned) => packIds.get(a.pack!)! - packIds.get(b.pack!)! || a.offset - b.offset;
  let sorted = true;
  for (let i = 1; i < located.length && sorted; i++) sorted = before(located[i - 1]!, located[i]!) < 0;
  if (!sorted) located.sort(before);
  // A pack all of whose objects are sent is copied as one block (C Git's pack reuse): a
  // stored pack is self-contained, so its deltas stay valid at the same distances.
  const perPack = new Map<PackFile, number>();
  for (const p of located) perPack.set(p.pack!, (perPack.get(p.pack!) ?? 0) + 1);
  const whole = new Set([...perPack].filter(([pack, n]) => n === pack.index.count).map(([pack]) => pack));
  return { ordered: [...located, ...loose], whole };
}

// Orders for object lists that are themselves cached (full clones), while their packs live.
const orderCache = new WeakMap<ObjectToSend[], { ordered: Planned[]; whole: Set<PackFile> }>();

type Known = NonNullable<PackPlanOptions['located']>;

async function cachedOrder(store: ObjectDatabase, objects: ObjectToSend[], known?: Known) {
  const hit = orderCache.get(objects);
  if (hit) {
    const live = new Set(await store.allPacks());
    if ([...new Set(hit.ordered.map((p) => p.pack))].every((p) => p === null || live.has(p))) return hit;
  }
  const fresh = await order(store, objects, known);
  orderCache.set(objects, fresh);
  return fresh;
}

export async function planPack(store: ObjectDatabase, objects: ObjectToSend[], opts: PackPlanOptions = {}): Promise<PackPlan> {
  const { ordered, whole } = await cachedOrder(store, objects, opts.located);
  const stats = { reused: 0, reusedDeltas: 0, deltas: 0, packReused: 0 };
  const ofsDelta = opts.ofsDelta ?? true;
  const wholePacks = opts.wholePacks ?? [];
  const reusePack = opts.reuse;
  if ((wholePacks.length || reusePack) && !ofsDelta) throw new Error('planPack: whole packs and pack reuse need ofs-delta');
  const wholeCount = wholePacks.reduce((n, p) => n + p.index.count, 0) + (reusePack?.count ?? 0);
  /** In a pack sent whole or in the reused run: earlier in this pack, usable as a ref-delta base. */
  const sentWhole = (oid: Buffer) => wholePacks.some((p) => p.has(oid)) || (reusePack?.has(oid) ?? false);
  const clientHas = opts.thin ? (opts.clientHas ?? new Set<string>()) : new Set<string>();
  const deltaBases = opts.thin ? opts.deltaBases : undefined;

  async function* entries(): AsyncGenerator<PackEntry> {
    const indexByOid = new Map<string, number>();
    let i = 0;
    for (const pack of wholePacks) {
      yield { kind: 'raw-stream', chunks: pack.bodyStream(), entries: pack.index.count };
      stats.packReused += pack.index.count;
      i += pack.index.count;
    }
    if (reusePack && reusePack.count > 0) {
      const start = PACK_HEADER_LENGTH + wholePacks.reduce((n, p) => n + p.size - PACK_HEADER_LENGTH - PACK_TRAILER_LENGTH, 0);
      const copied: ReuseStats = { copied: 0, copiedDeltas: 0, inflated: 0 };
      yield { kind: 'raw-stream', chunks: reusePack.entries(start, copied), entries: reusePack.count };
      stats.packReused += copied.copied;
      stats.reusedDeltas += copied.copiedDeltas;
      stats.deltas += copied.copiedDeltas;
      i += reusePack.count;
    }
    for (let at = 0; at < ordered.length; ) {
      const pack = ordered[at]!.pack;
      if (pack && ofsDelta && whole.has(pack)) {
        // Objects of a pack copied whole are never ofs-delta bases for later entries.
        yield { kind: 'raw-stream', chunks: pack.bodyStream(), entries: pack.index.count };
        stats.packReused += pack.index.count;
        at += pack.index.count;
        i += pack.index.count;
        continue;
      }
      const item = ordered[at++]!;
      const reused = await reuse(item);
      const made = reused === null || reused.kind === 'raw' ? await thinDelta(item, reused) : null;
      const entry = made ?? reused ?? (await fresh(item));
      if (made) stats.deltas++;
      else if (entry.kind !== 'object') stats.reused++;
      if (!made && (entry.kind === 'ofs-delta' || entry.kind === 'ref-delta')) {
        stats.reusedDeltas++;
        stats.deltas++;
      }
      yield entry;
      indexByOid.set(item.obj.oid, i++);
    }

    /** A new delta against the client's version of the object, when it is worth sending. */
    async function thinDelta(item: Planned, whole: PackEntry | null): Promise<PackEntry | null> {
      const baseOid = deltaBases?.get(item.obj.oid);
      if (baseOid === undefined || !clientHas.has(baseOid)) return null;
      const [obj, base] = await Promise.all([store.read(item.obj.oid), store.read(baseOid)]);
      if (!obj || !base || obj.type !== base.type || obj.content.length > MAX_THIN_DELTA_BYTES || base.content.length > MAX_THIN_DELTA_BYTES) return null;
      const delta = createDelta(base.content, obj.content);
      if (!delta) return null;
      const compressed = zlib.deflateSync(delta);
      if (whole?.kind === 'raw' && compressed.length + 20 >= whole.bytes.length) return null;
      return { kind: 'ref-delta', baseOid: Buffer.from(baseOid, 'hex'), size: delta.length, compressed };
    }

    async function fresh(item: Planned): Promise<PackEntry> {
      // read once: its chain's bases are not worth the shared cache (PackFile.readAt)
      const obj = item.pack ? await item.pack.readAt(item.offset, false) : await store.read(item.obj.oid);
      if (!obj) throw new Error(`object ${item.obj.oid} vanished while packing`);
      return { kind: 'object', type: obj.type, content: obj.content };
    }

    async function reuse(item: Planned): Promise<PackEntry | null> {
      if (!item.pack) return null;
      const info = await item.pack.entryAt(item.offset);
      if (info.typeCode !== OBJ_OFS_DELTA && info.typeCode !== OBJ_REF_DELTA) {
        if (info.end - info.start > STREAM_ENTRY_BYTES) return { kind: 'raw-stream', chunks: item.pack.rawEntryStream(item.offset) };
        return { kind: 'raw', bytes: await item.pack.rawEntry(item.offset) };
      }
      const baseBin = info.baseOid ?? item.pack.index.oidAtOffset(info.baseOffset!);
      if (!baseBin) return null;
      const base = baseBin.toString('hex');
      const baseIndex = indexByOid.get(base);
      const inPack = baseIndex !== undefined;
      // a base in a pack sent whole precedes this entry in the pack: a ref-delta to it is valid
      if (!inPack && !clientHas.has(base) && !sentWhole(baseBin)) return null;
      const raw = await item.pack.rawEntry(item.offset);
      const compressed = raw.subarray(info.headerLength);
      if (inPack && ofsDelta) return { kind: 'ofs-delta', baseIndex, resultSize: info.size, compressed };
      return { kind: 'ref-delta', baseOid: Buffer.from(baseBin), size: info.size, compressed };
    }
  }
  const only = reusePack ? null : ordered[0]?.pack;
  let verbatim = only && ofsDelta && wholePacks.length === 0 && whole.has(only) && only.index.count === ordered.length ? only : null;
  if (ordered.length === 0 && wholePacks.length === 1 && !reusePack) verbatim = wholePacks[0]!;
  if (verbatim) stats.packReused = ordered.length + wholeCount;
  return { count: ordered.length + wholeCount, entries: entries(), stats, verbatim };
}
