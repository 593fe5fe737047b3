import { describe, expect, it } from 'vitest';
import { AuthThrottle } from '../../src/auth/throttle.js';

function throttle(now: { t: number }, extra: Partial<ConstructorParameters<typeof AuthThrottle>[0]> = {}) {
  return new AuthThrottle({ limit: 30, windowMs: 180_000, banMs: 180_000, now: () => now.t, ...extra });
}

describe('AuthThrottle', () => {
  it('blocks an address on its 30th failure within 3 minutes, for 3 minutes', () => {
    const now = { t: 1_000_000 };
    const th = throttle(now);
    for (let i = 1; i < 30; i++) {
      expect(th.fail('10.0.0.1')).toBe(0);
      expect(th.retryAfter('10.0.0.1')).toBe(0);
      now.t += 1000;
    }
    expect(th.fail('10.0.0.1')).toBe(180);
    expect(th.retryAfter('10.0.0.1')).toBe(180);
    expect(th.retryAfter('10.0.0.2')).toBe(0); // other addresses unaffected
    now.t += 179_000;
    expect(th.retryAfter('10.0.0.1')).toBe(1);
    now.t += 1000;
    expect(th.retryAfter('10.0.0.1')).toBe(0);
    // the count started afresh with the block: one more failure does not re-block
    expect(th.fail('10.0.0.1')).toBe(0);
  });

  it('forgets failures older than the window (sliding)', () => {
    const now = { t: 0 };
    const th = throttle(now);
    for (let i = 0; i < 29; i++) th.fail('a');
    now.t += 180_001;
    for (let i = 0; i < 29; i++) expect(th.fail('a')).toBe(0);
    expect(th.fail('a')).toBe(180);
  });

  it('keeps memory bounded, dropping the least recently seen address', () => {
    const now = { t: 0 };
    const th = throttle(now, { limit: 2, maxEntries: 100 });
    th.fail('victim');
    th.fail('victim'); // blocked
    expect(th.retryAfter('victim')).toBeGreaterThan(0);
    for (let i = 0; i < 1000; i++) th.fail(`198.51.100.${i}`);
    expect(th.size).toBe(100);
    expect(th.retryAfter('victim')).toBe(0); // evicted (LRU), not grown without bound
  });

  it('limit 0 disables it', () => {
    const th = throttle({ t: 0 }, { limit: 0 });
    for (let i = 0; i < 100; i++) expect(th.fail('x')).toBe(0);
    expect(th.retryAfter('x')).toBe(0);
    expect(th.size).toBe(0);
  });
});
