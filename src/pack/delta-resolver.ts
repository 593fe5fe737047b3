// Indexer pass 3: resolve every delta depth-first from the whole object at the root of its
// chain, hashing each result; then, for thin packs, append the missing ref-delta bases.
import zlib from 'node:zlib';
import { GitgateError, isGitgateError } from '../errors.js';
import { applyDeltaObject } from './delta.js';
import { encodeEntryHeader } from './entry-header.js';
import type { EntryTable } from './entry-table.js';
import type { ObjectSink } from './object-sink.js';
import type { FileHandleLike } from './file-handle.js';
import { BlockReader, writeFully } from './file-io.js';
import { SYNC_INFLATE_LIMIT, inflateExact, inflateStreaming } from './inflate.js';
import { transientBytes } from './low-memory.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, OID_LENGTH, codeFromType, hashObject, idInto, type BaseLookup, type ObjectType } from './types.js';

const STREAM_CHUNK = 1024 * 1024;
/** The reused buffer for leaves; larger ones get their own. */
const SCRATCH_BYTES = 1024 * 1024;

function bad(detail: string): GitgateError {
  return new GitgateError('BAD_PACK', { detail });
}

interface Frame {
  content: Buffer;
  children: number[];
  next: number;
}

/** Pass 3: every delta is resolved depth-first from the whole object at the root of its chain. */
export class DeltaResolver {
  /** ofs-delta children as linked lists: first child per entry, next sibling per child. */
  private readonly firstChild: Int32Array;
  private readonly nextSibling: Int32Array;
  /** Unresolved ref-deltas by base oid (latin1 string key). */
  private readonly waiting = new Map<string, number[]>();
  private appendAt = 0;
  /** Roots resolved (set while resolving in pack order), the next candidate for side work. */
  private done: Uint8Array | null = null;
  private early = 0;
  private inSideWork = false;
  private scratch: Buffer | undefined;
  /** Roots resolved out of turn (diagnostics, tests). */
  outOfTurn = 0;
  /** Re-reads of entries not retained from the scan: bases and deltas cluster, so blocks get reused. */
  private readonly blocks: BlockReader;

  constructor(
    private readonly handle: FileHandleLike,
    private readonly table: EntryTable,
    fileSize: number,
    /** Takes each resolved object of the pack (not appended bases). */
    private readonly sink: ObjectSink,
  ) {
    this.blocks = new BlockReader(handle, fileSize, 64 * 1024, 8 * 1024 * 1024);
    const n = table.length;
    // typed: 4 bytes an entry (git.git's 850k: 6.8 MB for both), where number arrays took 8 or more
    this.firstChild = new Int32Array(n).fill(-1);
    this.nextSibling = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      const base = table.baseIndex[i]!;
      const baseOid = base >= 0 ? undefined : table.baseOid(i);
      if (base >= 0) {
        this.nextSibling[i] = this.firstChild[base]!;
        this.firstChild[base] = i;
      } else if (baseOid) {
        const key = baseOid.toString('latin1');
        const list = this.waiting.get(key);
        if (list) list.push(i);
        else this.waiting.set(key, [i]);
      }
    }
  }

  /**
   * Roots (whole objects, whose oid the scan computed) in pack order. While the sink is backed
   * up, roots of types it does not want are resolved out of turn (see sideWork).
   */
  async resolveInPack(): Promise<void> {
    const n = this.table.length;
    this.done = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (this.done[i] || !this.isRoot(i)) continue;
      this.done[i] = 1;
      await this.resolveRoot(i);
    }
  }

  /**
   * Instead of waiting for a backed-up sink, resolve whole delta trees it does not look at,
   * from roots not reached yet: C Git's packs put all trees before all blobs, so in pack order
   * a check thread busy with trees would leave this thread idle, then idle itself.
   */
  private async sideWork(): Promise<void> {
    const { table, sink, done } = this;
    if (this.inSideWork || !done) return;
    this.inSideWork = true;
    try {
      while (sink.backedUp && this.early < table.length) {
        const j = this.early++;
        if (done[j] || !this.isRoot(j) || sink.wants(table.type[j]!)) continue;
        done[j] = 1;
        this.outOfTurn++;
        await this.resolveRoot(j);
      }
    } finally {
      this.inSideWork = false;
    }
  }

  private isRoot(i: number): boolean {
    const code = this.table.code[i];
    return code !== OBJ_OFS_DELTA && code !== OBJ_REF_DELTA;
  }

  private async resolveRoot(i: number): Promise<void> {
    const { table } = this;
    const children = this.takeChildren(i);
    const retained = table.takeRetained(i);
    if (children.length === 0) return;
    const content = retained ?? (await this.loadData(i));
    await this.resolveFrom(content, table.type[i]!, children);
  }

  /**
   * Thin pack: fetch each missing base, append it as a whole object, resolve its deltas.
   * A base the lookup does not know may still come out of a delta resolved from another
   * appended base, so passes repeat while they make progress.
   */
  async resolveThin(lookupBase: BaseLookup | undefined, appendAt: number): Promise<number> {
    this.appendAt = appendAt;
    let appended = 0;
    for (let progress = true; progress && this.waiting.size > 0; ) {
      progress = false;
      for (const key of [...this.waiting.keys()]) {
        const children = this.waiting.get(key);
        if (!children || !lookupBase) continue; // resolved meanwhile, or nothing to ask
        const oid = Buffer.from(key, 'latin1');
        const base = await lookupBase(oid);
        if (!base) continue;
        const actual = hashObject(base.type, base.content);
        if (!actual.equals(oid)) {
          throw new GitgateError('CORRUPT_REPO', { detail: `object ${oid.toString('hex')} hashes to ${actual.toString('hex')}` });
        }
        this.waiting.delete(key);
        await this.append(oid, base.type, base.content);
        appended++;
        progress = true;
        await this.resolveFrom(base.content, codeFromType(base.type), children);
      }
    }
    for (const [key, children] of this.waiting) {
      const hex = Buffer.from(key, 'latin1').toString('hex');
      throw bad(`missing delta base ${hex} (for the delta at offset ${this.table.offset[children[0]!]})`);
    }
    return appended;
  }

  private async append(oid: Buffer, type: ObjectType, content: Buffer): Promise<void> {
    const code = codeFromType(type);
    const header = encodeEntryHeader(code, content.length);
    const bytes = Buffer.concat([header, zlib.deflateSync(content)]);
    await writeFully(this.handle, bytes, this.appendAt);
    const { table } = this;
    const i = table.add(this.appendAt, this.appendAt + header.length, this.appendAt + bytes.length, code, content.length, zlib.crc32(bytes), -1, undefined, code, undefined);
    oid.copy(table.oids, i * OID_LENGTH);
    this.appendAt += bytes.length;
  }

  /** ofs-delta children plus ref-deltas waiting for this entry's (now known) oid. */
  private takeChildren(i: number): number[] {
    const children: number[] = [];
    // appended bases (i past the table's first length) have no ofs-delta children
    for (let c = i < this.firstChild.length ? this.firstChild[i]! : -1; c >= 0; c = this.nextSibling[c]!) children.push(c);
    const key = this.table.oids.toString('latin1', i * OID_LENGTH, (i + 1) * OID_LENGTH);
    const waiting = this.waiting.get(key);
    if (waiting) {
      this.waiting.delete(key);
      for (const c of waiting) children.push(c);
    }
    return children;
  }

  /** Depth-first, iterative (chains can be thousands deep); a base is dropped once its last child is taken. */
  private async resolveFrom(rootContent: Buffer, typeCode: number, rootChildren: number[]): Promise<void> {
    const { table, sink } = this;
    const stack: Frame[] = [{ content: rootContent, children: rootChildren, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const child = top.children[top.next++]!;
      const base = top.content;
      if (top.next >= top.children.length) stack.pop();

      if (sink.backedUp && sink.wants(typeCode)) await this.sideWork(); // before the scratch is filled
      const delta = table.takeRetained(child) ?? (await this.loadData(child));
      // A leaf (no ofs-delta child, and no ref-delta anywhere that could name it) is garbage
      // once hashed and handed over: it goes to one reused buffer, not a fresh allocation
      // (git.git: most of 7.7 GiB of objects, and the collections their buffers cost).
      const leaf = this.waiting.size === 0 && (child >= this.firstChild.length || this.firstChild[child]! < 0);
      let result: { object: Buffer; headerLength: number; size: number };
      try {
        result = applyDeltaObject(base, delta, typeCode, leaf ? (this.scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES)) : undefined);
      } catch (err) {
        if (!isGitgateError(err, 'BAD_PACK')) throw err;
        throw bad(`delta at offset ${table.offset[child]}: ${err.params.detail}`);
      }
      const { object, headerLength, size } = result;
      idInto(object, headerLength, size, table.oids, child * OID_LENGTH);
      const content = object.subarray(headerLength, headerLength + size);
      // the delta is garbage now, and so is the result unless it is a base: let a scavenge free them
      transientBytes(delta.length + (object === this.scratch ? 0 : size));
      table.type[child] = typeCode;
      const wait = sink.deliver(child, table.oidAt(child), typeCode, content);
      if (wait) await wait;
      const children = this.takeChildren(child);
      if (children.length > 0) {
        if (object === this.scratch) throw new Error('a leaf has children'); // cannot happen: see leaf
        stack.push({ content, children, next: 0 });
      }
    }
  }

  /** Reads an entry's compressed bytes back from the file and inflates them. */
  private async loadData(i: number): Promise<Buffer> {
    const { table } = this;
    const start = table.dataStart[i]!;
    const end = table.end[i]!;
    const size = table.size[i]!;
    const short = () => new Error(`pack file shrank while indexing (offset ${start})`);
    if (size <= SYNC_INFLATE_LIMIT) return inflateExact(await this.blocks.read(start, end - start, short), size).data;
    const out = Buffer.allocUnsafe(size);
    let written = 0;
    let pos = start;
    await inflateStreaming(
      async () => {
        const n = Math.min(STREAM_CHUNK, end - pos);
        if (n <= 0) return Buffer.alloc(0);
        const chunk = await this.blocks.read(pos, n, short);
        pos += n;
        return chunk;
      },
      size,
      (chunk) => {
        chunk.copy(out, written);
        written += chunk.length;
      },
    );
    return out;
  }
}

