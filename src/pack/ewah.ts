// EWAH-compressed bitmaps as C Git and JGit store them (bitmap-format, Appendix A), and the
// plain growable bitset they decode into. A 64-bit EWAH word k holds bits 64k..64k+63, lowest
// first; here it is two 32-bit halves (low at 2k, high at 2k+1), so bit i is word i>>5.
//
// Serialized: u32 bit count, u32 word count, that many u64 words, u32 position of the last
// run-length word (all big-endian). A run-length word (RLW) holds, from its lowest bit: the
// repeated bit (1), the run length in words (32), the number of literal words that follow (31).

/** A set of non-negative integers (bit positions), growing as needed. */
export class Bitset {
  words: Uint32Array;

  constructor(bits = 0) {
    this.words = new Uint32Array(Math.max(2, ((bits + 63) >>> 6) * 2));
  }

  private ensure(words32: number): void {
    if (words32 <= this.words.length) return;
    let n = this.words.length;
    while (n < words32) n *= 2;
    const grown = new Uint32Array(n + (n & 1));
    grown.set(this.words);
    this.words = grown;
  }

  has(i: number): boolean {
    const w = i >>> 5;
    return w < this.words.length && (this.words[w]! & (1 << (i & 31))) !== 0;
  }

  /** Set bit i; false when it was already set. */
  add(i: number): boolean {
    const w = i >>> 5;
    this.ensure(w + 1);
    const m = 1 << (i & 31);
    if (this.words[w]! & m) return false;
    this.words[w]! |= m;
    return true;
  }

  or(other: Bitset): this {
    this.ensure(other.words.length);
    const a = this.words;
    const b = other.words;
    for (let k = 0; k < b.length; k++) a[k]! |= b[k]!;
    return this;
  }

  xor(other: Bitset): this {
    this.ensure(other.words.length);
    const a = this.words;
    const b = other.words;
    for (let k = 0; k < b.length; k++) a[k]! ^= b[k]!;
    return this;
  }

  andNot(other: Bitset): this {
    const a = this.words;
    const b = other.words;
    const n = Math.min(a.length, b.length);
    for (let k = 0; k < n; k++) a[k]! &= ~b[k]!;
    return this;
  }

  /** Any bit shared with `other`? */
  intersects(other: Bitset): boolean {
    const n = Math.min(this.words.length, other.words.length);
    for (let k = 0; k < n; k++) if ((this.words[k]! & other.words[k]!) !== 0) return true;
    return false;
  }

  clone(): Bitset {
    const c = new Bitset(0);
    c.words = this.words.slice();
    return c;
  }

  get size(): number {
    let n = 0;
    for (const w of this.words) n += popcount(w);
    return n;
  }

  /** One past the highest set bit (0 when empty). */
  get length(): number {
    for (let k = this.words.length - 1; k >= 0; k--) {
      const w = this.words[k]!;
      if (w !== 0) return k * 32 + (32 - Math.clz32(w));
    }
    return 0;
  }

  /** The lowest set bit at or after `from` (≥ 0), or -1: a loop over it allocates nothing, unlike the iterator. */
  nextSet(from: number): number {
    const words = this.words;
    let k = from >>> 5;
    if (k >= words.length) return -1;
    let w = words[k]! & (-1 << (from & 31));
    while (w === 0) {
      if (++k >= words.length) return -1;
      w = words[k]!;
    }
    return k * 32 + 31 - Math.clz32(w & -w);
  }

  /** How many bits below `limit` this and `other` both hold. */
  countAnd(other: Bitset, limit: number): number {
    const a = this.words;
    const b = other.words;
    const full = Math.min(limit >>> 5, a.length, b.length);
    let n = 0;
    for (let k = 0; k < full; k++) n += popcount(a[k]! & b[k]!);
    const end = Math.min(limit, Math.min(a.length, b.length) * 32);
    for (let i = full << 5; i < end; i++) if (this.has(i) && other.has(i)) n++;
    return n;
  }

  /** Set bits in ascending order. */
  *[Symbol.iterator](): IterableIterator<number> {
    const words = this.words;
    for (let k = 0; k < words.length; k++) {
      let w = words[k]!;
      while (w !== 0) {
        const low = w & -w;
        yield k * 32 + 31 - Math.clz32(low);
        w ^= low;
      }
    }
  }
}

function popcount(w: number): number {
  w -= (w >>> 1) & 0x55555555;
  w = (w & 0x33333333) + ((w >>> 2) & 0x33333333);
  return (((w + (w >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export class EwahError extends Error {}

/** Where an EWAH bitmap ends, after checking that its structure is sound; throws EwahError. */
export function ewahEnd(buf: Buffer, at: number, maxBits: number): number {
  return scan(buf, at, maxBits, null);
}

/** Decode the EWAH bitmap at `buf[at]`; `maxBits` bounds the positions it may set. */
export function decodeEwah(buf: Buffer, at: number, maxBits: number): { bits: Bitset; end: number } {
  const bits = new Bitset(maxBits);
  const end = scan(buf, at, maxBits, bits.words);
  return { bits, end };
}

const MAX_RUN = 0xffffffff;
const MAX_LITERALS = 0x7fffffff;

function scan(buf: Buffer, at: number, maxBits: number, out: Uint32Array | null): number {
  if (at + 8 > buf.length) throw new EwahError('truncated EWAH header');
  const bitSize = buf.readUInt32BE(at);
  const count = buf.readUInt32BE(at + 4);
  const data = at + 8;
  const end = data + count * 8 + 4;
  if (!(count >= 0) || end > buf.length) throw new EwahError('truncated EWAH bitmap');
  const rlwPos = buf.readUInt32BE(end - 4);
  if (count > 0 && rlwPos >= count) throw new EwahError('EWAH RLW position out of range');
  const maxWords = Math.ceil(maxBits / 64);
  if (Math.ceil(bitSize / 64) > maxWords) throw new EwahError('EWAH bitmap larger than the pack');
  let word = 0; // 64-bit output word number
  let lastRlw = -1;
  for (let i = 0; i < count; ) {
    lastRlw = i;
    const hi = buf.readUInt32BE(data + i * 8);
    const lo = buf.readUInt32BE(data + i * 8 + 4);
    i++;
    const bit = lo & 1;
    const run = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    const literals = hi >>> 1;
    if (i + literals > count) throw new EwahError('EWAH literal words run past the end');
    if (word + run + literals > maxWords) throw new EwahError('EWAH bitmap sets bits beyond the pack');
    if (out && bit) out.fill(0xffffffff, word * 2, (word + run) * 2);
    word += run;
    if (out) {
      for (let k = 0; k < literals; k++) {
        const p = data + (i + k) * 8;
        out[word * 2 + k * 2] = buf.readUInt32BE(p + 4);
        out[word * 2 + k * 2 + 1] = buf.readUInt32BE(p);
      }
    }
    word += literals;
    i += literals;
  }
  if (count > 0 && lastRlw !== rlwPos) throw new EwahError('EWAH RLW position does not match its words');
  // bits beyond maxBits in the last word must be clear
  if (out && maxBits % 64 !== 0 && word * 64 > maxBits) {
    for (let b = maxBits; b < word * 64; b++) {
      if (out[b >>> 5]! & (1 << (b & 31))) throw new EwahError('EWAH bitmap sets bits beyond the pack');
    }
  }
  return end;
}

/** Serialize as EWAH (trailing empty words dropped, as C Git's bitmap_to_ewah does). */
export function encodeEwah(bits: Bitset): Buffer {
  const src = bits.words;
  let nwords = src.length >>> 1;
  while (nwords > 0 && src[nwords * 2 - 2] === 0 && src[nwords * 2 - 1] === 0) nwords--;
  // worst case: one RLW per literal block plus all literals
  const out: number[] = []; // pairs (hi, lo) pushed as two numbers
  let rlw = 0; // index (in 64-bit words) of the current RLW
  let runBit = 0;
  let run = 0;
  let literals = 0;
  const flush = () => {
    out[rlw * 2] = ((literals << 1) | (run >>> 31)) >>> 0;
    out[rlw * 2 + 1] = (((run << 1) >>> 0) | runBit) >>> 0;
  };
  const newRlw = () => {
    flush();
    rlw = out.length / 2;
    out.push(0, 0);
    runBit = 0;
    run = 0;
    literals = 0;
  };
  out.push(0, 0);
  for (let k = 0; k < nwords; k++) {
    const lo = src[k * 2]!;
    const hi = src[k * 2 + 1]!;
    const clean = (lo === 0 && hi === 0) || (lo === 0xffffffff && hi === 0xffffffff);
    if (clean) {
      const b = lo === 0 ? 0 : 1;
      if (literals === 0 && (run === 0 || runBit === b) && run < MAX_RUN) {
        runBit = b;
        run++;
        continue;
      }
      newRlw();
      runBit = b;
      run = 1;
      continue;
    }
    if (literals >= MAX_LITERALS) newRlw();
    literals++;
    out.push(hi, lo);
  }
  flush();
  const count = out.length / 2;
  const buf = Buffer.allocUnsafe(8 + count * 8 + 4);
  buf.writeUInt32BE(nwords * 64, 0);
  buf.writeUInt32BE(count, 4);
  for (let k = 0; k < out.length; k++) buf.writeUInt32BE(out[k]!, 8 + k * 4);
  buf.writeUInt32BE(rlw, 8 + count * 8);
  return buf;
}
