// Random access to the objects of a stored .pack through its PackIndex. Delta chains are
// resolved base-first, and the bases met on the way are kept in a byte-bounded LRU so reading
// many objects of one chain does not inflate and apply the same bases again. The object asked
// for is kept too (a repack reads each object just before the deltas against it: keeping bases
// only made test/repo/repack.test.ts's geometric roll-up 38 s -> over 60 s); one-off reads
// (readAt keepBases false) keep nothing.
import zlib from 'node:zlib';
import { GitgateError, isGitgateError } from '../errors.js';
import { applyDelta, deltaSizes } from './delta.js';
import { parseEntryHeader, parseOfsDeltaOffset } from './entry-header.js';
import type { FileHandleLike } from './file-handle.js';
import { BlockReader, readRange } from './file-io.js';
import { lowerBound, type PackIndex } from './idx.js';
import { InflateError, SYNC_INFLATE_LIMIT, inflateExact, inflateStreaming } from './inflate.js';
import { ByteLru, BytePool } from './lru-cache.js';
import { oneOffBytes } from './low-memory.js';
import { PACK_HEADER_LENGTH, PACK_TRAILER_LENGTH, parsePackHeader } from './pack-header.js';
import {
  OBJ_OFS_DELTA,
  OBJ_REF_DELTA,
  OID_LENGTH,
  isDeltaCode,
  typeFromCode,
  type GitObject,
  type ObjectType,
} from './types.js';

export interface PackEntryInfo {
  typeCode: number;
  /** Inflated size of the entry's data: the object size, or for deltas the delta's size. */
  size: number;
  /** Bytes before the compressed data: type+size header plus any ofs distance or base oid. */
  headerLength: number;
  /** Offset of the entry (its first header byte). */
  start: number;
  /** Offset just past the entry's compressed data. */
  end: number;
  baseOffset?: number;
  baseOid?: Buffer;
}

export interface PackFileOptions {
  /** Byte budget of this pack's own resolved-object cache (default: a share of packObjectPool). */
  cacheBytes?: number;
  /** Byte budget of this pack's own cache of raw pack blocks (default: a share of packBlockPool). */
  blockCacheBytes?: number;
}

/** Longest delta chain followed before assuming ref-deltas form a cycle (Git caps depth at 4095). */
const MAX_DELTA_CHAIN = 10_000;
/** Entries up to this size are fetched with the header in one read. */
const WHOLE_ENTRY_READ_LIMIT = 256 * 1024;
const HEADER_READ_LENGTH = 32;
const STREAM_CHUNK = 1024 * 1024;

interface CachedObject {
  type: ObjectType;
  content: Buffer;
  bytes: number;
}

interface LocatedEntry extends PackEntryInfo {
  /** The whole entry's bytes, when it was small enough to read with its header. */
  raw?: Buffer;
}

function corrupt(detail: string): GitgateError {
  return new GitgateError('CORRUPT_REPO', { detail });
}

/** Errors from the shared codecs say BAD_PACK; for a stored pack they mean a corrupt repository. */
function asCorrupt(err: unknown): unknown {
  if (isGitgateError(err, 'BAD_PACK')) return new GitgateError('CORRUPT_REPO', err.params, { cause: err });
  if (err instanceof InflateError) return corrupt(err.message);
  return err;
}

/**
 * Resolved objects (delta bases above all) of every open pack of every repository share this
 * budget (GITGATE_PACK_CACHE_BYTES), least recently used first out. Empty until the
 * configuration sizes it (service/cache-budgets.ts; the repack worker takes its parent's).
 */
export const packObjectPool = new BytePool(0);

/**
 * Raw 64 KiB blocks of every open pack share this budget (GITGATE_PACK_BLOCK_CACHE_BYTES): a
 * fixed cache per pack made memory grow with the number of packs open.
 */
export const packBlockPool = new BytePool(16 * 1024 * 1024, 1);

export class PackFile {
  readonly index: PackIndex;
  private readonly handle: FileHandleLike;
  private readonly packSize: number;
  private readonly cache: ByteLru<number, CachedObject>;
  private readonly blocks: BlockReader;
  private isClosed = false;
  private readonly closers: (() => void)[] = [];

  private constructor(handle: FileHandleLike, index: PackIndex, packSize: number, opts: PackFileOptions) {
    this.handle = handle;
    this.index = index;
    this.packSize = packSize;
    this.cache = new ByteLru(opts.cacheBytes ?? packObjectPool);
    this.blocks = new BlockReader(handle, packSize, 64 * 1024, opts.blockCacheBytes ?? packBlockPool);
  }

  static async open(handle: FileHandleLike, index: PackIndex, opts: PackFileOptions = {}): Promise<PackFile> {
    const { size } = await handle.stat();
    if (size < PACK_HEADER_LENGTH + PACK_TRAILER_LENGTH) throw corrupt(`pack file too short (${size} bytes)`);
    const short = () => corrupt('pack file shorter than its size');
    const header = parsePackHeader(await readRange(handle, 0, PACK_HEADER_LENGTH, short));
    if ('problem' in header) throw corrupt(`pack ${header.problem}`);
    if (header.count !== index.count) {
      throw corrupt(`pack holds ${header.count} objects but its index lists ${index.count}`);
    }
    const trailer = await readRange(handle, size - PACK_TRAILER_LENGTH, PACK_TRAILER_LENGTH, short);
    if (!trailer.equals(index.packChecksum)) throw corrupt('pack checksum does not match its index');
    const offsets = index.sortedOffsets();
    for (let i = 0; i < offsets.length; i++) {
      const offset = offsets[i]!;
      if (offset < PACK_HEADER_LENGTH || offset >= size - PACK_TRAILER_LENGTH || (i > 0 && offset <= offsets[i - 1]!)) {
        throw corrupt(`pack index lists an impossible offset ${offset}`);
      }
    }
    return new PackFile(handle, index, size, opts);
  }

  has(oid: Buffer): boolean {
    return this.index.find(oid) >= 0;
  }

  /** The object, or null when it is not in this pack. The content is shared with the cache: do not modify it. */
  async read(oid: Buffer): Promise<GitObject | null> {
    const offset = this.index.offsetOf(oid);
    return offset < 0 ? null : this.readAt(offset);
  }

  /**
   * The object at `offset`. `keepBases` false: a one-off read (an object sent whole to a client)
   * uses cached bases and blocks but adds none: a `--depth 1` clone of git.git reads 2,661 such
   * objects, whose chains share almost nothing; caching their bases and 64 KiB blocks only
   * filled the budgets and left the evicted buffers as old-generation garbage (peak RSS).
   * What such a read allocates (entries read, deltas inflated, the chain's objects, the result,
   * which its caller drops once sent) is reported (pack/low-memory.ts, oneOffBytes), so that
   * garbage is collected every few MiB, not after V8's own 64 MiB of external growth.
   */
  async readAt(offset: number, keepBases = true): Promise<GitObject> {
    try {
      const { type, content } = await this.resolve(offset, keepBases);
      return { type, content };
    } catch (err) {
      throw asCorrupt(err);
    }
  }

  async readType(oid: Buffer): Promise<{ type: ObjectType; size: number } | null> {
    const offset = this.index.offsetOf(oid);
    if (offset < 0) return null;
    try {
      const cached = this.cache.get(offset);
      if (cached) return { type: cached.type, size: cached.content.length };
      const entry = await this.locate(offset, false);
      if (!isDeltaCode(entry.typeCode)) return { type: typeFromCode(entry.typeCode), size: entry.size };
      const size = await this.deltaResultSize(entry);
      let at = this.baseOffsetOf(entry);
      for (let depth = 0; depth < MAX_DELTA_CHAIN; depth++) {
        const hit = this.cache.get(at);
        if (hit) return { type: hit.type, size };
        const base = await this.locate(at, false);
        if (!isDeltaCode(base.typeCode)) return { type: typeFromCode(base.typeCode), size };
        at = this.baseOffsetOf(base);
      }
      throw corrupt(`delta chain from offset ${offset} is too long (cycle?)`);
    } catch (err) {
      throw asCorrupt(err);
    }
  }

  async entryAt(offset: number): Promise<PackEntryInfo> {
    try {
      const { raw: _raw, ...info } = await this.locate(offset, false);
      return info;
    } catch (err) {
      throw asCorrupt(err);
    }
  }

  /** Header and compressed data exactly as stored, for copying the entry verbatim into another pack. */
  async rawEntry(offset: number): Promise<Buffer> {
    try {
      const entry = await this.locate(offset, false);
      // A copy: a view would pin a whole cached block for as long as the caller keeps it.
      return Buffer.from(await this.readBytes(entry.start, entry.end - entry.start));
    } catch (err) {
      throw asCorrupt(err);
    }
  }

  /** Size of the pack file in bytes, header and trailer included. */
  get size(): number {
    return this.packSize;
  }

  /** Copy `length` bytes of the file at `position` into `into` at `offset` (no caching). */
  async readInto(into: Buffer, offset: number, length: number, position: number): Promise<void> {
    if (position < 0 || position + length > this.packSize) throw new RangeError(`read past the end of the pack (${position}+${length})`);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(into, offset + done, length - done, position + done);
      if (bytesRead <= 0) throw corrupt('pack file shorter than its size');
      done += bytesRead;
    }
  }

  /**
   * Every entry of the pack, verbatim and in stored order (the body between header and trailer).
   * Chunks are lent: one buffer is read into again once the next chunk is asked for.
   */
  bodyStream(chunkSize = 1024 * 1024): AsyncGenerator<Buffer> {
    return this.rangeStream(PACK_HEADER_LENGTH, this.packSize - PACK_TRAILER_LENGTH, chunkSize);
  }

  /** The whole pack file, header and trailer included, in lent chunks like bodyStream(). */
  fileStream(chunkSize = 1024 * 1024): AsyncGenerator<Buffer> {
    return this.rangeStream(0, this.packSize, chunkSize);
  }

  private async *rangeStream(start: number, end: number, chunkSize: number): AsyncGenerator<Buffer> {
    const buf = Buffer.allocUnsafe(Math.max(0, Math.min(chunkSize, end - start)));
    for (let pos = start; pos < end; ) {
      const n = Math.min(chunkSize, end - pos);
      await this.readInto(buf, 0, n, pos);
      pos += n;
      yield buf.subarray(0, n);
    }
  }

  /** rawEntry in chunks read straight from the file, for entries too large to hold in memory. */
  async *rawEntryStream(offset: number, chunkSize = 256 * 1024): AsyncGenerator<Buffer> {
    let entry: LocatedEntry;
    try {
      entry = await this.locate(offset, false);
    } catch (err) {
      throw asCorrupt(err);
    }
    for (let pos = entry.start; pos < entry.end; ) {
      const n = Math.min(chunkSize, entry.end - pos);
      const buf = Buffer.allocUnsafe(n);
      const { bytesRead } = await this.handle.read(buf, 0, n, pos);
      if (bytesRead !== n) throw corrupt(`pack file shorter than its index says (entry at ${offset})`);
      pos += n;
      yield buf;
    }
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Call `fn` when the pack is closed (caches kept elsewhere let go of it). */
  onClose(fn: () => void): void {
    this.closers.push(fn);
  }

  async close(): Promise<void> {
    this.isClosed = true;
    for (const fn of this.closers.splice(0)) fn();
    this.cache.clear();
    this.blocks.clear();
    await Promise.all([this.handle.close(), this.index.close()]);
  }

  private async resolve(offset: number, keepBases = true): Promise<CachedObject> {
    const hit = this.cache.get(offset);
    if (hit) return hit;
    // Walk down to a non-delta (or cached) base, then apply the deltas back up.
    const deltas: LocatedEntry[] = [];
    let base: CachedObject | undefined;
    let at = offset;
    // bytes a one-off read allocated and nothing keeps (see readAt)
    let transient = 0;
    while (!base) {
      const entry = await this.locate(at, true, keepBases);
      transient += entry.raw?.length ?? 0;
      if (!isDeltaCode(entry.typeCode)) {
        const content = await this.inflateEntry(entry, keepBases);
        base = { type: typeFromCode(entry.typeCode), content, bytes: content.length };
        if (keepBases) this.cache.set(at, base);
        else transient += content.length;
        break;
      }
      deltas.push(entry);
      if (deltas.length > MAX_DELTA_CHAIN) throw corrupt(`delta chain from offset ${offset} is too long (cycle?)`);
      at = this.baseOffsetOf(entry);
      base = this.cache.get(at);
    }
    for (let i = deltas.length - 1; i >= 0; i--) {
      const entry = deltas[i]!;
      const delta = await this.inflateEntry(entry, keepBases);
      const content = applyDelta(base.content, delta);
      base = { type: base.type, content, bytes: content.length };
      if (keepBases) this.cache.set(entry.start, base);
      else transient += delta.length + content.length;
    }
    if (!keepBases) oneOffBytes(transient);
    return base;
  }

  private baseOffsetOf(entry: PackEntryInfo): number {
    if (entry.baseOffset !== undefined) return entry.baseOffset;
    const offset = this.index.offsetOf(entry.baseOid!);
    if (offset < 0) {
      throw corrupt(`ref-delta at offset ${entry.start} has its base ${entry.baseOid!.toString('hex')} outside the pack`);
    }
    return offset;
  }

  /** Parses the entry at `offset`, which must be one the index lists; `withData` also fetches small entries whole. */
  private async locate(offset: number, withData: boolean, keepBlocks = true): Promise<LocatedEntry> {
    const offsets = this.index.sortedOffsets();
    const i = lowerBound(offsets, offset);
    if (i >= offsets.length || offsets[i] !== offset) throw corrupt(`no object starts at pack offset ${offset}`);
    const end = i + 1 < offsets.length ? offsets[i + 1]! : this.packSize - PACK_TRAILER_LENGTH;
    const length = end - offset;
    const whole = withData && length <= WHOLE_ENTRY_READ_LIMIT;
    const buf = await this.readBytes(offset, whole ? length : Math.min(length, HEADER_READ_LENGTH), keepBlocks);
    const header = parseEntryHeader(buf, 0);
    if (!header) throw corrupt(`entry header at offset ${offset} is truncated`);
    const entry: LocatedEntry = { typeCode: header.typeCode, size: header.size, headerLength: header.length, start: offset, end };
    if (header.typeCode === OBJ_OFS_DELTA) {
      const ofs = parseOfsDeltaOffset(buf, header.length);
      if (!ofs) throw corrupt(`ofs-delta at offset ${offset} is truncated`);
      if (ofs.distance > offset - PACK_HEADER_LENGTH) throw corrupt(`ofs-delta at offset ${offset} points before the pack start`);
      entry.baseOffset = offset - ofs.distance;
      entry.headerLength += ofs.length;
    } else if (header.typeCode === OBJ_REF_DELTA) {
      if (buf.length < header.length + OID_LENGTH) throw corrupt(`ref-delta at offset ${offset} is truncated`);
      entry.baseOid = Buffer.from(buf.subarray(header.length, header.length + OID_LENGTH));
      entry.headerLength += OID_LENGTH;
    } else {
      typeFromCode(header.typeCode); // rejects 0 and 5
    }
    if (entry.headerLength > length) throw corrupt(`entry at offset ${offset} is truncated`);
    if (whole) entry.raw = buf;
    return entry;
  }

  /** The entry's data inflated: the object content, or the delta for delta entries. */
  private async inflateEntry(entry: LocatedEntry, keepBlocks = true): Promise<Buffer> {
    const dataStart = entry.start + entry.headerLength;
    const compressedLength = entry.end - dataStart;
    try {
      if (entry.size <= SYNC_INFLATE_LIMIT && compressedLength <= 2 * SYNC_INFLATE_LIMIT) {
        const input =
          entry.raw?.subarray(entry.headerLength) ?? (await this.readBytes(dataStart, compressedLength, keepBlocks));
        return inflateExact(input, entry.size).data;
      }
      // Large: read the compressed bytes a chunk at a time into one output buffer.
      const out = Buffer.allocUnsafe(entry.size);
      let written = 0;
      let pos = dataStart;
      await inflateStreaming(
        async () => {
          const n = Math.min(STREAM_CHUNK, entry.end - pos);
          if (n <= 0) return Buffer.alloc(0);
          const chunk = await this.readBytes(pos, n, keepBlocks);
          pos += n;
          return chunk;
        },
        entry.size,
        (chunk) => {
          chunk.copy(out, written);
          written += chunk.length;
        },
      );
      return out;
    } catch (err) {
      if (err instanceof InflateError) throw corrupt(`object at pack offset ${entry.start}: ${err.message}`);
      throw err;
    }
  }

  /** `keepBlocks` false: blocks not cached yet are not loaded, just these bytes read. */
  private readBytes(position: number, length: number, keepBlocks = true): Promise<Buffer> {
    return this.blocks.read(position, length, () => corrupt('pack file truncated'), keepBlocks);
  }

  /** Reads just enough of a delta to decode its result size, without applying it. */
  private async deltaResultSize(entry: PackEntryInfo): Promise<number> {
    const dataStart = entry.start + entry.headerLength;
    const available = entry.end - dataStart;
    for (let want = 64; ; want *= 8) {
      const n = Math.min(want, available);
      const prefix = await this.readBytes(dataStart, n);
      let head: Buffer;
      try {
        // SYNC_FLUSH as the final flush accepts a cut-off stream and returns what it decodes.
        head = zlib.inflateSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      } catch (err) {
        throw corrupt(`delta at pack offset ${entry.start}: bad zlib data (${(err as Error).message})`);
      }
      try {
        return deltaSizes(head).resultSize;
      } catch (err) {
        if (n >= available) throw err;
      }
    }
  }
}
