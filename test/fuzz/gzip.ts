// gzip bodies for the fuzzer, including bombs: a unit of content compressed once as a
// stand-alone deflate block and repeated, so a 1 GiB stream costs ~1 MiB and is never held
// uncompressed. The gzip trailer (CRC-32, size) is computed honestly.
import zlib from 'node:zlib';

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
const cache = new Map<string, Buffer>();

/**
 * gzip of prefix + unit × times + suffix. `unit` should be about 1 MiB or less; the block is
 * reused `times` times, so the compressed size is roughly times × compressed(unit).
 */
export function gzipRepeat(prefix: Buffer, unit: Buffer, times: number, suffix: Buffer = Buffer.alloc(0), key?: string): Buffer {
  const k = key ? `${key}:${times}` : undefined;
  if (k && cache.has(k)) return cache.get(k)!;
  const flush = { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  const parts: Buffer[] = [GZIP_HEADER];
  let crc = 0;
  let size = 0;
  if (prefix.length) {
    parts.push(zlib.deflateRawSync(prefix, flush));
    crc = zlib.crc32(prefix, crc);
    size += prefix.length;
  }
  const block = zlib.deflateRawSync(unit, flush);
  for (let i = 0; i < times; i++) {
    parts.push(block);
    crc = zlib.crc32(unit, crc);
    size += unit.length;
  }
  parts.push(zlib.deflateRawSync(suffix)); // final block (possibly empty)
  crc = zlib.crc32(suffix, crc);
  size += suffix.length;
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size % 2 ** 32, 4);
  parts.push(trailer);
  const out = Buffer.concat(parts);
  if (k) cache.set(k, out);
  return out;
}

/** The same bytes as `gzipRepeat` but delivered in pieces (the client streams, chunked). */
export function* pieces(buf: Buffer, size = 64 * 1024): Generator<Buffer> {
  for (let off = 0; off < buf.length; off += size) yield buf.subarray(off, Math.min(buf.length, off + size));
}

/** Unit of `line` repeated to about `target` bytes (whole lines only). */
export function repeatLine(line: Buffer, target = 1024 * 1024): Buffer {
  const n = Math.max(1, Math.floor(target / line.length));
  return Buffer.concat(Array.from({ length: n }, () => line));
}
