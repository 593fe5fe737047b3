// The one reused zlib state behind inflateInto, and its public-API fallback: exact sizes, the compressed
// length with data after the stream, and a clean state after every kind of failure.
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InflateError, inflateInto, inflateIntoPortable } from '../../src/pack/inflate.js';

const problem = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return err instanceof InflateError ? err.problem : `other: ${String(err)}`;
  }
  return 'none';
};

describe.each([
  ['the reused native state', inflateInto],
  ['the public zlib API (the fallback)', inflateIntoPortable],
])('inflateInto through %s', (_name, into: typeof inflateInto) => {
  const inflateExact = (input: Buffer, size: number) => {
    const out = Buffer.allocUnsafe(size + 1);
    const consumed = into(input, out, 0, size);
    return { data: out.subarray(0, size), consumed };
  };
  const inflateInto = into;
  it('inflates exactly, reports the compressed length, and recovers after each failure', () => {
    const data = Buffer.from('hello, world\n'.repeat(50));
    const z = zlib.deflateSync(data);
    const corrupt = Buffer.from(z);
    corrupt[5] = corrupt[5]! ^ 0xff;
    const failures: [string, () => unknown][] = [
      ['truncated', () => inflateExact(z.subarray(0, z.length - 6), data.length)],
      ['too-long', () => inflateExact(z, data.length - 1)],
      ['too-short', () => inflateExact(z, data.length + 1)],
      ['corrupt', () => inflateExact(Buffer.from('not zlib at all'), 10)],
      ['corrupt', () => inflateExact(corrupt, data.length)],
    ];
    for (const [expected, fn] of failures) {
      expect(problem(fn)).toBe(expected);
      // the next call starts from a clean state
      const { data: out, consumed } = inflateExact(Buffer.concat([z, Buffer.from('next entry')]), data.length);
      expect(out.equals(data)).toBe(true);
      expect(consumed).toBe(z.length);
    }
    const into = Buffer.alloc(4 + data.length + 1, 0xaa);
    expect(inflateInto(z, into, 4, data.length)).toBe(z.length);
    expect(into.subarray(4, 4 + data.length).equals(data)).toBe(true);
    expect(into.subarray(0, 4).equals(Buffer.alloc(4, 0xaa))).toBe(true);
    expect(inflateExact(zlib.deflateSync(Buffer.alloc(0)), 0).data.length).toBe(0);
  });
});
