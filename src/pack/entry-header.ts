// Codec for a pack entry's header: the type+size varint, and the ofs-delta base distance.
// Sizes and offsets can exceed 2^32, so arithmetic here avoids 32-bit bitwise operators.
import { GitgateError } from '../errors.js';

/** Longest header we accept: 4 + 7*7 = 53 bits of size fit in 8 bytes; 10 covers any sane writer. */
export const MAX_ENTRY_HEADER_LENGTH = 10;
/** Longest ofs-delta distance encoding we accept (enough for any 53-bit distance). */
export const MAX_OFS_LENGTH = 10;

/** Type code in bits 4-6 of the first byte, size as little-endian 4 + 7 + 7 ... bits. */
export function encodeEntryHeader(typeCode: number, size: number): Buffer {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid object size ${size}`);
  const bytes: number[] = [];
  let rest = Math.floor(size / 16);
  let byte = (typeCode << 4) | (size % 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest % 128;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

export interface ParsedEntryHeader {
  typeCode: number;
  size: number;
  /** Bytes the type+size header occupies. */
  length: number;
}

/**
 * Parses the type+size header at buf[pos]; null when it runs past `end` (more bytes needed).
 * Throws BAD_PACK when the size does not fit a safe integer.
 */
export function parseEntryHeader(buf: Buffer, pos: number, end: number = buf.length): ParsedEntryHeader | null {
  const h = { typeCode: 0, size: 0, length: 0 };
  return readEntryHeader(buf, pos, end, h) ? h : null;
}

/** parseEntryHeader into `into`, for loops over many entries; false when it runs past `end`. */
export function readEntryHeader(buf: Buffer, pos: number, end: number, into: ParsedEntryHeader): boolean {
  if (pos >= end) return false;
  let c = buf[pos]!;
  const typeCode = (c >> 4) & 7;
  let size = c & 15;
  let scale = 16;
  let p = pos + 1;
  while (c & 0x80) {
    if (p >= end) return false;
    if (p - pos >= MAX_ENTRY_HEADER_LENGTH) throw sizeTooLarge(pos);
    c = buf[p++]!;
    size += (c & 0x7f) * scale;
    scale *= 128;
    if (!Number.isSafeInteger(size)) throw sizeTooLarge(pos);
  }
  into.typeCode = typeCode;
  into.size = size;
  into.length = p - pos;
  return true;
}

function sizeTooLarge(pos: number): GitgateError {
  return new GitgateError('BAD_PACK', { detail: `object size in the entry header at offset ${pos} is too large` });
}

/**
 * Git's ofs-delta "offset encoding": big-endian 7-bit groups where each continuation adds one,
 * so that every distance has exactly one encoding.
 */
export function encodeOfsDeltaOffset(distance: number): Buffer {
  const out = Buffer.allocUnsafe(MAX_OFS_LENGTH);
  return out.subarray(0, writeOfsDeltaOffset(distance, out, 0));
}

/** encodeOfsDeltaOffset into `into` at `at` (MAX_OFS_LENGTH bytes of room); returns its length. */
export function writeOfsDeltaOffset(distance: number, into: Buffer, at: number): number {
  if (!Number.isSafeInteger(distance) || distance <= 0) throw new RangeError(`invalid ofs-delta distance ${distance}`);
  // the groups come out last first: count them, then fill from the end
  let length = 1;
  for (let rest = Math.floor(distance / 128); rest > 0; rest = Math.floor((rest - 1) / 128)) length++;
  let i = at + length - 1;
  into[i--] = distance % 128;
  for (let rest = Math.floor(distance / 128); rest > 0; ) {
    rest -= 1;
    into[i--] = 0x80 | (rest % 128);
    rest = Math.floor(rest / 128);
  }
  return length;
}

export interface ParsedOfsOffset {
  distance: number;
  length: number;
}

/** Parses an ofs-delta distance at buf[pos]; null when it runs past `end`. */
export function parseOfsDeltaOffset(buf: Buffer, pos: number, end: number = buf.length): ParsedOfsOffset | null {
  const o = { distance: 0, length: 0 };
  return readOfsDeltaOffset(buf, pos, end, o) ? o : null;
}

/** parseOfsDeltaOffset into `into`; false when it runs past `end`. */
export function readOfsDeltaOffset(buf: Buffer, pos: number, end: number, into: ParsedOfsOffset): boolean {
  if (pos >= end) return false;
  let c = buf[pos]!;
  let distance = c & 0x7f;
  let p = pos + 1;
  while (c & 0x80) {
    if (p >= end) return false;
    if (p - pos >= MAX_OFS_LENGTH) throw ofsTooLarge(pos);
    c = buf[p++]!;
    distance = (distance + 1) * 128 + (c & 0x7f);
    if (!Number.isSafeInteger(distance)) throw ofsTooLarge(pos);
  }
  into.distance = distance;
  into.length = p - pos;
  return true;
}

function ofsTooLarge(pos: number): GitgateError {
  return new GitgateError('BAD_PACK', { detail: `ofs-delta base distance at offset ${pos} is too large` });
}
