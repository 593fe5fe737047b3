// GuardStore in process (one node, SQLite mode). Failure counters are an LRU of at most
// maxEntries keys; blocks are kept apart from it, so failing from 10,000 other addresses cannot
// push a block out. Blocks are bounded too (maxBans): expired ones go first, and only a flood
// beyond that drops the block closest to its end.
import type { GuardStore, ThrottleRule } from './stores.js';

export interface MemoryGuardOptions extends ThrottleRule {
  maxEntries?: number;
  maxBans?: number;
  now?: () => number;
}

export class MemoryGuardStore implements GuardStore {
  /** key -> times of recent failures, oldest first, at most `limit` of them (Map order = LRU). */
  private readonly failures = new Map<string, number[]>();
  /** key -> end of its block; banMs is fixed, so Map order is also expiry order. */
  private readonly bans = new Map<string, number>();
  private readonly inflightByToken = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly maxBans: number;
  private readonly now: () => number;

  constructor(private readonly rule: MemoryGuardOptions) {
    this.maxEntries = rule.maxEntries ?? 10_000;
    this.maxBans = rule.maxBans ?? 100_000;
    this.now = rule.now ?? Date.now;
  }

  async blockedFor(key: string): Promise<number> {
    const until = this.bans.get(key);
    return until === undefined ? 0 : Math.max(0, until - this.now());
  }

  async fail(key: string): Promise<number> {
    const now = this.now();
    const banned = this.bans.get(key);
    if (banned !== undefined && banned > now) return banned - now;

    let times = this.failures.get(key);
    if (times) this.failures.delete(key); // re-insert: Map order is our LRU order
    else times = [];
    const since = now - this.rule.windowMs;
    while (times.length && times[0]! <= since) times.shift();
    times.push(now);
    if (times.length > this.rule.limit) times.shift();
    if (times.length >= this.rule.limit) {
      this.ban(key, now + this.rule.banMs, now);
      return this.rule.banMs; // the count starts afresh after the block
    }
    this.failures.set(key, times);
    while (this.failures.size > this.maxEntries) this.failures.delete(this.failures.keys().next().value!);
    return 0;
  }

  async admit(tokenId: string, limit: number): Promise<boolean> {
    const active = this.inflightByToken.get(tokenId) ?? 0;
    if (active >= limit) return false;
    this.inflightByToken.set(tokenId, active + 1);
    return true;
  }

  async release(tokenId: string): Promise<void> {
    const n = (this.inflightByToken.get(tokenId) ?? 1) - 1;
    if (n <= 0) this.inflightByToken.delete(tokenId);
    else this.inflightByToken.set(tokenId, n);
  }

  async inflight(tokenId: string): Promise<number> {
    return this.inflightByToken.get(tokenId) ?? 0;
  }

  async prune(): Promise<void> {}

  stats(): { tracked: number; blocked: number } {
    const now = this.now();
    let blocked = 0;
    for (const end of this.bans.values()) if (end > now) blocked++;
    return { tracked: this.failures.size, blocked };
  }

  private ban(key: string, until: number, now: number): void {
    this.bans.delete(key);
    for (const [k, end] of this.bans) {
      if (end > now) break; // the rest end later
      this.bans.delete(k);
    }
    while (this.bans.size >= this.maxBans) this.bans.delete(this.bans.keys().next().value!);
    this.bans.set(key, until);
  }
}
