// What the indexer records about each pack entry while scanning and resolving.
import { OID_LENGTH } from './types.js';

/**
 * What the scan records per entry, in typed columns: 62 bytes an entry, where arrays of JS
 * numbers took ~80 plus growth slack (git.git's 420k entries: tens of MiB of heap, kept for
 * the whole push).
 */
export class EntryTable {
  length = 0;
  offset: Float64Array;
  dataStart: Float64Array;
  end: Float64Array;
  /** Pack type code as stored (1-4, 6, 7). */
  code: Uint8Array;
  /** Inflated size of the entry data (object or delta). */
  size: Float64Array;
  crc: Uint32Array;
  /** Entry number of an ofs-delta's base, else -1. */
  baseIndex: Int32Array;
  /** A ref-delta's base id, by entry (few: a Map, not a slot per entry). */
  private readonly baseOids = new Map<number, Buffer>();
  /** Resolved object type code (1-4), 0 while unresolved. */
  type: Uint8Array;
  /** Object ids, 20 bytes per entry, valid once `type` is set (one buffer: no object per id). */
  oids: Buffer;
  /** Inflated data kept from the scan (a bounded few MiB of entries), dropped once used. */
  private readonly retained = new Map<number, Buffer>();

  constructor(capacity = 16) {
    const n = Math.max(capacity, 16);
    this.offset = new Float64Array(n);
    this.dataStart = new Float64Array(n);
    this.end = new Float64Array(n);
    this.code = new Uint8Array(n);
    this.size = new Float64Array(n);
    this.crc = new Uint32Array(n);
    this.baseIndex = new Int32Array(n);
    this.type = new Uint8Array(n);
    this.oids = Buffer.allocUnsafe(OID_LENGTH * n);
  }

  /** Appends an entry (its id is written into `oids` by the caller); returns its number. */
  add(offset: number, dataStart: number, end: number, code: number, size: number, crc: number, baseIndex: number, baseOid: Buffer | undefined, type: number, retained: Buffer | undefined): number {
    const i = this.length;
    if (i === this.offset.length) this.grow();
    this.offset[i] = offset;
    this.dataStart[i] = dataStart;
    this.end[i] = end;
    this.code[i] = code;
    this.size[i] = size;
    this.crc[i] = crc;
    this.baseIndex[i] = baseIndex;
    if (baseOid) this.baseOids.set(i, baseOid);
    this.type[i] = type;
    if (retained) this.retained.set(i, retained);
    this.length = i + 1;
    return i;
  }

  /** A ref-delta's base id. */
  baseOid(i: number): Buffer | undefined {
    return this.baseOids.get(i);
  }

  /** The data kept from the scan for entry i, if any, which the table no longer holds. */
  takeRetained(i: number): Buffer | undefined {
    const data = this.retained.get(i);
    if (data) this.retained.delete(i);
    return data;
  }

  /** The id of entry i, a view into `oids`. */
  oidAt(i: number): Buffer {
    return this.oids.subarray(i * OID_LENGTH, (i + 1) * OID_LENGTH);
  }

  /** Room for entry i (the announced count is the client's word, and thin-pack bases come after it). */
  reserve(i: number): void {
    while (i >= this.offset.length) this.grow();
  }

  private grow(): void {
    const n = this.offset.length * 2;
    const grown = <T extends Float64Array | Uint8Array | Uint32Array | Int32Array>(a: T, make: new (n: number) => T): T => {
      const b = new make(n);
      b.set(a);
      return b;
    };
    this.offset = grown(this.offset, Float64Array);
    this.dataStart = grown(this.dataStart, Float64Array);
    this.end = grown(this.end, Float64Array);
    this.code = grown(this.code, Uint8Array);
    this.size = grown(this.size, Float64Array);
    this.crc = grown(this.crc, Uint32Array);
    this.baseIndex = grown(this.baseIndex, Int32Array);
    this.type = grown(this.type, Uint8Array);
    const oids = Buffer.allocUnsafe(OID_LENGTH * n);
    this.oids.copy(oids);
    this.oids = oids;
  }

  /** Entry number starting at `offset` among the first `before` entries, else -1. */
  findByOffset(offset: number, before: number): number {
    let lo = 0;
    let hi = before;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const value = this.offset[mid]!;
      if (value === offset) return mid;
      if (value < offset) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }
}
