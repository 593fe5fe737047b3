// What the indexer records about each pack entry while scanning and resolving.

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
  readonly oid: (Buffer | undefined)[] = [];
  /** Inflated data kept from the scan, dropped once used. */
  readonly retained: (Buffer | undefined)[] = [];

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
