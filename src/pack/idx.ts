// Pack index version 2 (gitformat-pack "Version 2 pack-*.idx files"): magic, version,
// 256-entry fanout, sorted object ids, CRC32s, 31-bit offsets (MSB set = index into a
// table of 64-bit offsets), then the pack checksum and the index's own SHA-1.
//
// A stored index is not held in memory (git.git's is 24 MB for 849k objects): opening reads it
// once to check it whole (checksum, order, fanout, offsets) and keeps the fanout, each id's
// first 4 bytes and the offsets (8 bytes an object). A lookup narrows by the fanout, binary
// searches the 4-byte prefixes in memory, and confirms the whole id by reading it from the
// file (C Git mmaps the file; lookups are synchronous, so these are synchronous reads of 4 KiB
// blocks kept in a byte-bounded cache). Ids missing from a pack are mostly refused by the
// prefixes alone, without a read.
import { createHash } from 'node:crypto';
import { GitgateError } from '../errors.js';
import type { RandomAccessFile } from './file-handle.js';
import { ByteLru, type BytePool } from './lru-cache.js';
import { releaseOnce } from './release-once.js';
import { OID_LENGTH } from './types.js';

const IDX_MAGIC = 0xff744f63; // "\377tOc"
const IDX_VERSION = 2;
const HEADER_LENGTH = 8;
const FANOUT_LENGTH = 256 * 4;
const TRAILER_LENGTH = 2 * OID_LENGTH;
const LARGE_OFFSET_FLAG = 0x80000000;
/** Block size of lookup reads (a page, as an mmap would fault in). */
const BLOCK = 4096;
/** Object ids checked per read while opening. */
const IDS_PER_CHUNK = 32 * 1024;
/** Bytes hashed per read while opening. */
const HASH_CHUNK = 1024 * 1024;

function corrupt(detail: string): GitgateError {
  return new GitgateError('CORRUPT_REPO', { detail: `pack index: ${detail}` });
}

/** The index's bytes: `view` for lookups (may be cached), `range` for one pass (never cached). */
interface IdxBytes {
  readonly size: number;
  view(position: number, length: number): Buffer;
  range(position: number, length: number): Buffer;
  close?(): Promise<void>;
}

function bufferBytes(buf: Buffer): IdxBytes {
  const at = (position: number, length: number) => buf.subarray(position, position + length);
  return { size: buf.length, view: at, range: at };
}

/** Reads through `file`, lookups through an LRU of 4 KiB blocks drawing from `cache`. */
function fileBytes(file: RandomAccessFile, cache: number | BytePool): IdxBytes {
  const blocks = new ByteLru<number, { buf: Buffer; bytes: number }>(cache);
  let closing: Promise<void> | undefined;
  const range = (position: number, length: number): Buffer => {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = file.read(buf, done, length - done, position + done);
      if (n <= 0) throw corrupt(`file shorter than its ${file.size} bytes (changed on disk?)`);
      done += n;
    }
    return buf;
  };
  const block = (b: number): Buffer => {
    const hit = blocks.get(b);
    if (hit) return hit.buf;
    const buf = range(b * BLOCK, Math.min(BLOCK, file.size - b * BLOCK));
    blocks.set(b, { buf, bytes: buf.length });
    return buf;
  };
  return {
    size: file.size,
    range,
    view(position, length) {
      const b = Math.floor(position / BLOCK);
      const from = position - b * BLOCK;
      if (from + length <= BLOCK) return block(b).subarray(from, from + length);
      const out = Buffer.allocUnsafe(length); // straddles two blocks (lengths here are <= 20)
      const first = block(b);
      first.copy(out, 0, from);
      block(b + 1).copy(out, first.length - from, 0, length - (first.length - from));
      return out;
    },
    close() {
      blocks.clear();
      closing ??= file.close();
      return closing;
    },
  };
}

export class PackIndex {
  readonly count: number;
  readonly packChecksum: Buffer;
  private readonly bytes: IdxBytes;
  private readonly fanout: Uint32Array;
  /** Each object id's first 4 bytes, big-endian, in index order. */
  private readonly prefixes: Uint32Array;
  /** The 31-bit offset words (MSB set: an index into `large`). */
  private readonly offsets: Uint32Array;
  private readonly large: Buffer;
  private readonly oidsAt: number;
  private readonly crcsAt: number;
  private sorted: SortedOffsets | undefined;
  private byOffset: Uint32Array | null = null;
  /** byOffset came from a .rev file (checked), not from sorting the offsets. */
  private fromRev = false;
  /** Every object id, read whole while a long walk holds them (holdIds); null otherwise. */
  private ids: Buffer | null = null;
  private idHolds = 0;
  /** Date.now() of the reverse index's last use (dropReverseIndexes), or used since the last look. */
  private reverseUsed = 0;
  private reverseTouched = false;

  private constructor(bytes: IdxBytes) {
    this.bytes = bytes;
    const size = bytes.size;
    if (size < HEADER_LENGTH + FANOUT_LENGTH + TRAILER_LENGTH) throw corrupt(`file too short (${size} bytes)`);
    const head = bytes.range(0, HEADER_LENGTH + FANOUT_LENGTH);
    if (head.readUInt32BE(0) !== IDX_MAGIC) throw corrupt('bad signature (not a version 2 index)');
    const version = head.readUInt32BE(4);
    if (version !== IDX_VERSION) throw corrupt(`unsupported version ${version}`);

    const fanout = new Uint32Array(256);
    let previous = 0;
    for (let i = 0; i < 256; i++) {
      const n = head.readUInt32BE(HEADER_LENGTH + i * 4);
      if (n < previous) throw corrupt(`fanout table is not monotonic at entry ${i}`);
      fanout[i] = previous = n;
    }
    const count = fanout[255]!;
    const fixed = HEADER_LENGTH + FANOUT_LENGTH + count * (OID_LENGTH + 8) + TRAILER_LENGTH;
    const largeBytes = size - fixed;
    if (largeBytes < 0 || largeBytes % 8 !== 0) throw corrupt(`size ${size} does not fit ${count} objects`);
    this.fanout = fanout;
    this.count = count;
    this.oidsAt = HEADER_LENGTH + FANOUT_LENGTH;
    this.crcsAt = this.oidsAt + count * OID_LENGTH;
    const offsetsAt = this.crcsAt + count * 4;

    // One pass over the whole file: the checksum covers everything the lookups will read.
    const hash = createHash('sha1');
    for (let at = 0; at < size - OID_LENGTH; at += HASH_CHUNK) hash.update(bytes.range(at, Math.min(HASH_CHUNK, size - OID_LENGTH - at)));
    const trailer = bytes.range(size - TRAILER_LENGTH, TRAILER_LENGTH);
    if (!hash.digest().equals(trailer.subarray(OID_LENGTH))) throw corrupt('checksum mismatch');
    this.packChecksum = Buffer.from(trailer.subarray(0, OID_LENGTH));

    this.prefixes = this.readIds();
    const rawOffsets = bytes.range(offsetsAt, count * 4);
    this.offsets = new Uint32Array(count);
    const largeCount = largeBytes / 8;
    for (let i = 0; i < count; i++) {
      const raw = rawOffsets.readUInt32BE(i * 4);
      if (raw >= LARGE_OFFSET_FLAG && raw - LARGE_OFFSET_FLAG >= largeCount) {
        throw corrupt(`entry ${i} refers to a missing 64-bit offset`);
      }
      this.offsets[i] = raw;
    }
    this.large = Buffer.from(bytes.range(offsetsAt + count * 4, largeBytes));
  }

  /** An index held in memory (one just written or received). */
  static parse(buf: Buffer): PackIndex {
    return new PackIndex(bufferBytes(buf));
  }

  /**
   * A stored index, checked whole now and then read as lookups need it, through blocks cached
   * in `cache` (a budget shared with other caches, or a byte count). close() closes `file`.
   */
  static open(file: RandomAccessFile, cache: number | BytePool): PackIndex {
    const bytes = fileBytes(file, cache);
    try {
      return new PackIndex(bytes);
    } catch (err) {
      void bytes.close?.().catch(() => undefined);
      throw err;
    }
  }

  /** Object ids must be strictly ascending and agree with the fanout; returns their 4-byte prefixes. */
  private readIds(): Uint32Array {
    const prefixes = new Uint32Array(this.count);
    const last = Buffer.alloc(OID_LENGTH);
    for (let start = 0; start < this.count; start += IDS_PER_CHUNK) {
      const n = Math.min(IDS_PER_CHUNK, this.count - start);
      const ids = this.bytes.range(this.oidsAt + start * OID_LENGTH, n * OID_LENGTH);
      for (let k = 0; k < n; k++) {
        const i = start + k;
        const at = k * OID_LENGTH;
        const prefix = ids.readUInt32BE(at);
        // the current id must sort strictly after the previous one: their first 4 bytes mostly
        // decide it (compare() with offsets made most of the time of opening a large index)
        if (i > 0 && prefix <= prefixes[i - 1]!) {
          const order = prefix < prefixes[i - 1]! ? -1 : k > 0 ? ids.compare(ids, at - OID_LENGTH, at, at, at + OID_LENGTH) : ids.compare(last, 0, OID_LENGTH, at, at + OID_LENGTH);
          if (order <= 0) throw corrupt(`object ids are not sorted at entry ${i}`);
        }
        const first = ids[at]!;
        if (i < (first === 0 ? 0 : this.fanout[first - 1]!) || i >= this.fanout[first]!) {
          throw corrupt(`object id at entry ${i} disagrees with the fanout table`);
        }
        prefixes[i] = prefix;
      }
      ids.copy(last, 0, (n - 1) * OID_LENGTH, n * OID_LENGTH);
    }
    return prefixes;
  }

  /** Position of oid in the index, or -1. Fanout and 4-byte prefixes narrow it, the file confirms it. */
  find(oid: Buffer): number {
    return oid.length === OID_LENGTH ? this.findAt(oid, 0) : -1;
  }

  /** find() for the 20-byte id at buf[at]. */
  findAt(buf: Buffer, at: number): number {
    const first = buf[at]!;
    let lo = first === 0 ? 0 : this.fanout[first - 1]!;
    let hi = this.fanout[first]!;
    const key = buf.readUInt32BE(at);
    const { prefixes } = this;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (prefixes[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    const { ids } = this;
    for (let i = lo; i < this.count && prefixes[i] === key; i++) {
      const cmp = ids ? compareRest(ids, i * OID_LENGTH, buf, at) : this.bytes.view(this.oidsAt + i * OID_LENGTH, OID_LENGTH).compare(buf, at + 4, at + OID_LENGTH, 4, OID_LENGTH);
      if (cmp === 0) return i;
      if (cmp > 0) break; // ids are sorted: no later one matches
    }
    return -1;
  }

  offsetOf(oid: Buffer): number {
    const i = this.find(oid);
    return i < 0 ? -1 : this.offsetAt(i);
  }

  /** A view into the index's bytes (or a cached block of them); copy it to keep it long or modify it. */
  oidAt(i: number): Buffer {
    this.checkPosition(i);
    if (this.ids) return this.ids.subarray(i * OID_LENGTH, (i + 1) * OID_LENGTH);
    return this.bytes.view(this.oidsAt + i * OID_LENGTH, OID_LENGTH);
  }

  offsetAt(i: number): number {
    this.checkPosition(i);
    const raw = this.offsets[i]!;
    if (raw < LARGE_OFFSET_FLAG) return raw;
    const at = (raw - LARGE_OFFSET_FLAG) * 8;
    return this.large.readUInt32BE(at) * 0x100000000 + this.large.readUInt32BE(at + 4);
  }

  crcAt(i: number): number {
    this.checkPosition(i);
    return this.bytes.view(this.crcsAt + i * 4, 4).readUInt32BE(0);
  }
  /**
   * Every entry's offset, ascending; the next offset after an entry's is where it ends. 32-bit
   * when the pack is under 4 GiB (git.git: 3.4 MB instead of 6.8).
   */
  sortedOffsets(): SortedOffsets {
    this.reverseUsed = Date.now();
    if (!this.sorted && !this.takeOrder(packOrderFromOffsets(this.count, (i) => this.offsetAt(i)))) throw corrupt('two objects at one offset');
    return this.sorted!;
  }

  /**
   * Index positions by ascending offset (a .rev file's content: a bitmap's bit order). Built
   * with the reverse index and dropped with it; do not modify.
   */
  packOrder(): Uint32Array {
    this.sortedOffsets();
    this.reverseTouched = true;
    return this.byOffset!;
  }

  /**
   * Take a pack order read from a .rev (a permutation of the positions, checked by the caller)
   * as the reverse index: no sort needed (git.git: ~60 ms). False, and nothing kept, when its
   * offsets are not ascending (it is not this pack's order).
   */
  adoptPackOrder(order: Uint32Array): boolean {
    const had = this.sorted !== undefined;
    if (!this.takeOrder(order)) return false;
    if (!had) this.fromRev = true;
    return true;
  }

  /** The pack order as adopted from a .rev and still held (a bitmap load need not read the file again), else null. */
  revOrder(): Uint32Array | null {
    if (!this.fromRev) return null;
    this.reverseTouched = true;
    return this.byOffset;
  }

  private takeOrder(order: Uint32Array): boolean {
    if (order.length !== this.count) return false;
    let fits = true;
    for (let at = 0; at < this.large.length && fits; at += 8) fits = this.large.readUInt32BE(at) === 0;
    const offsets = fits ? new Uint32Array(this.count) : new Float64Array(this.count);
    for (let r = 0, last = -1; r < this.count; r++) {
      const off = this.offsetAt(order[r]!);
      if (off <= last) return false;
      offsets[r] = last = off;
    }
    if (this.sorted) return true; // built meanwhile: the same order
    this.sorted = offsets;
    this.byOffset = order;
    this.reverseUsed = Date.now();
    withReverse.add(this);
    return true;
  }

  /** Drop the reverse index if unused since `cutoff` (Date.now() time); returns its bytes. */
  dropReverseIndex(cutoff: number): number {
    if (this.reverseTouched) {
      // used since the last look: kept this time
      this.reverseTouched = false;
      this.reverseUsed = Date.now();
      return 0;
    }
    if (this.reverseUsed >= cutoff) return 0;
    return this.forgetReverse();
  }

  private forgetReverse(): number {
    const bytes = (this.sorted?.byteLength ?? 0) + (this.byOffset?.byteLength ?? 0);
    this.sorted = undefined;
    this.byOffset = null;
    this.fromRev = false;
    withReverse.delete(this);
    return bytes;
  }

  /** The object id stored at a pack offset (reverse index, built once), or null. */
  oidAtOffset(offset: number): Buffer | null {
    const sorted = this.sorted ?? this.sortedOffsets();
    this.reverseTouched = true; // a flag, not Date.now(): this runs once per delta sent
    const r = lowerBound(sorted, offset);
    return r < sorted.length && sorted[r] === offset ? this.oidAt(this.byOffset![r]!) : null;
  }

  /**
   * Keep every object id in memory until the returned function is called (once), for a walk
   * that looks up a large part of the pack: a full-clone walk of git.git finds 420k objects in
   * a 17 MB table, and confirming each through 4 KiB block reads (a synchronous read per miss,
   * the blocks evicted by the pack's own) cost 4 s of its CPU. C Git maps the whole file.
   */
  holdIds(): () => void {
    if (this.idHolds++ === 0 && !this.ids) this.ids = this.bytes.range(this.oidsAt, this.count * OID_LENGTH);
    return releaseOnce(() => {
      if (--this.idHolds === 0) this.ids = null;
    });
  }

  /** Let go of the file (a stored index) and its cached blocks. */
  async close(): Promise<void> {
    this.ids = null;
    this.forgetReverse();
    await this.bytes.close?.();
  }

  private checkPosition(i: number): void {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`pack index position ${i} out of range 0..${this.count - 1}`);
  }
}

/** Pack order from a .idx's offsets: packOrder[pos] = index position of the pos-th object by offset. */
function packOrderFromOffsets(count: number, offsetAt: (i: number) => number): Uint32Array {
  // offset and position packed into one double, sorted natively (a comparator is several times slower)
  let shift = 1;
  while (shift <= count) shift *= 2;
  const keys = new Float64Array(count);
  let max = 0;
  for (let i = 0; i < count; i++) {
    const off = offsetAt(i);
    if (off > max) max = off;
    keys[i] = off * shift + i;
  }
  const order = new Uint32Array(count);
  if ((max + 1) * shift <= Number.MAX_SAFE_INTEGER) {
    keys.sort();
    for (let p = 0; p < count; p++) order[p] = keys[p]! % shift;
    return order;
  }
  for (let i = 0; i < count; i++) order[i] = i;
  return order.sort((a, b) => offsetAt(a) - offsetAt(b));
}

/** Order of a[x+4..x+20) against b[y+4..y+20), in JS: a native Buffer.compare costs more than these 16 bytes (bitmap writing makes millions). */
function compareRest(a: Buffer, x: number, b: Buffer, y: number): number {
  for (let k = 4; k < OID_LENGTH; k++) {
    const d = a[x + k]! - b[y + k]!;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The indexes holding a reverse index (sortedOffsets, oidAtOffset: 8 bytes an object, git.git's
 * 6.8 MB). It is derived and rebuilt on demand (~0.1 s for git.git, as C Git builds its .rev in
 * memory per pack-objects), so an idle server drops it with its caches (service/cache-budgets.ts).
 */
const withReverse = new Set<PackIndex>();

/** Drop the reverse indexes unused since `cutoff` (Date.now() time); returns the bytes freed. */
export function dropReverseIndexes(cutoff: number): number {
  let freed = 0;
  for (const index of [...withReverse]) freed += index.dropReverseIndex(cutoff);
  return freed;
}

/** Pack offsets in ascending order (PackIndex.sortedOffsets). */
export type SortedOffsets = Uint32Array | Float64Array;

/** First index whose value is >= target. */
export function lowerBound(sorted: SortedOffsets, target: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
