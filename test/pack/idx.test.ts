import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackIndex, writePackIndex } from '../../src/pack/idx.js';
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
    const unsorted = Buffer.from(idx);
    // Swap the first two object ids (same fanout bucket is not guaranteed, either check catches it).
    const a = Buffer.from(unsorted.subarray(1032, 1052));
    unsorted.copy(unsorted, 1032, 1052, 1072);
    a.copy(unsorted, 1052);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', idx.subarray(0, 500), /too short/],
      ['bad magic', badMagic, /signature/],
      ['bad version', reseal(badVersion), /version 3/],
      ['non-monotonic fanout', reseal(nonMonotonic), /not monotonic|does not fit/],
      ['bad checksum', flipped, /checksum/],
      ['missing bytes', reseal(idx.subarray(0, idx.length - 4)), /does not fit/],
      ['unsorted', reseal(unsorted), /not sorted|fanout/],
    ];
    for (const [name, buf, message] of cases) {
      const err = await caught(() => PackIndex.parse(buf));
      expect(err.code, name).toBe('CORRUPT_REPO');
      expect(err.message, name).toMatch(message);
    }
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
