import { describe, expect, it } from 'vitest';
import { applyDelta, deltaSizes } from '../../src/pack/delta.js';
import {
  encodeEntryHeader,
  encodeOfsDeltaOffset,
  parseEntryHeader,
  parseOfsDeltaOffset,
} from '../../src/pack/entry-header.js';
import { codeFromType, hashObject, typeFromCode } from '../../src/pack/types.js';
import { caught, git, removeDir, tempDir } from './helpers.js';

/** Little-endian base-128 varint, as used in delta headers. */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function delta(baseSize: number, resultSize: number, ops: number[]): Buffer {
  return Buffer.from([...varint(baseSize), ...varint(resultSize), ...ops]);
}

describe('types', () => {
  it('maps type codes both ways and rejects delta and unknown codes', async () => {
    expect(['commit', 'tree', 'blob', 'tag'].map((t) => codeFromType(t as never))).toEqual([1, 2, 3, 4]);
    expect([1, 2, 3, 4].map(typeFromCode)).toEqual(['commit', 'tree', 'blob', 'tag']);
    for (const code of [0, 5, 6, 7]) expect((await caught(() => typeFromCode(code))).code).toBe('BAD_PACK');
  });

  it('hashes objects like git hash-object', () => {
    const dir = tempDir();
    const content = Buffer.from('hello pack\n');
    const expected = git(dir, ['hash-object', '--stdin'], content).toString().trim();
    removeDir(dir);
    expect(hashObject('blob', content).toString('hex')).toBe(expected);
    expect(hashObject('blob', Buffer.alloc(0)).toString('hex')).toBe('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
  });
});

describe('entry header codec', () => {
  it('round-trips sizes of every length', () => {
    for (const size of [0, 1, 15, 16, 127, 128, 2047, 2048, 0x7fffffff, 2 ** 32 + 5, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
      for (const type of [1, 3, 6, 7]) {
        const bytes = encodeEntryHeader(type, size);
        const parsed = parseEntryHeader(Buffer.concat([Buffer.from([9, 9]), bytes, Buffer.from([0xff])]), 2);
        expect(parsed).toEqual({ typeCode: type, size, length: bytes.length });
      }
    }
  });

  it('matches known encodings', () => {
    expect([...encodeEntryHeader(3, 15)]).toEqual([0x3f]);
    expect([...encodeEntryHeader(3, 16)]).toEqual([0xb0, 0x01]);
    expect([...encodeEntryHeader(1, 300)]).toEqual([0x9c, 0x12]);
  });

  it('reports incomplete headers as null and oversized ones as BAD_PACK', async () => {
    expect(parseEntryHeader(Buffer.from([0xb0]), 0)).toBeNull();
    expect(parseEntryHeader(Buffer.from([0xb0, 0x81, 0x01]), 0, 2)).toBeNull();
    expect(parseEntryHeader(Buffer.alloc(0), 0)).toBeNull();
    const huge = Buffer.from([0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    expect((await caught(() => parseEntryHeader(huge, 0))).code).toBe('BAD_PACK');
  });

  it('round-trips ofs-delta distances and matches git encoding', () => {
    expect([...encodeOfsDeltaOffset(1)]).toEqual([0x01]);
    expect([...encodeOfsDeltaOffset(127)]).toEqual([0x7f]);
    expect([...encodeOfsDeltaOffset(128)]).toEqual([0x80, 0x00]);
    expect([...encodeOfsDeltaOffset(16511)]).toEqual([0xff, 0x7f]);
    expect([...encodeOfsDeltaOffset(16512)]).toEqual([0x80, 0x80, 0x00]);
    for (const d of [1, 100, 127, 128, 129, 16511, 16512, 2 ** 21, 2 ** 31 + 7, 2 ** 35 + 3, 2 ** 50]) {
      const bytes = encodeOfsDeltaOffset(d);
      expect(parseOfsDeltaOffset(Buffer.concat([bytes, Buffer.from([0xaa])]), 0)).toEqual({ distance: d, length: bytes.length });
    }
    expect(parseOfsDeltaOffset(Buffer.from([0x80]), 0)).toBeNull();
  });
});

describe('applyDelta', () => {
  const base = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

  it('copies and inserts', () => {
    // copy offset 10 size 6 ("abcdef"), insert "XY", copy offset 0 size 3
    const d = delta(base.length, 11, [0x91, 10, 6, 2, 0x58, 0x59, 0x90, 3]);
    expect(applyDelta(base, d).toString()).toBe('abcdefXY012');
    expect(deltaSizes(d)).toEqual({ baseSize: base.length, resultSize: 11 });
  });

  it('decodes sparse offset/size bytes and size 0 as 0x10000', () => {
    const big = Buffer.alloc(0x30000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    // offset2 only (offset 0x100) and no size bytes (size 0x10000)
    const d1 = delta(big.length, 0x10000, [0x82, 0x01]);
    expect(applyDelta(big, d1).equals(big.subarray(0x100, 0x10100))).toBe(true);
    // offset3 only, size2 only: offset 0x020000, size 0x0100
    const d2 = delta(big.length, 0x100, [0xa4, 0x02, 0x01]);
    expect(applyDelta(big, d2).equals(big.subarray(0x20000, 0x20100))).toBe(true);
  });

  it('rejects malformed deltas', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['base size mismatch', delta(5, 1, [1, 0x41]), /base of 5 bytes/],
      ['copy past base end', delta(base.length, 10, [0x91, 30, 10]), /copies bytes 30\.\.40/],
      ['copy beyond result', delta(base.length, 2, [0x90, 3]), /past its declared result/],
      ['insert beyond result', delta(base.length, 1, [2, 0x41, 0x42]), /past its declared result/],
      ['truncated insert', delta(base.length, 3, [3, 0x41]), /truncated inside an insert/],
      ['truncated copy', delta(base.length, 3, [0x91, 1]), /truncated inside a copy/],
      ['reserved opcode', delta(base.length, 1, [0]), /reserved instruction 0/],
      ['result too short', delta(base.length, 5, [2, 0x41, 0x42]), /produced 2 bytes but declares 5/],
      ['truncated header', Buffer.from([0x80]), /truncated in its base size/],
      ['missing result size', Buffer.from([0x05]), /truncated in its result size/],
      ['absurd result size', delta(base.length, 2 ** 45, [0x90, 3]), /impossible/],
    ];
    for (const [name, d, message] of cases) {
      const err = await caught(() => applyDelta(base, d));
      expect(err.code, name).toBe('BAD_PACK');
      expect(err.message, name).toMatch(message);
    }
  });
});
