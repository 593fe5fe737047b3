// Failed-authentication throttling per client address (GitLab's rule of thumb: 30 failures
// within 3 minutes and the address is blocked). Only requests that present a secret and have it
// rejected count — git's first, credential-less probe does not. Successes reset nothing: an
// attacker holding one valid token cannot interleave it to dodge the block, and one client's
// success never clears another's count. While blocked, an address gets 429 with Retry-After
// *before* any bcrypt work, so guessing also cannot burn CPU; the caller lets a secret through
// that this process has already verified (many agents share one NAT or proxy address).
//
// An IPv6 client usually owns a whole /64, so IPv6 addresses count per /64. The counts live in
// a GuardStore: in process on one node, shared PostgreSQL tables in a cluster, so failures
// spread over several nodes are blocked at the same limit as on one.
import net from 'node:net';
import { MemoryGuardStore } from '../db/memory-guard-store.js';
import type { GuardStore } from '../db/stores.js';

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
  /** `store` defaults to an in-process one under these options (one node). */
  constructor(
    private readonly opts: ThrottleOptions,
    private readonly store: GuardStore = new MemoryGuardStore(opts),
  ) {}

  get enabled(): boolean {
    return this.opts.limit > 0;
  }

  /** Seconds until `ip` may try again, or 0 when it is not blocked. */
  async retryAfter(ip: string): Promise<number> {
    if (!this.enabled) return 0;
    return Math.ceil((await this.store.blockedFor(throttleKey(ip))) / 1000);
  }

  /** Count a rejected secret; returns the Retry-After seconds if `ip` is (now) blocked. */
  async fail(ip: string): Promise<number> {
    if (!this.enabled) return 0;
    return Math.ceil((await this.store.fail(throttleKey(ip))) / 1000);
  }

  /** Addresses with recent failures (for tests and metrics). */
  get size(): number {
    return this.store.stats().tracked;
  }

  /** Addresses blocked right now. */
  get blocked(): number {
    return this.store.stats().blocked;
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
