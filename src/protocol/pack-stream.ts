// Turns a list of objects into pack entries, reusing stored bytes: whole objects are
// copied verbatim, stored deltas are kept when their base is sent earlier in the same pack;
// everything else is inflated and deflated again.
import type { PackEntry } from '../pack/pack-writer.js';
import type { PackFile } from '../pack/pack-file.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA } from '../pack/types.js';
import type { ObjectStore } from '../repo/object-store.js';
import type { ObjectToSend } from '../repo/reachability.js';

interface Planned {
  obj: ObjectToSend;
  pack: PackFile | null;
  offset: number;
}

export interface PackPlan {
  count: number;
  entries: AsyncGenerator<PackEntry>;
  stats: { reused: number; reusedDeltas: number; deltas: number };
}

/** Order objects so that within each pack they follow stored offsets (bases before deltas). */
async function plan(store: ObjectStore, objects: ObjectToSend[]): Promise<Planned[]> {
  const located: Planned[] = [];
  const loose: Planned[] = [];
  for (const obj of objects) {
    const loc = await store.locate(obj.oid);
    if (loc) located.push({ obj, pack: loc.pack, offset: loc.offset });
    else loose.push({ obj, pack: null, offset: 0 });
  }
  const packIds = new Map<PackFile, number>();
  for (const p of located) if (!packIds.has(p.pack!)) packIds.set(p.pack!, packIds.size);
  located.sort((a, b) => packIds.get(a.pack!)! - packIds.get(b.pack!)! || a.offset - b.offset);
  return [...located, ...loose];
}

export async function planPack(store: ObjectStore, objects: ObjectToSend[]): Promise<PackPlan> {
  const ordered = await plan(store, objects);
  const stats = { reused: 0, reusedDeltas: 0, deltas: 0 };
  async function* entries(): AsyncGenerator<PackEntry> {
    const indexByOid = new Map<string, number>();
    const indexByPackOffset = new Map<PackFile, Map<number, number>>();
    let i = 0;
    for (const item of ordered) {
      const entry = await reuse(item, indexByOid, indexByPackOffset);
      if (entry) {
        stats.reused++;
        if (entry.kind === 'ofs-delta') {
          stats.reusedDeltas++;
          stats.deltas++;
        }
        yield entry;
      } else {
        const obj = await store.read(item.obj.oid);
        if (!obj) throw new Error(`object ${item.obj.oid} vanished while packing`);
        yield { kind: 'object', type: obj.type, content: obj.content };
      }
      indexByOid.set(item.obj.oid, i);
      if (item.pack) {
        let m = indexByPackOffset.get(item.pack);
        if (!m) indexByPackOffset.set(item.pack, (m = new Map()));
        m.set(item.offset, i);
      }
      i++;
    }
  }
  return { count: ordered.length, entries: entries(), stats };
}

async function reuse(
  item: Planned,
  indexByOid: Map<string, number>,
  indexByPackOffset: Map<PackFile, Map<number, number>>,
): Promise<PackEntry | null> {
  if (!item.pack) return null;
  const info = await item.pack.entryAt(item.offset);
  if (info.typeCode !== OBJ_OFS_DELTA && info.typeCode !== OBJ_REF_DELTA) {
    return { kind: 'raw', bytes: await item.pack.rawEntry(item.offset) };
  }
  let baseIndex: number | undefined;
  if (info.typeCode === OBJ_OFS_DELTA && info.baseOffset !== undefined) {
    baseIndex = indexByPackOffset.get(item.pack)?.get(info.baseOffset);
  } else if (info.baseOid) {
    baseIndex = indexByOid.get(info.baseOid.toString('hex'));
  }
  if (baseIndex === undefined) return null;
  const raw = await item.pack.rawEntry(item.offset);
  return { kind: 'ofs-delta', baseIndex, resultSize: info.size, compressed: raw.subarray(info.headerLength) };
}
