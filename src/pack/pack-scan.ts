// Indexer pass 2: parse every entry of a spooled pack in order through an in-memory window,
// inflating small entries synchronously and streaming large ones, hashing whole objects and
// CRC-ing every entry's raw bytes. Deltas are only checked here; DeltaResolver applies them.
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { GitgateError } from '../errors.js';
import { parseEntryHeader, parseOfsDeltaOffset } from './entry-header.js';
import { EntryTable } from './entry-table.js';
import type { FileHandleLike } from './file-handle.js';
import { WindowReader } from './file-io.js';
import type { ObjectSink } from './object-sink.js';
import { InflateError, SYNC_INFLATE_LIMIT, compressedBound, inflateExact, inflateInto, inflateStreaming } from './inflate.js';
import { transientBytes } from './low-memory.js';
import { PACK_HEADER_LENGTH, PACK_TRAILER_LENGTH } from './pack-header.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, OID_LENGTH, allocObject, idInto, objectHeader, objectHeaderLength, typeFromCode } from './types.js';

/** Window the scan parses from; entries larger than it are loaded whole or streamed. */
const SCAN_WINDOW = 8 * 1024 * 1024;
/** Longest type+size header plus ofs distance or base oid. */
const MAX_HEADER_BYTES = 32;
/** Inflated data kept from the scan so delta resolution need not read and inflate it again. */
const RETAIN_BUDGET = 24 * 1024 * 1024;
const STREAM_CHUNK = 1024 * 1024;

function bad(detail: string): GitgateError {
  return new GitgateError('BAD_PACK', { detail });
}

/** Pass 2: parse every entry of the spooled pack, in order. */
export async function scanPack(handle: FileHandleLike, fileSize: number, count: number, sink: ObjectSink): Promise<EntryTable> {
  // the count is the client's word: room grows with what actually arrives
  const table = new EntryTable(Math.min(count, Math.ceil(fileSize / 16)));
  const dataEnd = fileSize - PACK_TRAILER_LENGTH;
  // The reader may run into the trailer: an entry doing so means the stream was cut short.
  const reader = new WindowReader(handle, fileSize, SCAN_WINDOW);
  const truncated = (complete: number) =>
    bad(
      complete < count
        ? `truncated pack: expected ${count} objects, stream ended after ${complete}`
        : `truncated pack: stream ended inside the trailer after all ${count} objects`,
    );
  let retainedBytes = 0;
  let pos = PACK_HEADER_LENGTH;

  for (let i = 0; i < count; i++) {
    if (pos >= dataEnd) throw truncated(i);
    await reader.ensure(pos, MAX_HEADER_BYTES);
    let buf = reader.buf;
    let rel = pos - reader.windowStart;
    const header = parseEntryHeader(buf, rel);
    if (!header) throw truncated(i);
    const { typeCode, size } = header;
    let headerLength = header.length;
    let baseIndex = -1;
    let baseOid: Buffer | undefined;
    if (typeCode === OBJ_OFS_DELTA) {
      const ofs = parseOfsDeltaOffset(buf, rel + headerLength);
      if (!ofs) throw truncated(i);
      const baseOffset = pos - ofs.distance;
      if (baseOffset < PACK_HEADER_LENGTH) throw bad(`ofs-delta at offset ${pos} points before the start of the pack`);
      baseIndex = table.findByOffset(baseOffset, i);
      if (baseIndex < 0) throw bad(`ofs-delta at offset ${pos} points to offset ${baseOffset}, where no earlier object starts`);
      headerLength += ofs.length;
    } else if (typeCode === OBJ_REF_DELTA) {
      if (rel + headerLength + OID_LENGTH > buf.length) throw truncated(i);
      baseOid = Buffer.from(buf.subarray(rel + headerLength, rel + headerLength + OID_LENGTH));
      headerLength += OID_LENGTH;
    } else if (typeCode < 1 || typeCode > 4) {
      throw bad(`unknown object type ${typeCode} at offset ${pos}`);
    }
    const isDelta = baseIndex >= 0 || baseOid !== undefined;
    const dataStart = pos + headerLength;
    const describe = () => `${isDelta ? 'delta' : typeFromCode(typeCode)} at offset ${pos} (declared size ${size})`;

    let consumed = -1;
    let crc = 0;
    let kept: Buffer | undefined;
    let whole: Buffer | null = null;
    table.reserve(i);
    if (size <= SYNC_INFLATE_LIMIT) {
      // Common case: the whole entry sits in the window; inflate it in one synchronous call.
      const bound = compressedBound(size);
      if (!reader.has(dataStart, bound)) {
        await reader.load(pos, headerLength + bound);
        buf = reader.buf;
        rel = pos - reader.windowStart;
      }
      const inputEnd = Math.min(rel + headerLength + bound, buf.length);
      try {
        const input = buf.subarray(rel + headerLength, inputEnd);
        let data: Buffer;
        if (isDelta) {
          const inflated = inflateExact(input, size);
          data = inflated.data;
          consumed = inflated.consumed;
        } else {
          // header in front of the content: the id is one hash call
          const h = objectHeaderLength(typeCode, size);
          const object = allocObject(typeCode, size, h);
          consumed = inflateInto(input, object, h, size);
          idInto(object, h, size, table.oids, i * OID_LENGTH);
          data = whole = object.subarray(h, h + size);
        }
        const n = consumed;
        crc = zlib.crc32(buf.subarray(rel, rel + headerLength + n));
        if (retainedBytes + size <= RETAIN_BUDGET) {
          kept = data;
          retainedBytes += size;
        } else {
          transientBytes(size);
        }
      } catch (err) {
        if (!(err instanceof InflateError)) throw err;
        const moreAvailable = reader.windowStart + inputEnd < fileSize;
        // A stream longer than any real encoder writes: let the streaming path find its end.
        if (err.problem !== 'truncated' || !moreAvailable) throw inflateFailure(err, describe(), () => truncated(i));
      }
    }
    if (consumed < 0) {
      // Large (or oddly encoded) entry: stream it, hashing as it inflates.
      const headerBytes = buf.subarray(rel, rel + headerLength);
      crc = zlib.crc32(headerBytes);
      const hasher = isDelta ? undefined : createHash('sha1').update(objectHeader(typeFromCode(typeCode), size));
      let feedPos = dataStart;
      let previous: Buffer | undefined;
      try {
        consumed = await inflateStreaming(
          async () => {
            // Only asked for more once everything fed so far was consumed: CRC it whole.
            if (previous) crc = zlib.crc32(previous, crc);
            previous = await reader.chunk(feedPos, STREAM_CHUNK);
            feedPos += previous.length;
            return previous;
          },
          size,
          (out) => hasher?.update(out),
        );
      } catch (err) {
        if (err instanceof InflateError) throw inflateFailure(err, describe(), () => truncated(i));
        throw err;
      }
      if (previous) crc = zlib.crc32(previous.subarray(0, dataStart + consumed - (feedPos - previous.length)), crc);
      hasher?.digest().copy(table.oids, i * OID_LENGTH);
    }

    const end = dataStart + consumed;
    if (end > dataEnd) throw truncated(i + 1);
    table.add(pos, dataStart, end, typeCode, size, crc, baseIndex, baseOid, isDelta ? 0 : typeCode, kept);
    if (!isDelta) {
      const wait = sink.deliver(i, table.oidAt(i), typeCode, whole);
      if (wait) await wait;
    }
    pos = end;
  }
  if (pos < dataEnd) throw bad(`${dataEnd - pos} bytes of trailing data after the pack trailer`);
  return table;
}

function inflateFailure(err: InflateError, what: string, truncated: () => GitgateError): GitgateError {
  switch (err.problem) {
    case 'truncated':
      return truncated();
    case 'corrupt':
      return bad(`${what}: ${err.message}`);
    default:
      return bad(`${what}: ${err.message}, so its size does not match its header`);
  }
}

