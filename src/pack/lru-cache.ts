// A least-recently-used cache bounded by the total byte size of its values.

export class ByteLru<K, V extends { bytes: number }> {
  private readonly map = new Map<K, V>();
  private total = 0;

  constructor(
    readonly maxBytes: number,
    /** Values larger than this are never cached: one would evict everything else. */
    readonly maxEntryBytes: number = Math.floor(maxBytes / 4),
  ) {}

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.total;
  }

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.total -= old.bytes;
    }
    if (value.bytes > this.maxEntryBytes) return;
    this.map.set(key, value);
    this.total += value.bytes;
    for (const [k, v] of this.map) {
      if (this.total <= this.maxBytes) break;
      this.map.delete(k);
      this.total -= v.bytes;
    }
  }

  delete(key: K): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.total -= old.bytes;
    }
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }
}
