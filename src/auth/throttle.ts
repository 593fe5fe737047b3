// Failed-authentication throttling per client address (GitLab's rule of thumb: 30 failures
// within 3 minutes and the address is blocked). Only requests that present a secret and have it
// rejected count — git's first, credential-less probe does not. Successes reset nothing: an
// attacker holding one valid token cannot interleave it to dodge the block, and one client's
// success never clears another's count. While blocked, an address gets 429 with Retry-After
// *before* any bcrypt work, so guessing also cannot burn CPU; the caller lets a secret through
// that this process has already verified (many agents share one NAT or proxy address).
//
// An IPv6 client usually owns a whole /64, so IPv6 addresses count per /64. Failure counters
// are an LRU of at most maxEntries addresses; bans are kept apart from it, so failing from
// 10,000 other addresses cannot push a ban out. Bans are bounded too (maxBans): expired ones
// go first, and only a flood beyond that drops the ban closest to its end.
import net from 'node:net';

export interface ThrottleOptions {
  /** Failures within windowMs that trigger a block (0 disables throttling). */
  limit: number;
  windowMs: number;
  /** How long the block lasts, from the failure that triggered it. */
  banMs: number;
  maxEntries?: number;
  maxBans?: number;
  now?: () => number;
}

export class AuthThrottle {
  /** key -> times of recent failures, oldest first, at most `limit` of them (Map order = LRU). */
  private readonly failures = new Map<string, number[]>();
  /** key -> end of its ban; banMs is fixed, so Map order is also expiry order. */
  private readonly bans = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly maxBans: number;
  private readonly now: () => number;

  constructor(private readonly opts: ThrottleOptions) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.maxBans = opts.maxBans ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.opts.limit > 0;
  }

  /** Seconds until `ip` may try again, or 0 when it is not blocked. */
  retryAfter(ip: string): number {
    if (!this.enabled) return 0;
    const until = this.bans.get(throttleKey(ip));
    if (until === undefined) return 0;
    const left = until - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Count a rejected secret; returns the Retry-After seconds if `ip` is (now) blocked. */
  fail(ip: string): number {
    if (!this.enabled) return 0;
    const now = this.now();
    const key = throttleKey(ip);
    const banned = this.bans.get(key);
    if (banned !== undefined && banned > now) return Math.ceil((banned - now) / 1000);

    let times = this.failures.get(key);
    if (times) this.failures.delete(key); // re-insert: Map order is our LRU order
    else times = [];
    const since = now - this.opts.windowMs;
    while (times.length && times[0]! <= since) times.shift();
    times.push(now);
    if (times.length > this.opts.limit) times.shift();
    if (times.length >= this.opts.limit) {
      this.ban(key, now + this.opts.banMs, now);
      return Math.ceil(this.opts.banMs / 1000); // the count starts afresh after the ban
    }
    this.failures.set(key, times);
    while (this.failures.size > this.maxEntries) this.failures.delete(this.failures.keys().next().value!);
    return 0;
  }

  /** Addresses with recent failures (for tests and metrics). */
  get size(): number {
    return this.failures.size;
  }

  /** Addresses blocked right now. */
  get blocked(): number {
    const now = this.now();
    let n = 0;
    for (const end of this.bans.values()) if (end > now) n++;
    return n;
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

/** The unit an address is throttled as: IPv4 as is (also IPv4-mapped IPv6), IPv6 per /64. */
export function throttleKey(ip: string): string {
  if (net.isIPv4(ip)) return ip;
  if (!net.isIPv6(ip)) return ip;
  const groups = expandIPv6(ip);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** Eight 16-bit groups of a valid IPv6 address (zone and embedded IPv4 allowed). */
function expandIPv6(ip: string): number[] {
  let s = ip.split('%')[0]!;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const parse = (part: string) => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
