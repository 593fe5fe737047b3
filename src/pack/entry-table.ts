// What the indexer records about each pack entry while scanning and resolving.
import { OID_LENGTH } from './types.js';

/** What the scan records per entry; parallel arrays keep large packs compact. */
export class EntryTable {
  readonly offset: number[] = [];
  readonly dataStart: number[] = [];
  readonly end: number[] = [];
  /** Pack type code as stored (1-4, 6, 7). */
  readonly code: number[] = [];
  /** Inflated size of the entry data (object or delta). */
  readonly size: number[] = [];
  readonly crc: number[] = [];
  /** Entry number of an ofs-delta's base, else -1. */
  readonly baseIndex: number[] = [];
  readonly baseOid: (Buffer | undefined)[] = [];
  /** Resolved object type code (1-4), 0 while unresolved. */
  readonly type: number[] = [];
  /** Object ids, 20 bytes per entry, valid once `type` is set (one buffer: no object per id). */
  oids: Buffer;
  /** Inflated data kept from the scan, dropped once used. */
  readonly retained: (Buffer | undefined)[] = [];

  constructor(capacity = 0) {
    this.oids = Buffer.allocUnsafe(OID_LENGTH * Math.max(capacity, 16));
  }

  /** The id of entry i, a view into `oids`. */
  oidAt(i: number): Buffer {
    return this.oids.subarray(i * OID_LENGTH, (i + 1) * OID_LENGTH);
  }

  /** Room for entry i's id (appended thin-pack bases go past the announced count). */
  reserve(i: number): void {
    if ((i + 1) * OID_LENGTH <= this.oids.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.oids.length * 2, (i + 1) * OID_LENGTH));
    this.oids.copy(grown);
    this.oids = grown;
  }

  get length(): number {
    return this.offset.length;
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
