// Git's delta format (gitformat-pack "Deltified representation"): two size varints, then
// copy-from-base and insert-literal instructions. Every range is checked, since deltas
// arrive from untrusted pushes.
import { constants as bufferConstants } from 'node:buffer';
import { GitgateError } from '../errors.js';
import { allocObject, objectHeaderLength } from './types.js';

/** The most output one delta byte can produce: a 4-byte copy of 0xffffff bytes. */
const MAX_OUTPUT_PER_DELTA_BYTE = 0x400000;
/** Below this, a byte loop beats Buffer#copy (which allocates a view per call). */
const SMALL_COPY = 64;

function bad(detail: string): GitgateError {
  return new GitgateError('BAD_PACK', { detail });
}

/** Reads a little-endian base-128 varint; returns [value, next position]. */
function readSize(delta: Buffer, pos: number, what: string): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= delta.length) throw bad(`delta is truncated in its ${what} size`);
    const c = delta[pos++]!;
    value += (c & 0x7f) * scale;
    if (!Number.isSafeInteger(value)) throw bad(`delta ${what} size is too large`);
    if (!(c & 0x80)) return [value, pos];
    scale *= 128;
  }
}

export function deltaSizes(delta: Buffer): { baseSize: number; resultSize: number } {
  const [baseSize, p] = readSize(delta, 0, 'base');
  const [resultSize] = readSize(delta, p, 'result');
  return { baseSize, resultSize };
}

export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  return applyDeltaAfter(base, delta, 0);
}

/**
 * applyDelta for a result of type `code` (1-4) in an allocObject buffer: "<type> <size>\0",
 * then the content at headerLength, so the result's id is one hash call (idInto). With `reuse`
 * large enough, the result is written into it (the object is then a prefix of it, not all).
 */
export function applyDeltaObject(base: Buffer, delta: Buffer, code: number, reuse?: Buffer): { object: Buffer; headerLength: number; size: number } {
  let headerLength = 0;
  let size = 0;
  const object = applyDeltaAfter(
    base,
    delta,
    code,
    (resultSize) => {
      size = resultSize;
      headerLength = objectHeaderLength(code, resultSize);
      return headerLength;
    },
    reuse,
  );
  return { object, headerLength, size };
}

function applyDeltaAfter(base: Buffer, delta: Buffer, code: number, headroom?: (resultSize: number) => number, reuse?: Buffer): Buffer {
  const [baseSize, p1] = readSize(delta, 0, 'base');
  const [resultSize, p2] = readSize(delta, p1, 'result');
  if (baseSize !== base.length) throw bad(`delta expects a base of ${baseSize} bytes but the base has ${base.length}`);
  // Refuse sizes the instructions could never produce before allocating for them.
  if (resultSize > (delta.length - p2) * MAX_OUTPUT_PER_DELTA_BYTE || resultSize > bufferConstants.MAX_LENGTH) {
    throw bad(`delta result size ${resultSize} is impossible for a ${delta.length}-byte delta`);
  }
  const start = headroom ? headroom(resultSize) : 0;
  const out = start > 0 ? allocObject(code, resultSize, start, reuse) : Buffer.allocUnsafe(resultSize);
  let o = start;
  const outEnd = start + resultSize;
  let p = p2;
  const end = delta.length;
  while (p < end) {
    const cmd = delta[p++]!;
    if (cmd & 0x80) {
      let offset = 0;
      let size = 0;
      // Optional little-endian bytes, present per flag bit; a missing byte is zero.
      if (cmd & 0x01) offset = delta[p++]!;
      if (cmd & 0x02) offset |= delta[p++]! << 8;
      if (cmd & 0x04) offset |= delta[p++]! << 16;
      if (cmd & 0x08) offset += delta[p++]! * 0x1000000; // may exceed 2^31: no bitwise or
      if (cmd & 0x10) size = delta[p++]!;
      if (cmd & 0x20) size |= delta[p++]! << 8;
      if (cmd & 0x40) size |= delta[p++]! << 16;
      if (p > end) throw bad('delta is truncated inside a copy instruction');
      if (size === 0) size = 0x10000;
      if (offset + size > base.length) {
        throw bad(`delta copies bytes ${offset}..${offset + size} from a ${base.length}-byte base`);
      }
      if (o + size > outEnd) throw bad(`delta writes past its declared result size ${resultSize}`);
      if (size < SMALL_COPY) {
        for (let k = 0; k < size; k++) out[o + k] = base[offset + k]!;
      } else {
        base.copy(out, o, offset, offset + size);
      }
      o += size;
    } else if (cmd !== 0) {
      if (p + cmd > end) throw bad('delta is truncated inside an insert instruction');
      if (o + cmd > outEnd) throw bad(`delta writes past its declared result size ${resultSize}`);
      for (let k = 0; k < cmd; k++) out[o + k] = delta[p + k]!; // at most 127 bytes
      p += cmd;
      o += cmd;
    } else {
      throw bad('delta uses the reserved instruction 0');
    }
  }
  if (o !== outEnd) throw bad(`delta produced ${o - start} bytes but declares ${resultSize}`);
  return out;
}
