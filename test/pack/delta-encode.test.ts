// createDelta round-trips through applyDelta (the decoder that checks every range) on edits
// of every kind, and stays small when the target is mostly its base.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyDelta } from '../../src/pack/delta.js';
import { createDelta } from '../../src/pack/delta-encode.js';

function edit(base: Buffer, seed: number): Buffer {
  let rnd = seed;
  const next = (n: number) => {
    rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
    return rnd % Math.max(1, n);
  };
  let out = Buffer.from(base);
  for (let k = 0; k < 1 + next(6); k++) {
    const at = next(out.length);
    const kind = next(3);
    const bytes = crypto.createHash('sha256').update(`${seed}:${k}`).digest().subarray(0, 1 + next(32));
    if (kind === 0) out = Buffer.concat([out.subarray(0, at), bytes, out.subarray(at)]);
    else if (kind === 1) out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + next(200)))]);
    else out = Buffer.concat([out.subarray(0, at), bytes, out.subarray(Math.min(out.length, at + bytes.length))]);
  }
  return out;
}

const text = (lines: number) => Buffer.from(Array.from({ length: lines }, (_, i) => `line ${i} of some source text, ${i % 7}\n`).join(''));

describe('createDelta', () => {
  it('round-trips random edits of text and binary bases through applyDelta', () => {
    const bases = [text(2000), crypto.randomBytes(50_000), text(3), Buffer.alloc(0), Buffer.alloc(70_000, 0x61)];
    for (const [b, base] of bases.entries()) {
      for (let seed = 1; seed <= 40; seed++) {
        const target = edit(base, seed * 31 + b);
        const delta = createDelta(base, target, Number.MAX_SAFE_INTEGER)!;
        expect(applyDelta(base, delta).equals(target), `base ${b}, seed ${seed}`).toBe(true);
      }
    }
  });

  it('copies what the target shares with its base: a one-line change costs bytes, not the file', () => {
    const base = text(5000); // ~190 KB
    const target = Buffer.from(base.toString().replace('line 2500 of', 'line 2500 (changed) of'));
    const delta = createDelta(base, target)!;
    expect(applyDelta(base, delta).equals(target)).toBe(true);
    expect(delta.length).toBeLessThan(1024);
  });

  it('gives up (null) when the delta would not be smaller than the limit', () => {
    expect(createDelta(crypto.randomBytes(4096), crypto.randomBytes(4096))).toBeNull();
  });
});
