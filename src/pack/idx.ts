// Pack index version 2 (gitformat-pack "Version 2 pack-*.idx files"): magic, version,
// 256-entry fanout, sorted object ids, CRC32s, 31-bit offsets (MSB set = index into a
// table of 64-bit offsets), then the pack checksum and the index's own SHA-1.
import { createHash } from 'node:crypto';
import { GitgateError } from '../errors.js';
import { OID_LENGTH } from './types.js';

const IDX_MAGIC = 0xff744f63; // "\377tOc"
const IDX_VERSION = 2;
const HEADER_LENGTH = 8;
const FANOUT_LENGTH = 256 * 4;
const TRAILER_LENGTH = 2 * OID_LENGTH;
const LARGE_OFFSET_FLAG = 0x80000000;

function corrupt(detail: string): GitgateError {
  return new GitgateError('CORRUPT_REPO', { detail: `pack index: ${detail}` });
}

export class PackIndex {
  readonly count: number;
  readonly packChecksum: Buffer;
  private readonly buf: Buffer;
  private readonly fanout: Uint32Array;
  private readonly oidsAt: number;
  private readonly crcsAt: number;
  private readonly offsetsAt: number;
  private readonly largeAt: number;
  private sorted: Float64Array | undefined;
  private byOffset: Uint32Array | null = null;

  private constructor(buf: Buffer, fanout: Uint32Array, count: number) {
    this.buf = buf;
    this.fanout = fanout;
    this.count = count;
    this.oidsAt = HEADER_LENGTH + FANOUT_LENGTH;
    this.crcsAt = this.oidsAt + count * OID_LENGTH;
    this.offsetsAt = this.crcsAt + count * 4;
    this.largeAt = this.offsetsAt + count * 4;
    this.packChecksum = buf.subarray(buf.length - TRAILER_LENGTH, buf.length - OID_LENGTH);
  }

  static parse(buf: Buffer): PackIndex {
    if (buf.length < HEADER_LENGTH + FANOUT_LENGTH + TRAILER_LENGTH) throw corrupt(`file too short (${buf.length} bytes)`);
    if (buf.readUInt32BE(0) !== IDX_MAGIC) throw corrupt('bad signature (not a version 2 index)');
    const version = buf.readUInt32BE(4);
    if (version !== IDX_VERSION) throw corrupt(`unsupported version ${version}`);

    const fanout = new Uint32Array(256);
    let previous = 0;
    for (let i = 0; i < 256; i++) {
      const n = buf.readUInt32BE(HEADER_LENGTH + i * 4);
      if (n < previous) throw corrupt(`fanout table is not monotonic at entry ${i}`);
      fanout[i] = previous = n;
    }
    const count = fanout[255]!;
    const fixed = HEADER_LENGTH + FANOUT_LENGTH + count * (OID_LENGTH + 8) + TRAILER_LENGTH;
    const largeBytes = buf.length - fixed;
    if (largeBytes < 0 || largeBytes % 8 !== 0) throw corrupt(`size ${buf.length} does not fit ${count} objects`);

    const expected = createHash('sha1').update(buf.subarray(0, buf.length - OID_LENGTH)).digest();
    if (!expected.equals(buf.subarray(buf.length - OID_LENGTH))) throw corrupt('checksum mismatch');

    const index = new PackIndex(buf, fanout, count);
    index.validateEntries(largeBytes / 8);
    return index;
  }

  /** Object ids must be strictly ascending and agree with the fanout; large offsets must exist. */
  private validateEntries(largeCount: number): void {
    const { buf, oidsAt } = this;
    for (let i = 0; i < this.count; i++) {
      const at = oidsAt + i * OID_LENGTH;
      // compare() orders the current id against the previous one: it must sort strictly after.
      if (i > 0 && buf.compare(buf, at - OID_LENGTH, at, at, at + OID_LENGTH) <= 0) {
        throw corrupt(`object ids are not sorted at entry ${i}`);
      }
      const first = buf[at]!;
      if (i < (first === 0 ? 0 : this.fanout[first - 1]!) || i >= this.fanout[first]!) {
        throw corrupt(`object id at entry ${i} disagrees with the fanout table`);
      }
      const raw = buf.readUInt32BE(this.offsetsAt + i * 4);
      if (raw >= LARGE_OFFSET_FLAG && raw - LARGE_OFFSET_FLAG >= largeCount) {
        throw corrupt(`entry ${i} refers to a missing 64-bit offset`);
      }
    }
  }

  /** Position of oid in the index, or -1. Fanout narrows the range, then binary search. */
  find(oid: Buffer): number {
    return oid.length === OID_LENGTH ? this.findAt(oid, 0) : -1;
  }

  /** find() for the 20-byte id at buf[at]. */
  findAt(buf: Buffer, at: number): number {
    const first = buf[at]!;
    let lo = first === 0 ? 0 : this.fanout[first - 1]!;
    let hi = this.fanout[first]!;
    const ids = this.buf;
    const { oidsAt } = this;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = oidsAt + mid * OID_LENGTH;
      let cmp = 0;
      for (let k = 1; k < OID_LENGTH; k++) {
        const d = ids[m + k]! - buf[at + k]!;
        if (d !== 0) {
          cmp = d;
          break;
        }
      }
      if (cmp === 0) return mid;
      if (cmp < 0) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  offsetOf(oid: Buffer): number {
    const i = this.find(oid);
    return i < 0 ? -1 : this.offsetAt(i);
  }

  /** A view into the index buffer; copy it before keeping it beyond the index's lifetime. */
  oidAt(i: number): Buffer {
    this.checkPosition(i);
    const at = this.oidsAt + i * OID_LENGTH;
    return this.buf.subarray(at, at + OID_LENGTH);
  }

  offsetAt(i: number): number {
    this.checkPosition(i);
    const raw = this.buf.readUInt32BE(this.offsetsAt + i * 4);
    if (raw < LARGE_OFFSET_FLAG) return raw;
    const at = this.largeAt + (raw - LARGE_OFFSET_FLAG) * 8;
    return this.buf.readUInt32BE(at) * 0x100000000 + this.buf.readUInt32BE(at + 4);
  }

  crcAt(i: number): number {
    this.checkPosition(i);
    return this.buf.readUInt32BE(this.crcsAt + i * 4);
  }

  /** Every entry's offset, ascending; the next offset after an entry's is where it ends. */
  sortedOffsets(): Float64Array {
    if (!this.sorted) {
      const offsets = new Float64Array(this.count);
      for (let i = 0; i < this.count; i++) offsets[i] = this.offsetAt(i);
      this.sorted = offsets.sort();
    }
    return this.sorted;
  }

  /** The object id stored at a pack offset (reverse index, built once), or null. */
  oidAtOffset(offset: number): Buffer | null {
    if (!this.byOffset) {
      const order = new Uint32Array(this.count);
      for (let i = 0; i < this.count; i++) order[i] = i;
      const offsets = new Float64Array(this.count);
      for (let i = 0; i < this.count; i++) offsets[i] = this.offsetAt(i);
      order.sort((a, b) => offsets[a]! - offsets[b]!);
      this.byOffset = order;
    }
    const sorted = this.sortedOffsets();
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo < sorted.length && sorted[lo] === offset ? this.oidAt(this.byOffset[lo]!) : null;
  }

  private checkPosition(i: number): void {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`pack index position ${i} out of range 0..${this.count - 1}`);
  }
}

export interface IndexEntry {
  oid: Buffer;
  offset: number;
  crc: number;
}

/** Index entries as columns: entry i's id at oids[20i], its offset and CRC (no object per entry). */
export interface IndexColumns {
  count: number;
  oids: Buffer;
  offsets: ArrayLike<number>;
  crcs: ArrayLike<number>;
}

/**
 * Entry numbers in object id order. Comparing Buffers costs a native call each, so ids are
 * first compared by their leading 6 bytes as a number; only ties (rare) compare whole ids.
 */
export function oidOrder(oids: Buffer, count: number): Uint32Array {
  const keys = new Float64Array(count);
  for (let i = 0; i < count; i++) keys[i] = oids.readUIntBE(i * OID_LENGTH, 6);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  return order.sort((a, b) => keys[a]! - keys[b]! || oids.compare(oids, b * OID_LENGTH, (b + 1) * OID_LENGTH, a * OID_LENGTH, (a + 1) * OID_LENGTH));
}

export interface WritePackIndexOptions {
  /**
   * Offsets above this go to the 64-bit table (default 2^31 - 1, the most 31 bits hold).
   * Lower values mirror `git index-pack --index-version=2,<limit>`, which tests use.
   */
  off32Limit?: number;
}

/** Writes a version 2 .idx exactly as `git index-pack` does for the same entries. */
export function writePackIndex(entries: IndexEntry[], packChecksum: Buffer, opts: WritePackIndexOptions = {}): Buffer {
  const count = entries.length;
  const oids = Buffer.allocUnsafe(count * OID_LENGTH);
  entries.forEach((e, i) => {
    if (e.oid.length !== OID_LENGTH) throw new RangeError('object ids must be 20 bytes');
    e.oid.copy(oids, i * OID_LENGTH);
  });
  const cols = { count, oids, offsets: entries.map((e) => e.offset), crcs: entries.map((e) => e.crc) };
  return encodePackIndex(cols, oidOrder(oids, count), packChecksum, opts);
}

/** writePackIndex for columns, with entry numbers already in oidOrder (and free of duplicates). */
export function encodePackIndex(cols: IndexColumns, order: Uint32Array, packChecksum: Buffer, opts: WritePackIndexOptions = {}): Buffer {
  if (packChecksum.length !== OID_LENGTH) throw new RangeError('pack checksum must be 20 bytes');
  const off32Limit = Math.min(opts.off32Limit ?? LARGE_OFFSET_FLAG - 1, LARGE_OFFSET_FLAG - 1);
  const { count, oids, offsets, crcs } = cols;
  let largeCount = 0;
  for (let i = 0; i < count; i++) if (offsets[i]! > off32Limit) largeCount++;

  const oidsAt = HEADER_LENGTH + FANOUT_LENGTH;
  const crcsAt = oidsAt + count * OID_LENGTH;
  const offsetsAt = crcsAt + count * 4;
  const largeAt = offsetsAt + count * 4;
  const checksumAt = largeAt + largeCount * 8;
  const out = Buffer.alloc(checksumAt + TRAILER_LENGTH);

  out.writeUInt32BE(IDX_MAGIC, 0);
  out.writeUInt32BE(IDX_VERSION, 4);
  const fanout = new Uint32Array(256);
  let large = 0;
  for (let i = 0; i < count; i++) {
    const e = order[i]!;
    const offset = offsets[e]!;
    fanout[oids[e * OID_LENGTH]!]!++;
    oids.copy(out, oidsAt + i * OID_LENGTH, e * OID_LENGTH, (e + 1) * OID_LENGTH);
    out.writeUInt32BE(crcs[e]! >>> 0, crcsAt + i * 4);
    if (offset <= off32Limit) {
      out.writeUInt32BE(offset, offsetsAt + i * 4);
    } else {
      out.writeUInt32BE(LARGE_OFFSET_FLAG + large, offsetsAt + i * 4);
      out.writeUInt32BE(Math.floor(offset / 0x100000000), largeAt + large * 8);
      out.writeUInt32BE(offset % 0x100000000, largeAt + large * 8 + 4);
      large++;
    }
  }
  let running = 0;
  for (let b = 0; b < 256; b++) {
    running += fanout[b]!;
    out.writeUInt32BE(running, HEADER_LENGTH + b * 4);
  }
  packChecksum.copy(out, checksumAt);
  createHash('sha1').update(out.subarray(0, out.length - OID_LENGTH)).digest().copy(out, out.length - OID_LENGTH);
  return out;
}
