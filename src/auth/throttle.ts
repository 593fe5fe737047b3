// Failed-authentication throttling per client address (GitLab's rule of thumb: 30 failures
// within 3 minutes and the address is blocked). Only requests that present a secret and have it
// rejected count — git's first, credential-less probe does not. Successes reset nothing: an
// attacker holding one valid token cannot interleave it to dodge the block, and one client's
// success never clears another's count. While blocked, every authentication from the address
// gets 429 with Retry-After *before* any bcrypt work, so guessing also cannot burn CPU.
// Memory is bounded: at most maxEntries addresses are tracked, least recently seen dropped first.

export interface ThrottleOptions {
  /** Failures within windowMs that trigger a block (0 disables throttling). */
  limit: number;
  windowMs: number;
  /** How long the block lasts, from the failure that triggered it. */
  banMs: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  /** Times of recent failures, oldest first, at most `limit` of them. */
  failures: number[];
  bannedUntil: number;
}

export class AuthThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly opts: ThrottleOptions) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.opts.limit > 0;
  }

  /** Seconds until `ip` may try again, or 0 when it is not blocked. */
  retryAfter(ip: string): number {
    if (!this.enabled) return 0;
    const e = this.entries.get(ip);
    if (!e) return 0;
    const left = e.bannedUntil - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Count a rejected secret; returns the Retry-After seconds if this failure blocked `ip`. */
  fail(ip: string): number {
    if (!this.enabled) return 0;
    const now = this.now();
    let e = this.entries.get(ip);
    if (e) this.entries.delete(ip); // re-insert: Map order is our LRU order
    else e = { failures: [], bannedUntil: 0 };
    const since = now - this.opts.windowMs;
    while (e.failures.length && e.failures[0]! <= since) e.failures.shift();
    e.failures.push(now);
    if (e.failures.length > this.opts.limit) e.failures.shift();
    if (e.failures.length >= this.opts.limit && e.bannedUntil <= now) {
      e.bannedUntil = now + this.opts.banMs;
      e.failures = [];
    }
    this.entries.set(ip, e);
    this.evict(now);
    return e.bannedUntil > now ? Math.ceil((e.bannedUntil - now) / 1000) : 0;
  }

  /** Number of addresses tracked (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  private evict(_now: number): void {
    // Map iteration order is insertion order and fail() re-inserts: the first key is the least
    // recently seen address
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) return;
      this.entries.delete(oldest);
    }
  }
}
