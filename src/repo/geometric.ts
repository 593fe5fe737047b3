// Which packs a geometric repack rolls up (C Git's `git repack --geometric=<factor>`): pure
// arithmetic over object counts, no I/O.

/**
 * How many of the packs (object counts sorted ascending) to roll up so the rest form a
 * geometric progression with `factor` (C Git's split_pack_geometry). `extra` is the weight of
 * loose objects that go into the new pack as well.
 */
export function geometricSplit(counts: readonly number[], factor = 2, extra = 0): number {
  const n = counts.length;
  if (n === 0) return 0;
  let i = n - 1;
  for (; i > 0; i--) {
    if (counts[i]! < factor * counts[i - 1]!) break;
  }
  let split = i === 0 ? 0 : i + 1;
  let total = extra;
  for (let k = 0; k < split; k++) total += counts[k]!;
  for (let k = split; k < n; k++) {
    if (counts[k]! < factor * total) {
      split++;
      total += counts[k]!;
    } else break;
  }
  return split;
}

export interface RollupChoice {
  /** How many of the (ascending) candidate packs go into the new pack. */
  packs: number;
  /** Whether the unpacked loose objects go into it too. */
  loose: boolean;
}

/**
 * The roll-up for packs of these object counts (ascending) and `unpacked` loose objects:
 * everything with `all`; else the geometric split, where rewriting one pack alone gains
 * nothing, and loose objects alone make a pack from `looseThreshold` of them.
 */
export function chooseRollup(counts: readonly number[], unpacked: number, opts: { factor: number; all: boolean; looseThreshold: number }): RollupChoice {
  let packs = opts.all ? counts.length : geometricSplit(counts, opts.factor, unpacked);
  if (packs === 1 && unpacked === 0) packs = 0;
  const loose = unpacked > 0 && (packs > 0 || opts.all || unpacked >= opts.looseThreshold);
  return { packs, loose };
}
