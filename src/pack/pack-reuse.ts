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
import { encodeEntryHeader, encodeOfsDeltaOffset, parseEntryHeader, parseOfsDeltaOffset } from './entry-header.js';
import { lowerBound, type SortedOffsets } from './idx.js';
import type { PackFile } from './pack-file.js';
import { PACK_HEADER_LENGTH, PACK_TRAILER_LENGTH } from './pack-header.js';
import { WIRE_LEVEL } from './pack-writer.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, OID_LENGTH, codeFromType, typeFromCode } from './types.js';

/** Bytes read from the pack at a time. */
const WINDOW = 4 * 1024 * 1024;
/** Bytes per chunk handed on (copied entries are gathered into chunks this large). */
const OUT_CHUNK = 1024 * 1024;
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
  constructor(
    readonly pack: PackFile,
    private readonly wanted: Bitset,
  ) {
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
   */
  async *entries(start: number, stats: ReuseStats): AsyncGenerator<Buffer> {
    const { pack, offsets, wanted } = this;
    const n = offsets.length;
    const bodyEnd = pack.size - PACK_TRAILER_LENGTH;
    const endOf = (p: number) => (p + 1 < n ? offsets[p + 1]! : bodyEnd);
    const sentAt = new Float64Array(n).fill(-1); // output offset of each entry sent so far
    const waiting: number[] = [];
    let outPos = start;

    let win = Buffer.alloc(0);
    let winStart = 0;
    // Fresh buffers each time: chunks handed on may be views into them.
    const view = async (from: number, to: number): Promise<Buffer> => {
      if (from < winStart || to > winStart + win.length) {
        const length = Math.min(Math.max(WINDOW, to - from), bodyEnd - from);
        win = Buffer.allocUnsafe(length);
        await pack.readInto(win, 0, length, from);
        winStart = from;
      }
      return win.subarray(from - winStart, to - winStart);
    };

    let out = Buffer.allocUnsafe(OUT_CHUNK);
    let used = 0;
    const pending: Buffer[] = [];
    const put = (b: Buffer) => {
      if (used + b.length > out.length) {
        if (used) pending.push(out.subarray(0, used));
        out = Buffer.allocUnsafe(OUT_CHUNK);
        used = 0;
        if (b.length > out.length / 2) {
          pending.push(b);
          outPos += b.length;
          return;
        }
      }
      b.copy(out, used);
      used += b.length;
      outPos += b.length;
    };

    /** Base position of a delta entry whose header is at the start of `b`, or -1 (no base in the pack). */
    const baseOf = (b: Buffer, p: number, typeCode: number, headerLength: number): { base: number; distance: number; length: number } => {
      if (typeCode === OBJ_OFS_DELTA) {
        const ofs = parseOfsDeltaOffset(b, headerLength);
        if (!ofs) throw corrupt(`ofs-delta at offset ${offsets[p]} is truncated`);
        const at = offsets[p]! - ofs.distance;
        const base = lowerBound(offsets, at);
        if (at < PACK_HEADER_LENGTH || offsets[base] !== at) throw corrupt(`ofs-delta at offset ${offsets[p]} has no base at ${at}`);
        return { base, distance: ofs.distance, length: ofs.length };
      }
      if (b.length < headerLength + OID_LENGTH) throw corrupt(`ref-delta at offset ${offsets[p]} is truncated`);
      const at = pack.index.offsetOf(b.subarray(headerLength, headerLength + OID_LENGTH));
      return { base: at < 0 ? -1 : lowerBound(offsets, at), distance: 0, length: OID_LENGTH };
    };

    /** The entry's header bytes (type, size, and for deltas the base reference). */
    const header = async (p: number) => {
      const from = offsets[p]!;
      const end = endOf(p);
      const b = await view(from, Math.min(end, from + 32));
      const h = parseEntryHeader(b, 0);
      if (!h) throw corrupt(`entry header at offset ${from} is truncated`);
      if (h.typeCode !== OBJ_OFS_DELTA && h.typeCode !== OBJ_REF_DELTA) {
        typeFromCode(h.typeCode); // rejects 0 and 5
        return { h, delta: null };
      }
      return { h, delta: baseOf(b, p, h.typeCode, h.length) };
    };

    /** Copy bytes [from, to) of the pack. */
    async function* copy(from: number, to: number): AsyncGenerator<Buffer> {
      for (let at = from; at < to; ) {
        const b = await view(at, Math.min(to, at + WINDOW));
        put(b);
        at += b.length;
        yield* pending.splice(0);
      }
    }

    /** An ofs-delta whose base went at output offset `baseAt`: its header, new distance, data. */
    async function* asOfsDelta(p: number, headerLength: number, stored: { distance: number; length: number }, baseAt: number) {
      const from = offsets[p]!;
      const distance = outPos - baseAt;
      if (distance === stored.distance) {
        yield* copy(from, endOf(p));
      } else {
        put((await view(from, from + headerLength)).subarray()); // type and size as stored
        put(encodeOfsDeltaOffset(distance));
        yield* copy(from + headerLength + stored.length, endOf(p));
      }
    }

    const limit = Math.min(n, wanted.words.length * 32);
    for (let p = 0; p < limit; p++) {
      if (!wanted.has(p)) continue;
      const at = outPos;
      const { h, delta } = await header(p);
      if (delta === null) {
        yield* copy(offsets[p]!, endOf(p));
      } else if (h.typeCode === OBJ_OFS_DELTA && sentAt[delta.base]! >= 0) {
        yield* asOfsDelta(p, h.length, delta, sentAt[delta.base]!);
      } else if (h.typeCode === OBJ_REF_DELTA && delta.base >= 0 && wanted.has(delta.base)) {
        yield* copy(offsets[p]!, endOf(p)); // its base is in this pack too, before or after
      } else {
        waiting.push(p);
        continue;
      }
      sentAt[p] = at;
      stats.copied++;
      if (delta) stats.copiedDeltas++;
    }

    for (const p of waiting) {
      const at = outPos;
      const { h, delta } = await header(p);
      if (delta && h.typeCode === OBJ_OFS_DELTA && sentAt[delta.base]! >= 0) {
        yield* asOfsDelta(p, h.length, delta, sentAt[delta.base]!);
        stats.copied++;
        stats.copiedDeltas++;
      } else {
        const obj = await pack.readAt(offsets[p]!);
        put(encodeEntryHeader(codeFromType(obj.type), obj.content.length));
        put(obj.content.length >= ASYNC_DEFLATE_THRESHOLD ? await deflateAsync(obj.content, { level: WIRE_LEVEL }) : zlib.deflateSync(obj.content, { level: WIRE_LEVEL }));
        yield* pending.splice(0);
        stats.inflated++;
      }
      sentAt[p] = at;
    }
    if (used) yield out.subarray(0, used);
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
