// Least-recently-used caches bounded by the total byte size of their values. Several caches
// may share one budget (a BytePool): the pack caches of every open pack of every repository
// draw from one configured number of bytes, and the least recently used entry among all of
// them goes first. An entry not used for a while can be dropped (trimIdle), so an idle server
// gives its cache memory back.

interface Slot<K, V> {
  key: K;
  value: V;
  stamp: number;
  /** Date.now() of its last use. */
  at: number;
  /** Neighbours in order of use: `older` towards the least recently used end. */
  older: Slot<K, V> | null;
  newer: Slot<K, V> | null;
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

/**
 * The order of use is a linked list through the slots: a hit moves its slot to the newest end
 * and eviction takes the oldest end, each O(1). (Keeping the order as a Map's insertion order,
 * deleting and re-inserting on every hit, made eviction scan the deleted entries the Map keeps
 * at its front until it rehashes: 3 s of a 45 s full-clone walk of git.git went to set().)
 */
export class ByteLru<K, V extends { bytes: number }> {
  private readonly map = new Map<K, Slot<K, V>>();
  private oldest: Slot<K, V> | null = null;
  private newest: Slot<K, V> | null = null;
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
    if (slot !== this.newest) {
      this.unlink(slot);
      this.append(slot);
    }
    slot.stamp = this.pool.stamp();
    slot.at = Date.now();
    return slot.value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    if (value.bytes > this.pool.maxEntryBytes) return;
    if (this.map.size === 0) this.pool.join(this as ByteLru<unknown, { bytes: number }>);
    const slot: Slot<K, V> = { key, value, stamp: this.pool.stamp(), at: Date.now(), older: null, newer: null };
    this.map.set(key, slot);
    this.append(slot);
    this.total += value.bytes;
    this.pool.total += value.bytes;
    this.pool.evict();
  }

  delete(key: K): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.remove(old);
  }

  clear(): void {
    this.pool.total -= this.total;
    this.total = 0;
    this.map.clear();
    this.oldest = this.newest = null;
    this.pool.leave(this as ByteLru<unknown, { bytes: number }>);
  }

  /** @internal */
  oldestStamp(): number {
    return this.oldest?.stamp ?? Infinity;
  }

  /** @internal Drop from the oldest end while entries were last used before `cutoff`. */
  evictUsedBefore(cutoff: number): void {
    while (this.oldest && this.oldest.at < cutoff) this.remove(this.oldest);
  }

  /** @internal */
  evictOldest(): void {
    if (this.oldest) this.remove(this.oldest);
  }

  private append(slot: Slot<K, V>): void {
    slot.older = this.newest;
    slot.newer = null;
    if (this.newest) this.newest.newer = slot;
    else this.oldest = slot;
    this.newest = slot;
  }

  private unlink(slot: Slot<K, V>): void {
    if (slot.older) slot.older.newer = slot.newer;
    else this.oldest = slot.newer;
    if (slot.newer) slot.newer.older = slot.older;
    else this.newest = slot.older;
    slot.older = slot.newer = null;
  }

  private remove(slot: Slot<K, V>): void {
    this.map.delete(slot.key);
    this.unlink(slot);
    this.total -= slot.value.bytes;
    this.pool.total -= slot.value.bytes;
    if (this.map.size === 0) this.pool.leave(this as ByteLru<unknown, { bytes: number }>);
  }
}
