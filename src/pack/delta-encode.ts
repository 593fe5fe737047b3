// Creating deltas in git's format (the inverse of delta.ts's applyDelta), for thin packs: a
// changed file goes to a client that has its previous version as a few copy instructions
// plus the new bytes. Like C Git's diff-delta.c: the base is indexed by the hash of each
// aligned 16-byte block, the target scanned with a rolling hash, matches extended both ways.

const WINDOW = 16;
/** Candidates looked at per position: bounds the work on repetitive bases. */
const MAX_CHAIN = 32;
/** Largest copy one instruction encodes (3 size bytes). */
const MAX_COPY = 0xffffff;
const MAX_INSERT = 0x7f;
const PRIME = 0x01000193;

function pushSize(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

function windowHash(buf: Buffer, at: number): number {
  let h = 0;
  for (let k = 0; k < WINDOW; k++) h = (Math.imul(h, PRIME) + buf[at + k]!) | 0;
  return h;
}

/** PRIME^WINDOW mod 2^32: what the byte leaving the window weighs once the next one is in. */
const OUT_WEIGHT = (() => {
  let w = 1;
  for (let k = 0; k < WINDOW; k++) w = Math.imul(w, PRIME);
  return w;
})();

const bucketOf = (h: number, mask: number) => (h ^ (h >>> 13) ^ (h >>> 23)) & mask;

/**
 * A delta turning `base` into `target`, or null when it would not be smaller than
 * `maxSize` bytes (by default half the target: a delta barely smaller is not worth it).
 */
export function createDelta(base: Buffer, target: Buffer, maxSize = Math.floor(target.length / 2)): Buffer | null {
  const out: number[] = [];
  pushSize(out, base.length);
  pushSize(out, target.length);
  const blocks = Math.floor(base.length / WINDOW);
  let bits = 4;
  while (1 << bits < blocks) bits++;
  const mask = (1 << bits) - 1;
  const heads = new Int32Array(mask + 1).fill(-1);
  const next = new Int32Array(Math.max(blocks, 1));
  // later blocks first in each chain: as C Git, prefer the copy nearest the end
  for (let b = 0; b < blocks; b++) {
    const slot = bucketOf(windowHash(base, b * WINDOW), mask);
    next[b] = heads[slot]!;
    heads[slot] = b;
  }

  let lit = 0; // start of the pending literal run
  const flushLiteral = (end: number) => {
    for (let p = lit; p < end; ) {
      const n = Math.min(MAX_INSERT, end - p);
      out.push(n);
      for (let k = 0; k < n; k++) out.push(target[p + k]!);
      p += n;
    }
  };
  const pushCopy = (offset: number, size: number) => {
    const at = out.length;
    let cmd = 0x80;
    out.push(0);
    for (let k = 0; k < 4; k++) {
      const byte = Math.floor(offset / 2 ** (8 * k)) & 0xff;
      if (byte) {
        cmd |= 1 << k;
        out.push(byte);
      }
    }
    for (let k = 0; k < 3; k++) {
      const byte = (size >>> (8 * k)) & 0xff;
      if (byte) {
        cmd |= 0x10 << k;
        out.push(byte);
      }
    }
    out[at] = cmd;
  };

  let i = 0;
  let h = target.length >= WINDOW && blocks > 0 ? windowHash(target, 0) : 0;
  while (blocks > 0 && i + WINDOW <= target.length) {
    if (out.length > maxSize) return null;
    let bestLen = 0;
    let bestAt = 0;
    let chain = 0;
    for (let b = heads[bucketOf(h, mask)]!; b >= 0 && chain < MAX_CHAIN; b = next[b]!, chain++) {
      const at = b * WINDOW;
      let len = 0;
      const limit = Math.min(base.length - at, target.length - i);
      while (len < limit && base[at + len] === target[i + len]) len++;
      if (len > bestLen) {
        bestLen = len;
        bestAt = at;
      }
    }
    if (bestLen < WINDOW) {
      // no match here: slide the window one byte
      if (i + WINDOW < target.length) h = (Math.imul(h, PRIME) - Math.imul(target[i]!, OUT_WEIGHT) + target[i + WINDOW]!) | 0;
      i++;
      continue;
    }
    // take back literal bytes that also precede the match in the base
    while (bestAt > 0 && i > lit && base[bestAt - 1] === target[i - 1]) {
      bestAt--;
      i--;
      bestLen++;
    }
    flushLiteral(i);
    for (let left = bestLen, at = bestAt; left > 0; ) {
      const n = Math.min(MAX_COPY, left);
      pushCopy(at, n);
      at += n;
      left -= n;
    }
    i += bestLen;
    lit = i;
    if (i + WINDOW <= target.length) h = windowHash(target, i);
  }
  flushLiteral(target.length);
  if (out.length > maxSize) return null;
  return Buffer.from(out);
}
