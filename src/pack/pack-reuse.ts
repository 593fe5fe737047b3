// A chosen subset of one stored pack's entries, sent as a run of pack entries (C Git's pack
// reuse from a bitmap, write_reused_pack): the wanted entries are copied in stored order from
// large sequential reads, without inflating or re-hashing them one by one. An ofs-delta keeps
// its stored bytes when nothing between it and its base was skipped; otherwise only its base
// distance is rewritten. An entry whose base is not sent (an unreachable object the pack also
// holds) waits until the copied run is done: then it goes as an ofs-delta if its base went
// after all, else whole, inflated and deflated again.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { GitgateError } from '../errors.js';
import type { Bitset } from './ewah.js';
import {
  MAX_ENTRY_HEADER_LENGTH,
  MAX_OFS_LENGTH,
  encodeEntryHeader,
  readEntryHeader,
  readOfsDeltaOffset,
  writeOfsDeltaOffset,
  type ParsedEntryHeader,
  type ParsedOfsOffset,
} from './entry-header.js';
import { lowerBound, type SortedOffsets } from './idx.js';
import type { PackFile } from './pack-file.js';
import { PACK_HEADER_LENGTH, PACK_TRAILER_LENGTH } from './pack-header.js';
import { WIRE_LEVEL } from './pack-writer.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, OID_LENGTH, codeFromType, typeFromCode } from './types.js';

/** Bytes read from the pack at a time. */
const WINDOW = 4 * 1024 * 1024;
/** Bytes per chunk handed on (copied entries are gathered into chunks this large). */
const OUT_CHUNK = 1024 * 1024;
/** Longest entry header: type and size, then an ofs distance or a base id. */
const HEADER_SPAN = MAX_ENTRY_HEADER_LENGTH + Math.max(MAX_OFS_LENGTH, OID_LENGTH);
const ASYNC_DEFLATE_THRESHOLD = 1024 * 1024;
const deflateAsync = promisify(zlib.deflate);

export interface ReuseStats {
  /** Entries copied with their stored bytes (a rewritten base distance included). */
  copied: number;
  /** Of those, deltas. */
  copiedDeltas: number;
  /** Entries sent whole because their base is not sent. */
  inflated: number;
}

function corrupt(detail: string): GitgateError {
  return new GitgateError('CORRUPT_REPO', { detail });
}


export class PackReuse {
  /** Entries sent (wanted positions inside the pack). */
  readonly count: number;
  private readonly offsets: SortedOffsets;

  /**
   * `wanted`: bit p set when the entry at pack position p (pack order, as a reachability
   * bitmap numbers them) is sent; bits at or past the pack's count are ignored.
   */
  private readonly windowBytes: number;
  private readonly chunkBytes: number;

  constructor(
    readonly pack: PackFile,
    private readonly wanted: Bitset,
    /** Read window and output chunk sizes (tests make them tiny). */
    sizes: { windowBytes?: number; chunkBytes?: number } = {},
  ) {
    this.windowBytes = sizes.windowBytes ?? WINDOW;
    this.chunkBytes = sizes.chunkBytes ?? OUT_CHUNK;
    this.offsets = pack.index.sortedOffsets();
    const n = this.offsets.length;
    let count = 0;
    const w = wanted.words;
    const full = Math.min(n >>> 5, w.length);
    for (let k = 0; k < full; k++) count += popcount(w[k]!);
    for (let p = full << 5; p < n; p++) if (wanted.has(p)) count++;
    this.count = count;
  }

  /** Whether the object with this 20-byte id is among the entries sent. */
  has(oid: Buffer): boolean {
    const offset = this.pack.index.offsetOf(oid);
    return offset >= 0 && this.wanted.has(lowerBound(this.offsets, offset));
  }

  /** Ids of the entries sent, in pack order (views: copy to keep). */
  *ids(): Generator<Buffer> {
    const n = this.offsets.length;
    for (let p = 0; p < n; p++) if (this.wanted.has(p)) yield this.pack.index.oidAtOffset(this.offsets[p]!)!;
  }

  /**
   * The entries, in pack order, as they are to appear in a pack whose byte `start` is the
   * first of them (ofs-delta distances count from there).
   *
   * Each chunk is lent: it is overwritten once the next one is asked for, so the consumer
   * copies it (or is done with it) first. One read window and one output chunk serve the whole
   * run, and entries inside the window are copied without an await: a clone of several hundred
   * thousand entries costs a few hundred promises and no fresh buffers, where a generator and
   * a few buffers per entry made most of its CPU garbage collection.
   */
  async *entries(start: number, stats: ReuseStats): AsyncGenerator<Buffer> {
    const { pack, offsets, wanted } = this;
    const n = offsets.length;
    const bodyEnd = pack.size - PACK_TRAILER_LENGTH;
    const endOf = (p: number) => (p + 1 < n ? offsets[p + 1]! : bodyEnd);
    const sentAt = new Float64Array(n).fill(-1); // output offset of each entry sent so far
    const waiting: number[] = [];
    let outPos = start;

    // One buffer holds the read window, the output chunk and a rewritten distance, so that
    // bytes move between them by copyWithin (Buffer.copy makes a view object per call).
    const W = Math.max(HEADER_SPAN, Math.min(this.windowBytes, bodyEnd));
    const C = this.chunkBytes;
    const DIST = W + C;
    const arena = Buffer.allocUnsafe(W + C + MAX_OFS_LENGTH);
    const win = arena.subarray(0, W);
    const out = arena.subarray(W, W + C);
    let used = 0; // bytes of the output chunk filled
    let winStart = 0;
    let winEnd = 0; // the window holds pack bytes [winStart, winEnd)
    const load = async (from: number) => {
      const length = Math.min(W, bodyEnd - from);
      await pack.readInto(win, 0, length, from);
      winStart = from;
      winEnd = from + length;
    };

    // the entry being looked at: header length, and for deltas the base position (-1: none
    // in the pack), stored distance and the length of the base reference
    const parsed: ParsedEntryHeader = { typeCode: 0, size: 0, length: 0 };
    const ofs: ParsedOfsOffset = { distance: 0, length: 0 };
    let base = -1;
    let baseLength = 0;
    /** Parse the entry at position p from the window (which holds its start). */
    const header = (p: number): number => {
      const from = offsets[p]!;
      const at = from - winStart;
      const stop = Math.min(endOf(p), winEnd) - winStart;
      if (!readEntryHeader(win, at, stop, parsed)) throw corrupt(`entry header at offset ${from} is truncated`);
      const { typeCode, length } = parsed;
      if (typeCode === OBJ_OFS_DELTA) {
        if (!readOfsDeltaOffset(win, at + length, stop, ofs)) throw corrupt(`ofs-delta at offset ${from} is truncated`);
        const baseAt = from - ofs.distance;
        base = nearBefore(offsets, baseAt, p);
        if (baseAt < PACK_HEADER_LENGTH || offsets[base] !== baseAt) throw corrupt(`ofs-delta at offset ${from} has no base at ${baseAt}`);
        baseLength = ofs.length;
      } else if (typeCode === OBJ_REF_DELTA) {
        if (stop - at < length + OID_LENGTH) throw corrupt(`ref-delta at offset ${from} is truncated`);
        const baseAt = pack.index.offsetOf(win.subarray(at + length, at + length + OID_LENGTH));
        base = baseAt < 0 ? -1 : lowerBound(offsets, baseAt);
        baseLength = OID_LENGTH;
      } else {
        typeFromCode(typeCode); // rejects 0 and 5
      }
      return typeCode;
    };

    // What one entry sends, as up to three pieces: a range of the pack (through the window),
    // of the arena (a rewritten distance) or of another buffer.
    const PACK = 0;
    const ARENA = 1;
    const BUF = 2;
    const kind = [PACK, PACK, PACK];
    const other: (Buffer | null)[] = [null, null, null];
    const from = [0, 0, 0];
    const to = [0, 0, 0];
    let pieces = 0;
    const piece = (k: number, b: Buffer | null, a: number, z: number) => {
      kind[pieces] = k;
      other[pieces] = b;
      from[pieces] = a;
      to[pieces++] = z;
    };
    /** An ofs-delta whose base went at output offset `baseAt`: as stored, or with its distance rewritten. */
    const ofsDelta = (p: number, baseAt: number) => {
      const at = offsets[p]!;
      const distance = outPos - baseAt;
      if (distance === ofs.distance) return piece(PACK, null, at, endOf(p));
      piece(PACK, null, at, at + parsed.length); // type and size as stored
      piece(ARENA, null, DIST, DIST + writeOfsDeltaOffset(distance, arena, DIST));
      piece(PACK, null, at + parsed.length + baseLength, endOf(p));
    };

    const limit = Math.min(n, wanted.words.length * 32);
    for (let k = 0, w = 0; ; ) {
      // the wanted positions in pack order, then the entries that waited for their base
      let p: number;
      if (k < limit) {
        if (!wanted.has((p = k++))) continue;
      } else if (w < waiting.length) p = waiting[w++]!;
      else break;
      const second = k >= limit && w > 0;
      const at = offsets[p]!;
      if (at < winStart || Math.min(endOf(p), at + HEADER_SPAN) > winEnd) await load(at);
      const typeCode = header(p);
      const delta = typeCode === OBJ_OFS_DELTA || typeCode === OBJ_REF_DELTA;
      let inflated = false;
      pieces = 0;
      if (!delta) piece(PACK, null, at, endOf(p));
      else if (typeCode === OBJ_OFS_DELTA && sentAt[base]! >= 0) ofsDelta(p, sentAt[base]!);
      else if (!second && typeCode === OBJ_REF_DELTA && base >= 0 && wanted.has(base)) piece(PACK, null, at, endOf(p)); // its base is in this pack too, before or after
      else if (!second) {
        waiting.push(p);
        continue;
      } else {
        // its base is not sent: the object whole, inflated and deflated again
        const obj = await pack.readAt(at);
        const head = encodeEntryHeader(codeFromType(obj.type), obj.content.length);
        const data = obj.content.length >= ASYNC_DEFLATE_THRESHOLD ? await deflateAsync(obj.content, { level: WIRE_LEVEL }) : zlib.deflateSync(obj.content, { level: WIRE_LEVEL });
        piece(BUF, head, 0, head.length);
        piece(BUF, data, 0, data.length);
        inflated = true;
      }
      sentAt[p] = outPos;
      if (inflated) stats.inflated++;
      else {
        stats.copied++;
        if (delta) stats.copiedDeltas++;
      }
      for (let i = 0; i < pieces; i++) {
        for (let a = from[i]!, z = to[i]!; a < z; ) {
          let m: number;
          if (kind[i] === PACK) {
            if (a < winStart || a >= winEnd) await load(a);
            m = Math.min(z, winEnd, a + C - used) - a;
            arena.copyWithin(W + used, a - winStart, a - winStart + m);
          } else if (kind[i] === BUF) {
            m = Math.min(z - a, C - used);
            other[i]!.copy(out, used, a, a + m);
          } else {
            m = Math.min(z - a, C - used);
            arena.copyWithin(W + used, a, a + m);
          }
          a += m;
          used += m;
          outPos += m;
          if (used === C) {
            yield out;
            used = 0;
          }
        }
      }
    }
    if (used) yield out.subarray(0, used);
  }
}

/**
 * lowerBound(sorted, target) for a target at or before sorted[p]: galloping back from p, since
 * a delta's base is mostly a few entries before it (a few steps instead of ~20 per delta).
 */
function nearBefore(sorted: SortedOffsets, target: number, p: number): number {
  let step = 1;
  let hi = p;
  let lo = p - 1;
  while (lo > 0 && sorted[lo]! > target) {
    hi = lo;
    lo = Math.max(0, p - (step *= 2));
  }
  lo = Math.max(0, lo);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
