import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackIndex, dropReverseIndexes, writePackIndex } from '../../src/pack/idx.js';
import { BytePool } from '../../src/pack/lru-cache.js';
import { STORAGE_KINDS, makeStorage, type TestStorage } from '../helpers/storage.js';
import { caught, fixtureRepo, git, gitIndexPack, removeDir, repackedFiles, showIndex, tempDir, verifyPack } from './helpers.js';

let repo: string;
let work: string;
let pack: Buffer;
let idx: Buffer;
let packPath: string;

beforeAll(() => {
  repo = fixtureRepo();
  work = tempDir();
  git(repo, ['repack', '-adf', '-q']);
  ({ pack, idx, packPath } = repackedFiles(repo));
});

afterAll(() => {
  removeDir(repo);
  removeDir(work);
});

/** Recomputes an index's trailing SHA-1 after a test edits it. */
function reseal(buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  createHash('sha1').update(out.subarray(0, out.length - 20)).digest().copy(out, out.length - 20);
  return out;
}

describe('PackIndex.parse', () => {
  it('reads every entry as git show-index does', () => {
    const index = PackIndex.parse(idx);
    const expected = showIndex(idx, work);
    expect(index.count).toBe(expected.length);
    expect(index.count).toBeGreaterThan(50);
    const actual = Array.from({ length: index.count }, (_, i) => ({
      offset: index.offsetAt(i),
      oid: index.oidAt(i).toString('hex'),
      crc: index.crcAt(i),
    }));
    expect(actual.sort((a, b) => a.offset - b.offset)).toEqual(expected.sort((a, b) => a.offset - b.offset));
    expect(index.packChecksum.equals(pack.subarray(pack.length - 20))).toBe(true);
  });

  it('finds every object at the offset git verify-pack reports, and nothing else', () => {
    const index = PackIndex.parse(idx);
    const lines = verifyPack(packPath);
    expect(lines.length).toBe(index.count);
    for (const line of lines) {
      const oid = Buffer.from(line.oid, 'hex');
      expect(index.offsetOf(oid)).toBe(line.offset);
      expect(index.oidAt(index.find(oid)).equals(oid)).toBe(true);
      // Same first byte, different id: exercises the search inside a fanout bucket.
      const other = Buffer.from(oid);
      other[19] ^= 1;
      if (!lines.some((l) => l.oid === other.toString('hex'))) expect(index.find(other)).toBe(-1);
    }
    expect(index.find(Buffer.alloc(20, 0))).toBe(-1);
    expect(index.find(Buffer.alloc(20, 0xff))).toBe(-1);
    expect(index.find(Buffer.alloc(19))).toBe(-1);
  });

  it('returns sorted offsets for finding entry ends', () => {
    const index = PackIndex.parse(idx);
    const sorted = Array.from(index.sortedOffsets());
    expect(sorted).toEqual(
      verifyPack(packPath)
        .map((l) => l.offset)
        .sort((a, b) => a - b),
    );
    expect(index.sortedOffsets()).toBe(index.sortedOffsets()); // cached
  });

  it('an idle server drops reverse indexes unused since the cutoff, and rebuilds them on demand', async () => {
    dropReverseIndexes(Infinity); // those of the tests before
    const index = PackIndex.parse(idx);
    const first = index.sortedOffsets();
    const someOffset = first[Math.floor(first.length / 2)]!;
    const oid = index.oidAtOffset(someOffset)!;
    expect(dropReverseIndexes(Date.now() - 60_000)).toBe(0); // used since: kept
    expect(index.sortedOffsets()).toBe(first);
    // oidAtOffset alone counts as a use too
    index.oidAtOffset(someOffset);
    expect(dropReverseIndexes(Date.now() + 1)).toBe(0);
    expect(dropReverseIndexes(Date.now() + 60_000)).toBe(first.byteLength + 4 * index.count);
    const rebuilt = index.sortedOffsets();
    expect(rebuilt).not.toBe(first);
    expect(Array.from(rebuilt)).toEqual(Array.from(first));
    expect(index.oidAtOffset(someOffset)!.equals(oid)).toBe(true);
    await index.close(); // closing forgets it
    expect(dropReverseIndexes(Infinity)).toBe(0);
  });

  it("takes a .rev's pack order as its reverse index only when its offsets ascend", () => {
    const derived = PackIndex.parse(idx);
    const order = Uint32Array.from(derived.packOrder());
    const byOffset = verifyPack(packPath)
      .sort((a, b) => a.offset - b.offset)
      .map((l) => l.oid);
    expect([...order].map((i) => derived.oidAt(i).toString('hex'))).toEqual(byOffset);
    const swapped = Uint32Array.from(order);
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    const fresh = PackIndex.parse(idx);
    expect(fresh.adoptPackOrder(swapped)).toBe(false);
    expect(fresh.adoptPackOrder(order.subarray(1))).toBe(false);
    expect(fresh.adoptPackOrder(order)).toBe(true);
    expect(fresh.packOrder()).toBe(order); // no sort: the one given
    expect(Array.from(fresh.sortedOffsets())).toEqual(Array.from(derived.sortedOffsets()));
    for (const off of derived.sortedOffsets()) expect(fresh.oidAtOffset(off)!.equals(derived.oidAtOffset(off)!)).toBe(true);
    dropReverseIndexes(Infinity);
  });

  it('refuses an index listing two objects at one offset when its reverse index is built', () => {
    const count = PackIndex.parse(idx).count;
    const bad = Buffer.from(idx);
    const offsetsAt = 8 + 1024 + count * 24;
    bad.copy(bad, offsetsAt + 4, offsetsAt, offsetsAt + 4);
    const index = PackIndex.parse(reseal(bad));
    expect(() => index.sortedOffsets()).toThrow(/two objects at one offset/);
  });

  it('reads 64-bit offsets (git index-pack --index-version=2,<limit>)', () => {
    const { idxPath } = gitIndexPack(work, 'large', pack, ['--index-version=2,1000']);
    const largeIdx = fs.readFileSync(idxPath);
    expect(largeIdx.length).toBeGreaterThan(idx.length); // it really has a 64-bit table
    const index = PackIndex.parse(largeIdx);
    const small = PackIndex.parse(idx);
    for (let i = 0; i < index.count; i++) expect(index.offsetAt(i)).toBe(small.offsetAt(i));
  });

  it('rejects corrupt indexes with CORRUPT_REPO', async () => {
    const badMagic = reseal(idx);
    badMagic[0] = 0;
    const badVersion = Buffer.from(idx);
    badVersion.writeUInt32BE(3, 4);
    const nonMonotonic = Buffer.from(idx);
    nonMonotonic.writeUInt32BE(nonMonotonic.readUInt32BE(8 + 4 * 200) + 1, 8 + 4 * 100);
    const flipped = Buffer.from(idx);
    flipped[2000] ^= 1;
    const unsorted = swapFirstIds(idx);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', idx.subarray(0, 500), /too short/],
      ['bad magic', badMagic, /signature/],
      ['bad version', reseal(badVersion), /version 3/],
      ['non-monotonic fanout', reseal(nonMonotonic), /not monotonic|does not fit/],
      ['bad checksum', flipped, /checksum/],
      ['missing bytes', reseal(idx.subarray(0, idx.length - 4)), /does not fit/],
      ['unsorted', reseal(unsorted), /not sorted|fanout/],
      ['unsorted after equal first 4 bytes', reseal(samePrefixUnsorted(idx)), /not sorted/],
    ];
    for (const [name, buf, message] of cases) {
      const err = await caught(() => PackIndex.parse(buf));
      expect(err.code, name).toBe('CORRUPT_REPO');
      expect(err.message, name).toMatch(message);
    }
  });
});

describe.each(STORAGE_KINDS)('PackIndex.open over %s storage (read as lookups need it)', (kind) => {
  let t: TestStorage;
  beforeAll(() => {
    t = makeStorage(kind);
  });
  afterAll(() => t.cleanup());

  async function stored(name: string, buf: Buffer): Promise<string> {
    const p = `${t.storage.root}/${name}.idx`;
    await t.storage.mkdir(t.storage.root);
    await t.storage.writeFile(p, buf);
    return p;
  }

  /** A tiny block budget: nearly every lookup reads the file again. */
  const open = async (p: string, pool = new BytePool(8192, 1)) => PackIndex.open(await t.storage.openRandomAccess(p), pool);

  it('answers every question as the index read whole does', async () => {
    const whole = PackIndex.parse(idx);
    const lazy = await open(await stored('same', idx));
    expect(lazy.count).toBe(whole.count);
    expect(lazy.packChecksum.equals(whole.packChecksum)).toBe(true);
    for (const line of verifyPack(packPath)) {
      const oid = Buffer.from(line.oid, 'hex');
      const i = lazy.find(oid);
      expect(i).toBe(whole.find(oid));
      expect(lazy.offsetOf(oid)).toBe(line.offset);
      expect(lazy.oidAt(i).equals(oid)).toBe(true);
      expect(lazy.crcAt(i)).toBe(whole.crcAt(i));
      const other = Buffer.from(oid);
      other[19] ^= 1;
      expect(lazy.find(other)).toBe(whole.find(other));
    }
    expect(Array.from(lazy.sortedOffsets())).toEqual(Array.from(whole.sortedOffsets()));
    await lazy.close();
  });

  it('tells apart ids that share their first 4 bytes (the prefixes kept in memory)', async () => {
    const id = (prefix: string, tail: number) => Buffer.concat([Buffer.from(prefix, 'hex'), createHash('sha1').update(String(tail)).digest().subarray(4)]);
    // three ids with one prefix, a fourth with the next prefix, 200 ids around them
    const entries = [id('0a0b0c0d', 1), id('0a0b0c0d', 2), id('0a0b0c0d', 3), id('0a0b0c0e', 4)].map((oid, n) => ({ oid, offset: 12 + n * 100, crc: n }));
    for (let n = 0; n < 200; n++) entries.push({ oid: createHash('sha1').update(`x${n}`).digest(), offset: 1000 + n * 10, crc: 7 });
    const lazy = await open(await stored('prefixes', writePackIndex(entries, Buffer.alloc(20, 3))));
    for (const e of entries) expect(lazy.offsetOf(e.oid)).toBe(e.offset);
    const absent = id('0a0b0c0d', 9);
    expect(lazy.find(absent)).toBe(-1);
    expect(lazy.find(id('0a0b0c0c', 1))).toBe(-1);
    expect(lazy.find(id('ffffffff', 1))).toBe(-1);
    await lazy.close();
  });

  it('keeps its blocks within the budget it is given', async () => {
    const pool = new BytePool(8192, 1);
    const lazy = await open(await stored('budget', idx), pool);
    for (let i = 0; i < lazy.count; i++) lazy.find(Buffer.from(lazy.oidAt(i)));
    expect(pool.total).toBeGreaterThan(0);
    expect(pool.total).toBeLessThanOrEqual(8192);
    await lazy.close();
    expect(pool.total).toBe(0);
  });

  it('refuses corrupt and truncated files with CORRUPT_REPO, as parse does', async () => {
    const flipped = Buffer.from(idx);
    flipped[2000] ^= 1; // an object id: only the checksum over the whole file catches it
    const unsorted = swapFirstIds(idx);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', idx.subarray(0, 500), /too short/],
      ['cut short', idx.subarray(0, idx.length - 4), /does not fit/],
      ['bad checksum', flipped, /checksum/],
      ['unsorted', reseal(unsorted), /not sorted|fanout/],
      ['empty', Buffer.alloc(0), /too short/],
    ];
    for (const [name, buf, message] of cases) {
      const err = await caught(async () => open(await stored(`bad-${name.replace(/ /g, '-')}`, buf)));
      expect(err.code, name).toBe('CORRUPT_REPO');
      expect(err.message, name).toMatch(message);
    }
  });

  it('fails a lookup, never answers wrongly, when the file is cut short after opening', async () => {
    const p = await stored('cut-later', idx);
    const lazy = await open(p, new BytePool(0));
    const last = verifyPack(packPath).map((l) => Buffer.from(l.oid, 'hex')).sort(Buffer.compare).pop()!;
    expect(lazy.offsetOf(last)).toBeGreaterThan(0);
    await t.storage.writeFile(p, idx.subarray(0, 2000)); // in place (a rename would keep the old file open)
    const err = await caught(async () => lazy.offsetOf(last));
    expect(err.code).toBe('CORRUPT_REPO');
    await lazy.close();
  });
});

describe('writePackIndex', () => {
  function entriesOf(index: PackIndex) {
    return Array.from({ length: index.count }, (_, i) => ({
      oid: Buffer.from(index.oidAt(i)),
      offset: index.offsetAt(i),
      crc: index.crcAt(i),
    })).reverse(); // the writer must sort
  }

  it('writes byte-identical output to git index-pack', () => {
    const index = PackIndex.parse(idx);
    const { idxPath } = gitIndexPack(work, 'same', pack);
    const gitIdx = fs.readFileSync(idxPath);
    expect(writePackIndex(entriesOf(index), index.packChecksum).equals(gitIdx)).toBe(true);
  });

  it('writes the 64-bit offset table as git does', () => {
    const index = PackIndex.parse(idx);
    const { idxPath } = gitIndexPack(work, 'large2', pack, ['--index-version=2,5000']);
    const gitIdx = fs.readFileSync(idxPath);
    expect(writePackIndex(entriesOf(index), index.packChecksum, { off32Limit: 5000 }).equals(gitIdx)).toBe(true);
  });

  it('stores offsets of 2^31 and beyond in the 64-bit table', () => {
    const oid = (n: number) => createHash('sha1').update(String(n)).digest();
    const entries = [
      { oid: oid(1), offset: 12, crc: 1 },
      { oid: oid(2), offset: 0x7fffffff, crc: 0xffffffff },
      { oid: oid(3), offset: 0x80000000, crc: 3 },
      { oid: oid(4), offset: 5 * 2 ** 32 + 17, crc: 4 },
    ];
    const buf = writePackIndex(entries, Buffer.alloc(20, 7));
    expect(buf.length).toBe(8 + 1024 + 4 * 28 + 2 * 8 + 40);
    const index = PackIndex.parse(buf);
    for (const e of entries) {
      const i = index.find(e.oid);
      expect(index.offsetAt(i)).toBe(e.offset);
      expect(index.crcAt(i)).toBe(e.crc);
    }
    expect(Array.from(index.sortedOffsets())).toEqual(entries.map((e) => e.offset));
  });

  it('writes an empty index that parses', () => {
    const index = PackIndex.parse(writePackIndex([], Buffer.alloc(20, 1)));
    expect(index.count).toBe(0);
    expect(index.find(Buffer.alloc(20))).toBe(-1);
  });
});

/** A copy of `idx` with its first two object ids swapped (same fanout bucket is not guaranteed: the order or the fanout check catches it). */
/** The second id given the first one's 4-byte prefix but sorting before it after that. */
function samePrefixUnsorted(idx: Buffer): Buffer {
  const out = Buffer.from(idx);
  idx.copy(out, 1052, 1032, 1036);
  out.fill(0xff, 1036, 1052);
  out.fill(0x00, 1056, 1072);
  return out;
}

function swapFirstIds(idx: Buffer): Buffer {
  const out = Buffer.from(idx);
  idx.copy(out, 1032, 1052, 1072);
  idx.copy(out, 1052, 1032, 1052);
  return out;
}
