import { describe, expect, it } from 'vitest';
import { AuthThrottle, throttleKey } from '../../src/auth/throttle.js';

function throttle(now: { t: number }, extra: Partial<ConstructorParameters<typeof AuthThrottle>[0]> = {}) {
  return new AuthThrottle({ limit: 30, windowMs: 180_000, banMs: 180_000, now: () => now.t, ...extra });
}

describe('AuthThrottle', () => {
  it('blocks an address on its 30th failure within 3 minutes, for 3 minutes', async () => {
    const now = { t: 1_000_000 };
    const th = throttle(now);
    for (let i = 1; i < 30; i++) {
      expect(await th.fail('10.0.0.1')).toBe(0);
      expect(await th.retryAfter('10.0.0.1')).toBe(0);
      now.t += 1000;
    }
    expect(await th.fail('10.0.0.1')).toBe(180);
    expect(await th.retryAfter('10.0.0.1')).toBe(180);
    expect(await th.retryAfter('10.0.0.2')).toBe(0); // other addresses unaffected
    now.t += 179_000;
    expect(await th.retryAfter('10.0.0.1')).toBe(1);
    now.t += 1000;
    expect(await th.retryAfter('10.0.0.1')).toBe(0);
    // the count started afresh with the block: one more failure does not re-block
    expect(await th.fail('10.0.0.1')).toBe(0);
  });

  it('forgets failures older than the window (sliding)', async () => {
    const now = { t: 0 };
    const th = throttle(now);
    for (let i = 0; i < 29; i++) await th.fail('a');
    now.t += 180_001;
    for (let i = 0; i < 29; i++) expect(await th.fail('a')).toBe(0);
    expect(await th.fail('a')).toBe(180);
  });

  it('a block survives 10,000 other addresses failing; the counters stay bounded', async () => {
    const now = { t: 0 };
    const th = throttle(now); // default bounds: 10,000 tracked addresses
    for (let i = 0; i < 30; i++) await th.fail('203.0.113.9');
    expect(await th.retryAfter('203.0.113.9')).toBe(180);
    // the attacker fails from 20,000 other addresses to push the ban out of the LRU
    for (let i = 0; i < 20_000; i++) await th.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(th.size).toBe(10_000);
    expect(await th.retryAfter('203.0.113.9')).toBe(180);
    expect(th.blocked).toBe(1);
  });

  it('bans are bounded: expired ones go first, then the one closest to its end', async () => {
    const now = { t: 0 };
    const th = throttle(now, { limit: 1, banMs: 10_000, maxBans: 3 });
    await th.fail('a');
    now.t += 1000;
    await th.fail('b');
    now.t += 1000;
    await th.fail('c');
    expect(th.blocked).toBe(3);
    now.t += 8500; // a's ban is over, b's and c's are not
    await th.fail('d');
    expect(await Promise.all([th.retryAfter('b'), th.retryAfter('c'), th.retryAfter('d')])).toEqual([1, 2, 10]);
    await th.fail('e'); // full of live bans: b (ends first) makes room
    expect(await th.retryAfter('b')).toBe(0);
    expect(await Promise.all([th.retryAfter('c'), th.retryAfter('d'), th.retryAfter('e')])).toEqual([2, 10, 10]);
  });

  it('counts IPv6 per /64 and IPv4-mapped IPv6 as IPv4', async () => {
    const now = { t: 0 };
    const th = throttle(now, { limit: 3 });
    await th.fail('2001:db8:1:2::1');
    await th.fail('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    expect(await th.fail('2001:0db8:0001:0002:ffff::7')).toBe(180);
    expect(await th.retryAfter('2001:db8:1:2::9')).toBe(180);
    expect(await th.retryAfter('2001:db8:1:3::1')).toBe(0); // the next /64 is someone else
    await th.fail('::ffff:192.0.2.1');
    await th.fail('192.0.2.1');
    await th.fail('::ffff:c000:201');
    expect(await th.retryAfter('192.0.2.1')).toBe(180);
  });

  it('throttleKey', () => {
    expect(throttleKey('198.51.100.7')).toBe('198.51.100.7');
    expect(throttleKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(throttleKey('::1')).toBe('0:0:0:0::/64');
    expect(throttleKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(throttleKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(throttleKey('2001:db8:a:b:c:d:e:f')).toBe('2001:db8:a:b::/64');
    expect(throttleKey('unknown')).toBe('unknown');
  });

  it('limit 0 disables it', async () => {
    const th = throttle({ t: 0 }, { limit: 0 });
    for (let i = 0; i < 100; i++) expect(await th.fail('x')).toBe(0);
    expect(await th.retryAfter('x')).toBe(0);
    expect(th.size).toBe(0);
  });
});
