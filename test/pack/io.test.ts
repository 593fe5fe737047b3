import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BlockReader, WindowReader } from '../../src/pack/file-io.js';
import { InflateError, inflateExact, inflateStreaming } from '../../src/pack/inflate.js';
import { ByteLru, BytePool } from '../../src/pack/lru-cache.js';
import { caught, removeDir, rng, tempDir } from './helpers.js';

let work: string;
let file: string;
const data = Buffer.alloc(300_000);

beforeAll(() => {
  work = tempDir();
  const next = rng(99);
  for (let i = 0; i < data.length; i++) data[i] = next() & 0xff;
  file = path.join(work, 'data');
  fs.writeFileSync(file, data);
});

afterAll(() => removeDir(work));

describe('ByteLru', () => {
  it('evicts least recently used entries by total bytes and skips oversized values', () => {
    const lru = new ByteLru<string, { bytes: number }>(100, 60);
    lru.set('a', { bytes: 40 });
    lru.set('b', { bytes: 40 });
    lru.get('a'); // a is now most recent
    lru.set('c', { bytes: 40 }); // evicts b
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBeDefined();
    expect(lru.get('c')).toBeDefined();
    expect(lru.bytes).toBe(80);
    lru.set('huge', { bytes: 61 });
    expect(lru.get('huge')).toBeUndefined();
    expect(lru.bytes).toBe(80);
    lru.set('a', { bytes: 10 }); // replacing adjusts the total
    expect(lru.bytes).toBe(50);
  });
});

describe('BytePool', () => {
  it('bounds caches sharing it in total, evicting the least recently used entry among all of them', () => {
    const pool = new BytePool(100, 0.5);
    const a = new ByteLru<string, { bytes: number }>(pool);
    const b = new ByteLru<string, { bytes: number }>(pool);
    a.set('a1', { bytes: 30 });
    b.set('b1', { bytes: 30 });
    a.set('a2', { bytes: 30 });
    expect(a.get('a1')).toBeDefined(); // a1 is now newer than b1
    b.set('b2', { bytes: 30 }); // 120 > 100: the oldest of all (b1) goes
    expect(b.get('b1')).toBeUndefined();
    expect([a.size, b.size, pool.total]).toEqual([2, 1, 90]);
    b.set('big', { bytes: 51 }); // over half the budget: never cached
    expect(b.get('big')).toBeUndefined();
    pool.resize(40); // shrinking evicts at once, oldest first
    expect(pool.total).toBeLessThanOrEqual(40);
    expect([a.size, b.size]).toEqual([0, 1]);
    b.clear();
    expect(pool.total).toBe(0);
    a.set('a3', { bytes: 20 });
    expect(pool.total).toBe(20);
  });
});

describe('idle release', () => {
  it('drops the entries of every cache in a pool that were not used since the cutoff, and only those', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const pool = new BytePool(1000, 1);
      const a = new ByteLru<string, { bytes: number }>(pool);
      const b = new ByteLru<string, { bytes: number }>(pool);
      a.set('old', { bytes: 100 });
      b.set('old', { bytes: 200 });
      a.set('used', { bytes: 10 });
      vi.setSystemTime(1_010_000);
      a.get('used'); // used again: kept
      b.set('new', { bytes: 20 });
      expect(pool.trimIdle(1_005_000)).toBe(300);
      expect([a.get('old'), b.get('old')]).toEqual([undefined, undefined]);
      expect([a.size, b.size, pool.total]).toEqual([1, 1, 30]);
      expect(pool.trimIdle(Infinity)).toBe(30);
      expect(pool.total).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('BlockReader', () => {
  it('keeps the blocks of all readers sharing a pool within its budget', async () => {
    const file = path.join(work, 'pooled.bin');
    const data = crypto.randomBytes(64 * 1024);
    fs.writeFileSync(file, data);
    const pool = new BytePool(8 * 1024, 1);
    const handles = await Promise.all([fs.promises.open(file), fs.promises.open(file)]);
    try {
      const readers = handles.map((h) => new BlockReader(h, data.length, 1024, pool));
      for (let i = 0; i < 64; i++) {
        for (const r of readers) {
          const got = await r.read(i * 1000, 500, () => new Error('short'));
          expect(got.equals(data.subarray(i * 1000, i * 1000 + 500))).toBe(true);
          expect(pool.total).toBeLessThanOrEqual(8 * 1024);
        }
      }
      expect(pool.total).toBeGreaterThan(4 * 1024);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });

  it('returns exact ranges within, across and beyond blocks, from one shared cache', async () => {
    const handle = await fs.promises.open(file, 'r');
    let reads = 0;
    const counting = {
      ...handle,
      read: (b: Buffer, o: number, l: number, p: number) => {
        reads++;
        return handle.read(b, o, l, p);
      },
      stat: () => handle.stat(),
      write: () => Promise.reject(new Error('read only')),
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
    try {
      const reader = new BlockReader(counting, data.length, 1024, 8 * 1024);
      const short = () => new Error('short');
      for (const [pos, len] of [
        [0, 10],
        [1000, 100], // crosses a block boundary
        [5, 3000], // spans four blocks
        [100_000, 20_000], // larger than 4 blocks: direct
        [data.length - 7, 7],
        [10, 0],
      ] as const) {
        expect((await reader.read(pos, len, short)).equals(data.subarray(pos, pos + len))).toBe(true);
      }
      const before = reads;
      await Promise.all([reader.read(0, 10, short), reader.read(20, 10, short), reader.read(1000, 30, short)]);
      expect(reads).toBe(before); // all cached
      expect((await caught(() => reader.read(data.length - 5, 10, short))).message).toBe('short');
    } finally {
      await handle.close();
    }
  });
});

describe('WindowReader', () => {
  it('serves chunks up to its limit and reloads when asked past its window', async () => {
    const handle = await fs.promises.open(file, 'r');
    try {
      const reader = new WindowReader(handle, 250_000, 64 * 1024);
      const first = await reader.chunk(0, 1000);
      expect(first.equals(data.subarray(0, 1000))).toBe(true);
      const far = await reader.chunk(200_000, 100_000); // clipped at the limit
      expect(far.equals(data.subarray(200_000, 250_000))).toBe(true);
      expect(first.equals(data.subarray(0, 1000))).toBe(true); // old views stay valid
      expect((await reader.chunk(250_000, 10)).length).toBe(0);
    } finally {
      await handle.close();
    }
  });
});

describe('inflate helpers', () => {
  const content = Buffer.from('streaming inflate '.repeat(50_000));
  const compressed = zlib.deflateSync(content);

  function source(buf: Buffer, chunk: number): () => Promise<Buffer> {
    let pos = 0;
    return async () => {
      const out = buf.subarray(pos, pos + chunk);
      pos += out.length;
      return out;
    };
  }

  it('finds the end of a stream followed by other data, whatever the chunking', async () => {
    const followed = Buffer.concat([compressed, Buffer.from('next entry bytes')]);
    for (const chunk of [1000, compressed.length, compressed.length - 1, 7777, followed.length]) {
      const parts: Buffer[] = [];
      const consumed = await inflateStreaming(source(followed, chunk), content.length, (b) => parts.push(Buffer.from(b)));
      expect(consumed, `chunk ${chunk}`).toBe(compressed.length);
      expect(Buffer.concat(parts).equals(content)).toBe(true);
    }
    expect(inflateExact(followed, content.length).consumed).toBe(compressed.length);
  });

  it('classifies failures', async () => {
    const problem = async (fn: () => Promise<unknown> | unknown) => {
      const err = await caught(fn);
      expect(err).toBeInstanceOf(InflateError);
      return (err as InflateError).problem;
    };
    const corrupt = Buffer.from(compressed);
    corrupt[100] ^= 0xff;
    expect(await problem(() => inflateStreaming(source(compressed, 5000), content.length - 1, () => {}))).toBe('too-long');
    expect(await problem(() => inflateStreaming(source(compressed, 5000), content.length + 1, () => {}))).toBe('too-short');
    expect(await problem(() => inflateStreaming(source(compressed.subarray(0, 500), 100), content.length, () => {}))).toBe('truncated');
    expect(await problem(() => inflateStreaming(source(corrupt, 5000), content.length, () => {}))).toBe('corrupt');
    expect(await problem(() => inflateExact(compressed, content.length - 1))).toBe('too-long');
    expect(await problem(() => inflateExact(compressed, content.length + 1))).toBe('too-short');
    expect(await problem(() => inflateExact(compressed.subarray(0, 500), content.length))).toBe('truncated');
    expect(await problem(() => inflateExact(corrupt, content.length))).toBe('corrupt');
    expect(inflateExact(zlib.deflateSync(Buffer.alloc(0)), 0).data.length).toBe(0);
    // Failures of the input itself are not disguised as bad zlib data.
    const diskError = new Error('disk on fire');
    expect(await caught(() => inflateStreaming(() => Promise.reject(diskError), 10, () => {}))).toBe(diskError);
  });
});
