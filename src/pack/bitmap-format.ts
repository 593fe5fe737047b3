// C Git's pack bitmap file (.bitmap, format v1) and reverse index (.rev), read and written.
// Knows nothing of repositories: positions are "pack order" (objects sorted by offset) for
// bits, and "index order" (sorted by id, the .idx) for the commits that have a bitmap.
//
// Reading is defensive: the trailing SHA-1 of both files is checked, the pack checksum must
// be the pack's, every EWAH must be well formed and within the pack's object count, the four
// type bitmaps must partition the objects. Anything else throws BitmapFormatError and the
// caller ignores the file (never trusts it into a pack).
import { createHash } from 'node:crypto';
import os from 'node:os';
import { Bitset, EwahError, decodeEwah, encodeEwah, ewahEnd } from './ewah.js';

export const BITMAP_OPT_FULL_DAG = 0x1;
export const BITMAP_OPT_HASH_CACHE = 0x4;
export const BITMAP_OPT_LOOKUP_TABLE = 0x10;
export const BITMAP_OPT_PSEUDO_MERGES = 0x20;
const KNOWN_FLAGS = BITMAP_OPT_FULL_DAG | BITMAP_OPT_HASH_CACHE | BITMAP_OPT_LOOKUP_TABLE | BITMAP_OPT_PSEUDO_MERGES;
const HEADER = 4 + 2 + 2 + 4 + 20;
const TRAILER = 20;
const LOOKUP_TRIPLET = 4 + 8 + 4;
const MAX_XOR_OFFSET = 160;
const RIDX_HEADER = 12;

export class BitmapFormatError extends Error {}

export interface BitmapEntry {
  /** The commit's position in the pack's .idx. */
  indexPos: number;
  xorOffset: number;
  flags: number;
  /** Where its EWAH starts in the file. */
  at: number;
}

export interface BitmapTypes {
  commits: Bitset;
  trees: Bitset;
  blobs: Bitset;
  tags: Bitset;
}

/** A parsed .bitmap: type bitmaps decoded, commit bitmaps decoded on demand. */
export class BitmapFile {
  private decoded = new Map<number, Bitset>();

  constructor(
    private readonly buf: Buffer,
    readonly flags: number,
    readonly objectCount: number,
    readonly types: BitmapTypes,
    readonly entries: BitmapEntry[],
  ) {}

  /** Bytes of the file it reads from. */
  get byteLength(): number {
    return this.buf.length;
  }

  /** The full reachability bitmap of entry `i` (XOR chains resolved). Do not modify it. */
  bitmap(i: number): Bitset {
    const hit = this.decoded.get(i);
    if (hit) return hit;
    const chain: number[] = [];
    for (let k = i; ; ) {
      chain.push(k);
      const off = this.entries[k]!.xorOffset;
      if (off === 0 || this.decoded.has(k - off)) break;
      k -= off;
    }
    let result: Bitset | null = null;
    for (let c = chain.length - 1; c >= 0; c--) {
      const k = chain[c]!;
      const own = decodeEwah(this.buf, this.entries[k]!.at, this.objectCount).bits;
      const off = this.entries[k]!.xorOffset;
      const base: Bitset | null = off === 0 ? null : (result ?? this.decoded.get(k - off)!);
      result = base ? own.xor(base) : own;
      this.remember(k, result);
    }
    return result!;
  }

  private remember(k: number, bits: Bitset): void {
    // a few hundred decoded bitmaps of a large pack would be tens of MiB: keep a handful
    if (this.decoded.size >= 64) this.decoded.delete(this.decoded.keys().next().value!);
    this.decoded.set(k, bits);
  }
}

/** Parse a .bitmap for a pack of `objectCount` objects whose trailer is `packChecksum`. */
export function parseBitmap(buf: Buffer, objectCount: number, packChecksum: Buffer): BitmapFile {
  try {
    return parse(buf, objectCount, packChecksum);
  } catch (err) {
    if (err instanceof EwahError) throw new BitmapFormatError(`bad EWAH bitmap: ${err.message}`);
    throw err;
  }
}

function parse(buf: Buffer, objectCount: number, packChecksum: Buffer): BitmapFile {
  if (buf.length < HEADER + TRAILER) throw new BitmapFormatError('bitmap file too small');
  if (buf.toString('latin1', 0, 4) !== 'BITM') throw new BitmapFormatError('not a bitmap file');
  const version = buf.readUInt16BE(4);
  if (version !== 1) throw new BitmapFormatError(`unsupported bitmap version ${version}`);
  const flags = buf.readUInt16BE(6);
  if (!(flags & BITMAP_OPT_FULL_DAG)) throw new BitmapFormatError('bitmap without full closure');
  if (flags & ~KNOWN_FLAGS) throw new BitmapFormatError(`unknown bitmap options ${flags.toString(16)}`);
  const entryCount = buf.readUInt32BE(8);
  if (!buf.subarray(12, 32).equals(packChecksum)) throw new BitmapFormatError('bitmap belongs to another pack');
  const body = buf.length - TRAILER;
  if (!createHash('sha1').update(buf.subarray(0, body)).digest().equals(buf.subarray(body))) {
    throw new BitmapFormatError('bitmap checksum mismatch');
  }

  let end = body;
  if (flags & BITMAP_OPT_HASH_CACHE) end -= objectCount * 4;
  if (flags & BITMAP_OPT_LOOKUP_TABLE) end -= entryCount * LOOKUP_TRIPLET;
  if (end < HEADER) throw new BitmapFormatError('bitmap too short for its extensions');
  if (flags & BITMAP_OPT_PSEUDO_MERGES) {
    if (end - 8 < HEADER) throw new BitmapFormatError('bitmap too short for its pseudo-merges');
    const size = Number(buf.readBigUInt64BE(end - 8));
    if (size > end - HEADER) throw new BitmapFormatError('bitmap too short for its pseudo-merges');
    end -= size;
  }

  let at = HEADER;
  const type = (): Bitset => {
    const { bits, end: next } = decodeEwah(buf.subarray(0, end), at, objectCount);
    at = next;
    return bits;
  };
  const types: BitmapTypes = { commits: type(), trees: type(), blobs: type(), tags: type() };
  // every object has exactly one type
  const all = new Bitset(objectCount);
  let total = 0;
  for (const t of [types.commits, types.trees, types.blobs, types.tags]) {
    if (all.intersects(t)) throw new BitmapFormatError('an object has two types');
    all.or(t);
    total += t.size;
  }
  if (total !== objectCount || all.length !== objectCount) throw new BitmapFormatError('type bitmaps do not cover the pack');

  const entries: BitmapEntry[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < entryCount; i++) {
    if (at + 6 > end) throw new BitmapFormatError('truncated bitmap entry');
    const indexPos = buf.readUInt32BE(at);
    const xorOffset = buf[at + 4]!;
    const entryFlags = buf[at + 5]!;
    if (indexPos >= objectCount) throw new BitmapFormatError('bitmap entry for an object outside the pack');
    if (seen.has(indexPos)) throw new BitmapFormatError('two bitmaps for one commit');
    seen.add(indexPos);
    if (xorOffset > MAX_XOR_OFFSET || xorOffset > i) throw new BitmapFormatError('bitmap XOR offset out of range');
    const ewahAt = at + 6;
    at = ewahEnd(buf.subarray(0, end), ewahAt, objectCount);
    entries.push({ indexPos, xorOffset, flags: entryFlags, at: ewahAt });
  }
  if (at > end) throw new BitmapFormatError('bitmap entries overrun its extensions');
  if (!(flags & BITMAP_OPT_PSEUDO_MERGES) && at !== end) throw new BitmapFormatError('unexpected bytes after the bitmap entries');
  return new BitmapFile(buf, flags, objectCount, types, entries);
}

export interface BitmapToWrite {
  packChecksum: Buffer;
  types: BitmapTypes;
  /** Commits by .idx position, with their full reachability bitmap (pack order). */
  entries: { indexPos: number; bits: Bitset }[];
}

/** A .bitmap C Git reads: full closure, no extensions, no XOR compression. */
export function writeBitmap(b: BitmapToWrite): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(HEADER);
  header.write('BITM', 0, 'latin1');
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(BITMAP_OPT_FULL_DAG, 6);
  header.writeUInt32BE(b.entries.length, 8);
  b.packChecksum.copy(header, 12);
  parts.push(header);
  for (const t of [b.types.commits, b.types.trees, b.types.blobs, b.types.tags]) parts.push(encodeEwah(t));
  for (const e of b.entries) {
    const head = Buffer.alloc(6);
    head.writeUInt32BE(e.indexPos, 0);
    parts.push(head, encodeEwah(e.bits));
  }
  const content = Buffer.concat(parts);
  return Buffer.concat([content, createHash('sha1').update(content).digest()]);
}

/** Parse a .rev file: the pack order, checked to be a permutation for this pack. */
export function parseRev(buf: Buffer, count: number, packChecksum: Buffer): Uint32Array {
  if (buf.length !== RIDX_HEADER + count * 4 + 40) throw new BitmapFormatError('reverse index has the wrong size');
  if (buf.toString('latin1', 0, 4) !== 'RIDX' || buf.readUInt32BE(4) !== 1 || buf.readUInt32BE(8) !== 1) {
    throw new BitmapFormatError('not a SHA-1 reverse index v1');
  }
  const body = buf.length - 20;
  if (!buf.subarray(body - 20, body).equals(packChecksum)) throw new BitmapFormatError('reverse index belongs to another pack');
  if (!createHash('sha1').update(buf.subarray(0, body)).digest().equals(buf.subarray(body))) {
    throw new BitmapFormatError('reverse index checksum mismatch');
  }
  // big-endian words swapped natively in a copy of their own, then read as host-order words
  const order = new Uint32Array(count);
  const words = Buffer.from(order.buffer, order.byteOffset, count * 4);
  buf.copy(words, 0, RIDX_HEADER, RIDX_HEADER + count * 4);
  if (os.endianness() === 'LE') words.swap32();
  const seen = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const p = order[i]!;
    if (p >= count || seen[p]) throw new BitmapFormatError('reverse index is not a permutation');
    seen[p] = 1;
  }
  return order;
}

export function writeRev(order: Uint32Array, packChecksum: Buffer): Buffer {
  const buf = Buffer.alloc(RIDX_HEADER + order.length * 4 + 40);
  buf.write('RIDX', 0, 'latin1');
  buf.writeUInt32BE(1, 4);
  buf.writeUInt32BE(1, 8);
  for (let i = 0; i < order.length; i++) buf.writeUInt32BE(order[i]!, RIDX_HEADER + i * 4);
  const body = buf.length - 20;
  packChecksum.copy(buf, body - 20);
  createHash('sha1').update(buf.subarray(0, body)).digest().copy(buf, body);
  return buf;
}
