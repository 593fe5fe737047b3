// Caches bounded in bytes by configuration and released when idle, through a real server: real
// clones fill the pack caches and the bitmap cache, /metrics shows each within its configured
// budget, and once nothing uses them for GITGATE_CACHE_IDLE_SECONDS they are emptied.
import crypto from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packBlockPool, packObjectPool } from '../../src/pack/pack-file.js';
import { bitmapPool } from '../../src/repo/bitmap-index.js';
import { repack } from '../../src/repo/repack.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { fastImportCommits, scratchRepo } from '../helpers/push.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// each repository's pack (~800 KiB, incompressible) is larger than the block budget, and its
// bitmap fits the bitmap budget alone but not with another's
const BUDGETS = {
  GITGATE_PACK_BLOCK_CACHE_BYTES: String(256 * 1024),
  GITGATE_PACK_CACHE_BYTES: String(512 * 1024),
  GITGATE_BITMAP_CACHE_BYTES: String(48 * 1024),
  GITGATE_CACHE_IDLE_SECONDS: '1',
};

async function cacheBytes(s: TestServer): Promise<Record<string, number>> {
  const res = await fetch(`${s.url}/metrics`);
  expect(res.status).toBe(200);
  const out: Record<string, number> = {};
  for (const m of (await res.text()).matchAll(/^gitgate_cache_(\w+)_bytes (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

describe('cache budgets and idle release (fs storage)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('fs', BUDGETS);
  });
  afterAll(async () => {
    await s.close();
  });

  it('keeps every cache within its budget while cloning, and empties them once idle', async () => {
    // the configured budgets are the pools' (this server runs in the test's process)
    expect([packBlockPool.maxBytes, packObjectPool.maxBytes, bitmapPool.maxBytes]).toEqual([256 * 1024, 512 * 1024, 48 * 1024]);
    const ids: string[] = [];
    for (let r = 0; r < 3; r++) {
      const id = await s.createRepo();
      const work = await scratchRepo();
      for (let i = 0; i < 3; i++) {
        await fastImportCommits(work, 'refs/heads/main', 30, { parent: i ? 'refs/heads/main^0' : undefined, files: 20 });
        await gitOk(['push', '-q', s.gitUrl(id, s.admin), 'main'], { cwd: work });
      }
      await gitOk(['checkout', '-q', 'main'], { cwd: work });
      const files: Record<string, string> = {};
      for (let f = 0; f < 40; f++) files[`bin/${f}.dat`] = crypto.randomBytes(15 * 1024).toString('base64');
      await commitFiles(work, files, 'random data');
      await gitOk(['push', '-q', s.gitUrl(id, s.admin), 'main'], { cwd: work });
      await repack(s.ctx.manager.get(id), { all: true }); // one pack, with a bitmap
      ids.push(id);
    }
    let seen: Record<string, number> = {};
    for (const id of [...ids, ...ids]) {
      await gitOk(['clone', '-q', '--bare', s.gitUrl(id, s.admin), path.join(tmpDir(), 'c.git')]);
      const now = await cacheBytes(s);
      expect(now.pack_blocks).toBeLessThanOrEqual(256 * 1024);
      expect(now.pack_objects).toBeLessThanOrEqual(512 * 1024);
      expect(now.bitmaps).toBeLessThanOrEqual(48 * 1024);
      for (const [k, v] of Object.entries(now)) seen[k] = Math.max(seen[k] ?? 0, v);
    }
    expect(seen.pack_blocks).toBeGreaterThan(0);
    expect(seen.bitmaps).toBeGreaterThan(0);
    // nothing uses them now: within a few sweeps, every cache is empty (no timing asserted: we wait for the state)
    let after = await cacheBytes(s);
    while (Object.values(after).some((v) => v > 0)) {
      await new Promise((r) => setTimeout(r, 200));
      after = await cacheBytes(s);
    }
    expect(after).toEqual({ pack_objects: 0, pack_blocks: 0, bitmaps: 0, clone_plans: 0, search: 0 });
    for (const id of ids) await s.fsck(id);
  });
});
