// Line-level three-way merge of text (what `git merge-file` decides): each side is diffed
// against the base (Myers), and changed regions of the base are merged. A region changed by
// one side takes that side; changed by both, it is clean only when both made the same change.
// Like C Git, changes that overlap or merely touch (no unchanged base line between them)
// conflict. No conflict markers: a conflict refuses the merge.

/** A changed region: base lines [aStart, aEnd) became side lines [bStart, bEnd). */
export interface Hunk {
  aStart: number;
  aEnd: number;
  bStart: number;
  bEnd: number;
}

/** Past this many edits a diff gives up on alignment and reports one changed region
 *  (bounds time and memory, ~D² integers; only ever turns a clean merge into a conflict). */
const MAX_EDITS = 2000;

/** Lines with their terminators, so "a" at the end of a file differs from "a\n". */
export function splitLines(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

/** Changed regions turning `a` into `b` (lines already interned to numbers). */
export function diffLines(a: readonly number[], b: readonly number[]): Hunk[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const x = a.slice(pre, a.length - suf);
  const y = b.slice(pre, b.length - suf);
  if (x.length === 0 && y.length === 0) return [];
  const matches = myersMatches(x, y);
  const hunks: Hunk[] = [];
  let ai = 0;
  let bi = 0;
  for (const [mx, my] of [...(matches ?? []), [x.length, y.length] as const]) {
    if (mx > ai || my > bi) hunks.push({ aStart: pre + ai, aEnd: pre + mx, bStart: pre + bi, bEnd: pre + my });
    ai = mx + 1;
    bi = my + 1;
  }
  return hunks;
}

/** The matched line pairs of a shortest edit script (Myers 1986), in order; null past MAX_EDITS. */
function myersMatches(a: readonly number[], b: readonly number[]): [number, number][] | null {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = []; // trace[d]: v[-d-1 .. d+1] as it was before round d
  for (let d = 0; d <= Math.min(max, MAX_EDITS); d++) {
    trace.push(v.slice(off - d - 1, off + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) return backtrack(trace, n, m);
    }
  }
  return null;
}

function backtrack(trace: Int32Array[], n: number, m: number): [number, number][] {
  const out: [number, number][] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const t = trace[d]!;
    const at = (k: number) => t[k + d + 1]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : at(prevK);
    const prevY = d === 0 ? 0 : prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      out.push([x, y]);
    }
    x = prevX;
    y = prevY;
  }
  return out.reverse();
}

export type Merge3 = { clean: true; text: string } | { clean: false };

/** Merge `ours` and `theirs`, both derived from `base`. */
export function merge3(base: string, ours: string, theirs: string): Merge3 {
  const ids = new Map<string, number>();
  const intern = (lines: string[]) =>
    lines.map((l) => {
      let id = ids.get(l);
      if (id === undefined) ids.set(l, (id = ids.size));
      return id;
    });
  const B = splitLines(base);
  const sides = [splitLines(ours), splitLines(theirs)] as const;
  const bIds = intern(B);
  const hunks = sides
    .flatMap((lines, side) => diffLines(bIds, intern(lines)).map((h) => ({ ...h, side })))
    .sort((p, q) => p.aStart - q.aStart || p.side - q.side);

  const out: string[] = [];
  let pos = 0;
  for (let i = 0; i < hunks.length; ) {
    const group = [hunks[i]!];
    let start = hunks[i]!.aStart;
    let end = hunks[i]!.aEnd;
    for (i++; i < hunks.length && hunks[i]!.aStart <= end; i++) {
      group.push(hunks[i]!);
      end = Math.max(end, hunks[i]!.aEnd);
    }
    start = Math.min(start, ...group.map((h) => h.aStart));
    out.push(...B.slice(pos, start));
    // each side's lines for base[start, end): its own hunks there, unchanged base around them
    const version = (side: number): string[] => {
      const own = group.filter((h) => h.side === side);
      if (own.length === 0) return B.slice(start, end);
      const first = own[0]!;
      const last = own[own.length - 1]!;
      return sides[side]!.slice(first.bStart - (first.aStart - start), last.bEnd + (end - last.aEnd));
    };
    const mine = version(0);
    const yours = version(1);
    if (group.some((h) => h.side === 0) && group.some((h) => h.side === 1) && mine.join('') !== yours.join('')) return { clean: false };
    out.push(...(group.some((h) => h.side === 0) ? mine : yours));
    pos = end;
  }
  out.push(...B.slice(pos));
  return { clean: true, text: out.join('') };
}
