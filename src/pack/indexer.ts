// Streaming indexer for received packs, like `git index-pack --stdin --fix-thin`:
//  1. spool the stream to the output file (bounded memory), checking header, size and trailer;
//  2. scan the file once through an in-memory window: inflate every entry (synchronously
//     when small, streamed when large), hash whole objects, CRC every entry;
//  3. resolve deltas depth-first from each whole object, hashing the results;
//  4. thin packs: append the missing ref-delta bases, fix the count and the trailer;
//  5. reject duplicates and write the .idx.
import { createHash } from 'node:crypto';
import { GitgateError } from '../errors.js';
import { DeltaResolver } from './delta-resolver.js';
import type { FileHandleLike } from './file-handle.js';
import { readFully, writeFully } from './file-io.js';
import { encodePackIndex, oidOrder } from './idx.js';
import { PACK_TRAILER_LENGTH } from './pack-header.js';
import { ObjectSink, type OnObject } from './object-sink.js';
import { scanPack } from './pack-scan.js';
import { spoolPack } from './spool.js';
import { OID_LENGTH, typeFromCode, type BaseLookup, type ObjectType } from './types.js';

const REHASH_CHUNK = 8 * 1024 * 1024;

function bad(detail: string): GitgateError {
  return new GitgateError('BAD_PACK', { detail });
}

export interface IndexPackOptions {
  /** Pack bytes as they arrive, any chunking. */
  input: AsyncIterable<Buffer>;
  /** Opened 'w+' on a temporary path; receives the (completed) pack. The caller syncs it. */
  output: FileHandleLike;
  /** Bases of ref-deltas that are not in the pack (thin pack); they are appended to it. */
  lookupBase?: BaseLookup;
  /** PACK_TOO_LARGE once the stream exceeds this many bytes. */
  maxBytes?: number;
  /** BAD_PACK when the header announces more objects. */
  maxObjects?: number;
  /** Once the whole stream is spooled: its size in bytes and announced count, before any object is parsed. */
  onSpooled?: (bytes: number, count: number) => void;
  /** Each object of the pack, as soon as its id and content are known (checks while indexing). */
  onObject?: OnObject;
  /** The type codes onObject is called for (all when absent). */
  onObjectTypes?: readonly number[];
}

export interface IndexedObject {
  oid: Buffer;
  type: ObjectType;
  offset: number;
  crc: number;
}

export interface IndexPackResult {
  packChecksum: Buffer;
  idx: Buffer;
  /** Objects in pack order, appended bases last: `count` of them, ids at oids[20i]. */
  count: number;
  oids: Buffer;
  /** Pack offset of each object. */
  offsets: ArrayLike<number>;
  /** The objects as records (built on first use: an object each costs memory on big packs). */
  readonly objects: IndexedObject[];
  appendedBases: number;
  packSize: number;
  /** Delta trees resolved out of pack order while onObject's consumer was backed up. */
  resolvedOutOfTurn: number;
}

export async function indexPack(opts: IndexPackOptions): Promise<IndexPackResult> {
  const { output } = opts;
  const spooled = await spoolPack(opts.input, output, { maxBytes: opts.maxBytes, maxObjects: opts.maxObjects });
  opts.onSpooled?.(spooled.size, spooled.count);
  const sink = new ObjectSink(opts.onObject, opts.onObjectTypes && new Set(opts.onObjectTypes));
  const entries = await scanPack(output, spooled.size, spooled.count, sink);
  if (!spooled.digest.equals(spooled.trailer)) throw bad('pack checksum mismatch');

  const resolver = new DeltaResolver(output, entries, spooled.size, sink);
  await resolver.resolveInPack();
  const appendedBases = await resolver.resolveThin(opts.lookupBase, spooled.size - PACK_TRAILER_LENGTH);
  await sink.drain();

  let packChecksum = spooled.trailer;
  let packSize = spooled.size;
  if (appendedBases > 0) {
    const end = entries.end[entries.length - 1]!;
    packChecksum = await rewriteHeaderAndTrailer(output, entries.length, end);
    packSize = end + PACK_TRAILER_LENGTH;
  }

  const count = entries.length;
  const cols = { count, oids: entries.oids, offsets: entries.offset, crcs: entries.crc };
  const order = oidOrder(entries.oids, count);
  for (let k = 1; k < count; k++) {
    const a = order[k - 1]! * OID_LENGTH;
    const b = order[k]! * OID_LENGTH;
    if (entries.oids.compare(entries.oids, a, a + OID_LENGTH, b, b + OID_LENGTH) === 0) {
      throw bad(`duplicate object ${entries.oids.toString('hex', b, b + OID_LENGTH)}`);
    }
  }
  const idx = encodePackIndex(cols, order, packChecksum);
  let objects: IndexedObject[] | undefined;
  return {
    packChecksum,
    idx,
    count,
    oids: entries.oids,
    offsets: entries.offset,
    get objects() {
      objects ??= Array.from({ length: count }, (_, i) => ({
        oid: entries.oidAt(i),
        type: typeFromCode(entries.type[i]!),
        offset: entries.offset[i]!,
        crc: entries.crc[i]!,
      }));
      return objects;
    },
    appendedBases,
    packSize,
    resolvedOutOfTurn: resolver.outOfTurn,
  };
}

/** After appending bases: store the new object count and recompute the trailer over the whole file. */
async function rewriteHeaderAndTrailer(handle: FileHandleLike, count: number, end: number): Promise<Buffer> {
  const countBytes = Buffer.alloc(4);
  countBytes.writeUInt32BE(count);
  await writeFully(handle, countBytes, 8);
  const hash = createHash('sha1');
  const buf = Buffer.allocUnsafe(Math.min(REHASH_CHUNK, end));
  for (let pos = 0; pos < end; ) {
    const n = await readFully(handle, buf, 0, Math.min(buf.length, end - pos), pos);
    if (n <= 0) throw new Error(`pack file shrank while indexing (offset ${pos})`);
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  const checksum = hash.digest();
  await writeFully(handle, checksum, end);
  return checksum;
}
