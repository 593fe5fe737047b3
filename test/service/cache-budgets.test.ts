// Cache budgets come from configuration, in bytes, one per process-wide cache.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { packBlockPool, packObjectPool } from '../../src/pack/pack-file.js';
import { bitmapPool } from '../../src/repo/bitmap-index.js';
import { clonePlanPool } from '../../src/repo/clone-plan-cache.js';
import { applyCacheBudgets, idleCollections, nativeTrims, releaseIdle, setServerActivity } from '../../src/service/cache-budgets.js';

describe('cache budgets', () => {
  const defaults = loadConfig({}, {}).caches;
  afterEach(() => {
    applyCacheBudgets(defaults);
    setServerActivity({ busy: () => false, quietSince: () => 0 });
  });

  it('nothing is cached until the configuration is applied (the defaults live in the config schema only)', () => {
    expect(packObjectPool.maxBytes).toBe(0);
    expect(clonePlanPool.maxBytes).toBe(0);
  });

  it('defaults, and GITGATE_*_CACHE_BYTES set each budget', () => {
    expect(defaults).toEqual({
      packObjectBytes: 32 * 1024 ** 2,
      clonePlanBytes: 64 * 1024 ** 2,
      searchBytes: 384 * 1024 ** 2,
      packBlockBytes: 16 * 1024 ** 2,
      bitmapBytes: 64 * 1024 ** 2,
      idleMs: 10_000,
    });
    const config = loadConfig(
      {},
      {
        GITGATE_PACK_CACHE_BYTES: '1048576',
        GITGATE_CLONE_PLAN_CACHE_BYTES: '0',
        GITGATE_SEARCH_CACHE_BYTES: '3000000',
        GITGATE_PACK_BLOCK_CACHE_BYTES: '262144',
        GITGATE_BITMAP_CACHE_BYTES: '5000000',
        GITGATE_CACHE_IDLE_SECONDS: '0',
      },
    );
    expect(config.caches.idleMs).toBe(0);
    applyCacheBudgets(config.caches);
    expect(packObjectPool.maxBytes).toBe(1048576);
    expect(clonePlanPool.maxBytes).toBe(0);
    expect(packBlockPool.maxBytes).toBe(262144);
    expect(bitmapPool.maxBytes).toBe(5000000);
  });

  it('refuses a budget that is not a byte count', () => {
    expect(() => loadConfig({}, { GITGATE_PACK_CACHE_BYTES: '32MiB' })).toThrow(/GITGATE_PACK_CACHE_BYTES must be an integer/);
    expect(() => loadConfig({}, { GITGATE_CLONE_PLAN_CACHE_BYTES: '-1' })).toThrow(/GITGATE_CLONE_PLAN_CACHE_BYTES/);
    expect(() => loadConfig({}, { GITGATE_BITMAP_CACHE_BYTES: 'lots' })).toThrow(/GITGATE_BITMAP_CACHE_BYTES/);
    expect(() => loadConfig({}, { GITGATE_CACHE_IDLE_SECONDS: '-5' })).toThrow(/GITGATE_CACHE_IDLE_SECONDS/);
  });

  const glibc = Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);
  it.runIf(glibc)('an idle release that collects garbage then trims the native heap (the freed buffers\' pages)', async () => {
    const before = nativeTrims;
    let garbage: Buffer[] | null = Array.from({ length: 8 }, () => Buffer.alloc(1024 * 1024, 1));
    expect(garbage.length).toBe(8);
    garbage = null; // 8 MiB more in use than at the last collection: worth one
    releaseIdle(60_000);
    await vi.waitFor(() => expect(nativeTrims).toBe(before + 1));
  });

  it.runIf(glibc)('collects again when a later workload leaves dead buffers behind (V8\'s external count stays high after a collection)', async () => {
    const drop = async () => {
      let garbage: Buffer[] | null = Array.from({ length: 8 }, () => Buffer.alloc(1024 * 1024, 1));
      expect(garbage.length).toBe(8);
      garbage = null;
      const before = { collections: idleCollections, trims: nativeTrims };
      releaseIdle(60_000);
      expect(idleCollections).toBe(before.collections + 1);
      await vi.waitFor(() => expect(nativeTrims).toBe(before.trims + 1));
    };
    await drop();
    await drop(); // the same again: collected again, not kept until the next request
  });

  it('collects only once no request has run for the idle time, then once for the workload (its dropped cache entries included)', () => {
    const idleMs = 10_000;
    let busy = true;
    let ended = 0;
    setServerActivity({ busy: () => busy, quietSince: () => ended });
    let garbage: Buffer[] | null = Array.from({ length: 8 }, () => Buffer.alloc(1024 * 1024, 1));
    expect(garbage.length).toBe(8);
    garbage = null;
    const before = idleCollections;
    const t0 = Date.now();
    releaseIdle(idleMs, t0); // a request in flight
    busy = false;
    ended = t0 + 1000;
    releaseIdle(idleMs, t0 + 5000); // ended 4 s ago: not quiet long enough
    releaseIdle(idleMs, t0 + 10_999);
    expect(idleCollections).toBe(before);
    releaseIdle(idleMs, t0 + 11_000); // quiet for the idle time: one collection
    expect(idleCollections).toBe(before + 1);
    releaseIdle(idleMs, t0 + 16_000); // nothing new since: none
    expect(idleCollections).toBe(before + 1);
  });
});
