// Positional reads over a FileHandleLike that never return short (read() may).
import type { FileHandleLike } from './file-handle.js';
import { ByteLru, type BytePool } from './lru-cache.js';

/** Fills buf[offset, offset+length) from file position `position`; returns bytes read (short only at EOF). */
export async function readFully(
  handle: FileHandleLike,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, offset + done, length - done, position + done);
    if (bytesRead <= 0) break;
    done += bytesRead;
  }
  return done;
}

/** Reads exactly `length` bytes at `position`; `onShort` builds the error when the file ends first. */
export async function readRange(
  handle: FileHandleLike,
  position: number,
  length: number,
  onShort: (got: number) => Error,
): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  const got = await readFully(handle, buf, 0, length, position);
  if (got < length) throw onShort(got);
  return buf;
}

/** Writes all of buf at `position` (write() may be partial). */
export async function writeFully(handle: FileHandleLike, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`short write at position ${position + done}`);
    done += bytesWritten;
  }
}

/**
 * A sequential reader that keeps one window of the file in memory, so a scan can parse many
 * small entries synchronously and only await when it steps past the window.
 */
export class WindowReader {
  /** Bytes of the file starting at `windowStart`. */
  buf: Buffer = Buffer.alloc(0);
  windowStart = 0;

  constructor(
    private readonly handle: FileHandleLike,
    /** Reads never go past this file position. */
    readonly limit: number,
    private readonly windowSize: number,
  ) {}

  /** True when [pos, min(pos+length, limit)) is in the window. */
  has(pos: number, length: number): boolean {
    const end = Math.min(pos + length, this.limit);
    return pos >= this.windowStart && end <= this.windowStart + this.buf.length;
  }

  /** Loads a window starting at pos covering at least min(length, limit-pos) bytes. */
  async load(pos: number, length: number): Promise<void> {
    const size = Math.max(0, Math.min(Math.max(length, this.windowSize), this.limit - pos));
    // A fresh buffer each time: views handed out from the previous window stay valid.
    const buf = Buffer.allocUnsafe(size);
    const got = await readFully(this.handle, buf, 0, size, pos);
    this.buf = got < size ? buf.subarray(0, got) : buf;
    this.windowStart = pos;
  }

  async ensure(pos: number, length: number): Promise<void> {
    if (!this.has(pos, length)) await this.load(pos, length);
  }

  /** Up to `max` bytes from pos (fewer only at the limit); empty at or past the limit. */
  async chunk(pos: number, max: number): Promise<Buffer> {
    if (pos >= this.limit) return this.buf.subarray(0, 0);
    await this.ensure(pos, max);
    const from = pos - this.windowStart;
    return this.buf.subarray(from, Math.min(from + max, this.buf.length));
  }
}

interface Block {
  buf: Buffer;
  bytes: number;
}

/**
 * Random-access reads through an LRU of fixed-size blocks. A promise read on a FileHandle
 * costs tens of microseconds however small, so many small entry reads are served from a
 * few block reads instead. Reads much larger than a block bypass the cache. The blocks of
 * every reader given the same BytePool share its budget (pack-file.ts: packBlockPool).
 */
export class BlockReader {
  private readonly blocks: ByteLru<number, Block>;
  private readonly loading = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly handle: FileHandleLike,
    /** Reads past this position fail. */
    readonly size: number,
    private readonly blockSize = 64 * 1024,
    cache: number | BytePool = 8 * 1024 * 1024,
  ) {
    this.blocks = new ByteLru(cache);
  }

  /**
   * Exactly `length` bytes at `position`. May be a view into a cached block: copy it before
   * keeping it long or modifying it. `keep` false (a one-off read): a cached block serves it,
   * else just these bytes are read and no block is loaded.
   */
  async read(position: number, length: number, onShort: (got: number) => Error, keep = true): Promise<Buffer> {
    if (position < 0 || position + length > this.size) throw onShort(Math.max(0, this.size - position));
    if (length === 0) return Buffer.alloc(0);
    if (length > 4 * this.blockSize) return readRange(this.handle, position, length, onShort);
    const first = Math.floor(position / this.blockSize);
    const last = Math.floor((position + length - 1) / this.blockSize);
    if (!keep && !(first === last && this.blocks.get(first))) return readRange(this.handle, position, length, onShort);
    if (first === last) {
      const block = await this.block(first, onShort);
      const from = position - first * this.blockSize;
      return block.subarray(from, from + length);
    }
    const out = Buffer.allocUnsafe(length);
    for (let b = first; b <= last; b++) {
      const block = await this.block(b, onShort);
      const blockStart = b * this.blockSize;
      const from = Math.max(position, blockStart);
      const to = Math.min(position + length, blockStart + block.length);
      block.copy(out, from - position, from - blockStart, to - blockStart);
    }
    return out;
  }

  clear(): void {
    this.blocks.clear();
  }

  private async block(b: number, onShort: (got: number) => Error): Promise<Buffer> {
    const cached = this.blocks.get(b);
    if (cached) return cached.buf;
    let pending = this.loading.get(b);
    if (!pending) {
      const start = b * this.blockSize;
      pending = readRange(this.handle, start, Math.min(this.blockSize, this.size - start), onShort);
      this.loading.set(b, pending);
      pending.then(
        (block) => {
          this.loading.delete(b);
          this.blocks.set(b, { buf: block, bytes: block.length });
        },
        () => this.loading.delete(b),
      );
    }
    return pending;
  }
}
