// Least-recently-used caches bounded by the total byte size of their values. Several caches
// may share one budget (a BytePool): the pack caches of every open pack of every repository
// draw from one configured number of bytes, and the least recently used entry among all of
// them goes first. An entry not used for a while can be dropped (trimIdle), so an idle server
// gives its cache memory back.

interface Slot<V> {
  value: V;
  stamp: number;
  /** Date.now() of its last use. */
  at: number;
}

/** A byte budget shared by caches; the oldest entry among its members is evicted first. */
export class BytePool {
  total = 0;
  private clock = 0;
  /** Members holding entries (an empty cache leaves, so a dropped cache is never kept alive). */
  private readonly members = new Set<ByteLru<unknown, { bytes: number }>>();

  constructor(
    public maxBytes: number,
    /** Values larger than this fraction of the budget are never cached: one would evict everything else. */
    private readonly maxEntryShare = 0.25,
  ) {}

  get maxEntryBytes(): number {
    return Math.floor(this.maxBytes * this.maxEntryShare);
  }

  /** Change the budget (configuration), evicting at once if it shrank. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evict();
  }

  /** @internal */
  stamp(): number {
    return ++this.clock;
  }

  /** @internal */
  join(member: ByteLru<unknown, { bytes: number }>): void {
    this.members.add(member);
  }

  /** @internal */
  leave(member: ByteLru<unknown, { bytes: number }>): void {
    this.members.delete(member);
  }

  /** Drop every entry last used before `cutoff` (a Date.now() time); returns the bytes freed. */
  trimIdle(cutoff: number): number {
    const before = this.total;
    for (const m of [...this.members]) m.evictUsedBefore(cutoff);
    return before - this.total;
  }

  /** @internal Drop least recently used entries until the pool fits its budget. */
  evict(): void {
    while (this.total > this.maxBytes) {
      let victim: ByteLru<unknown, { bytes: number }> | null = null;
      let oldest = Infinity;
      for (const m of this.members) {
        const s = m.oldestStamp();
        if (s < oldest) {
          oldest = s;
          victim = m;
        }
      }
      if (!victim) break;
      victim.evictOldest();
    }
  }
}

export class ByteLru<K, V extends { bytes: number }> {
  private readonly map = new Map<K, Slot<V>>();
  private total = 0;
  readonly pool: BytePool;

  /** A cache with its own budget of `budget` bytes, or one drawing from a shared pool. */
  constructor(budget: number | BytePool, maxEntryBytes?: number) {
    this.pool = typeof budget === 'number' ? new BytePool(budget, maxEntryBytes !== undefined ? maxEntryBytes / budget : 0.25) : budget;
  }

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.total;
  }

  get(key: K): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    // Map keeps insertion order: re-inserting marks the entry most recently used.
    this.map.delete(key);
    this.map.set(key, slot);
    slot.stamp = this.pool.stamp();
    slot.at = Date.now();
    return slot.value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    if (value.bytes > this.pool.maxEntryBytes) return;
    if (this.map.size === 0) this.pool.join(this as ByteLru<unknown, { bytes: number }>);
    this.map.set(key, { value, stamp: this.pool.stamp(), at: Date.now() });
    this.total += value.bytes;
    this.pool.total += value.bytes;
    this.pool.evict();
  }

  delete(key: K): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.map.delete(key);
    this.forget(old.value.bytes);
  }

  clear(): void {
    this.pool.total -= this.total;
    this.total = 0;
    this.map.clear();
    this.pool.leave(this as ByteLru<unknown, { bytes: number }>);
  }

  /** @internal */
  oldestStamp(): number {
    for (const slot of this.map.values()) return slot.stamp;
    return Infinity;
  }

  /** @internal The map is in order of use: drop from the front while entries are older than `cutoff`. */
  evictUsedBefore(cutoff: number): void {
    for (const [key, slot] of this.map) {
      if (slot.at >= cutoff) return;
      this.map.delete(key);
      this.forget(slot.value.bytes);
    }
  }

  /** @internal */
  evictOldest(): void {
    for (const [key, slot] of this.map) {
      this.map.delete(key);
      this.forget(slot.value.bytes);
      return;
    }
  }

  private forget(bytes: number): void {
    this.total -= bytes;
    this.pool.total -= bytes;
    if (this.map.size === 0) this.pool.leave(this as ByteLru<unknown, { bytes: number }>);
  }
}
