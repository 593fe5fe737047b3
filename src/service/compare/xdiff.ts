// Line diff with git's exact output: a port of C Git's xdiff (xdiff/xprepare.c, xdiffi.c,
// xemit.c) — Myers' O(ND) divide and conquer with xdiff's cost heuristics, the same
// preprocessing (common ends trimmed, lines without a partner discarded), the same sliding of
// change groups (xdl_change_compact with the indent heuristic, on by default since git 2.14),
// and unified hunks of 3 context lines with the default function-name headers. Following the
// C code closely is what makes ambiguous diffs come out the way `git diff` prints them.
//
// A "record" is a line including its '\n' (the last may lack it); records are compared as bytes.

const MAX_COST_MIN = 256;
const HEUR_MIN_COST = 256;
const LINE_MAX = Number.MAX_SAFE_INTEGER;
const SNAKE_CNT = 20;
const K_HEUR = 4;
const MAX_EQLIMIT = 1024;
const SIMSCAN_WINDOW = 100;
const KPDIS_RUN = 4;

const DISCARD = 0;
const KEEP = 1;
const INVESTIGATE = 2;

interface XdFile {
  recs: Buffer[];
  /** Class (equivalence) id of each record. */
  cls: Int32Array;
  /** changed[i + 1] for record i; [0] and [nrec + 1] are sentinels that stay 0. */
  changed: Uint8Array;
  /** Records taking part in the Myers pass (the others are unchanged or already marked). */
  rindex: Int32Array;
  nreff: number;
  dstart: number;
  dend: number;
}

/** Split into records at '\n' (each keeps its newline). */
export function splitRecords(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < buf.length) {
    const nl = buf.indexOf(10, start);
    const end = nl < 0 ? buf.length : nl + 1;
    out.push(buf.subarray(start, end));
    start = end;
  }
  return out;
}

function bogosqrt(n: number): number {
  let i = 1;
  for (; n > 0; n = Math.floor(n / 4)) i *= 2;
  return i;
}

function prepare(a: Buffer[], b: Buffer[]): [XdFile, XdFile] {
  const classes = new Map<string, number>();
  const len1: number[] = [];
  const len2: number[] = [];
  const classify = (recs: Buffer[], pass: 1 | 2): Int32Array => {
    const cls = new Int32Array(recs.length);
    recs.forEach((r, i) => {
      const key = r.toString('latin1');
      let c = classes.get(key);
      if (c === undefined) {
        c = classes.size;
        classes.set(key, c);
        len1.push(0);
        len2.push(0);
      }
      if (pass === 1) len1[c]!++;
      else len2[c]!++;
      cls[i] = c;
    });
    return cls;
  };
  const mk = (recs: Buffer[], cls: Int32Array): XdFile => ({
    recs,
    cls,
    changed: new Uint8Array(recs.length + 2),
    rindex: new Int32Array(recs.length),
    nreff: 0,
    dstart: 0,
    dend: recs.length - 1,
  });
  const x1 = mk(a, classify(a, 1));
  const x2 = mk(b, classify(b, 2));
  trimEnds(x1, x2);
  cleanupRecords(x1, x2, len1, len2);
  return [x1, x2];
}

function trimEnds(x1: XdFile, x2: XdFile): void {
  const lim = Math.min(x1.recs.length, x2.recs.length);
  let i = 0;
  while (i < lim && x1.cls[i] === x2.cls[i]) i++;
  x1.dstart = x2.dstart = i;
  let j = 0;
  const rest = lim - i;
  while (j < rest && x1.cls[x1.recs.length - 1 - j] === x2.cls[x2.recs.length - 1 - j]) j++;
  x1.dend = x1.recs.length - j - 1;
  x2.dend = x2.recs.length - j - 1;
}

function cleanMmatch(action: Uint8Array, i: number, len: number): boolean {
  let s = 0;
  let e = len - 1;
  if (i - s > SIMSCAN_WINDOW) s = i - SIMSCAN_WINDOW;
  if (e - i > SIMSCAN_WINDOW) e = i + SIMSCAN_WINDOW;
  let rdis0 = 0;
  let rpdis0 = 1;
  for (let r = 1; i - r >= s; r++) {
    const a = action[i - r];
    if (a === DISCARD) rdis0++;
    else if (a === INVESTIGATE) rpdis0++;
    else break;
  }
  if (rdis0 === 0) return false;
  let rdis1 = 0;
  let rpdis1 = 1;
  for (let r = 1; i + r <= e; r++) {
    const a = action[i + r];
    if (a === DISCARD) rdis1++;
    else if (a === INVESTIGATE) rpdis1++;
    else break;
  }
  if (rdis1 === 0) return false;
  rdis1 += rdis0;
  rpdis1 += rpdis0;
  return rpdis1 * KPDIS_RUN < rpdis1 + rdis1;
}

/** Lines with no partner in the other file are changed for sure: keep them out of the Myers pass. */
function cleanupRecords(x1: XdFile, x2: XdFile, len1: number[], len2: number[]): void {
  const off = x1.dstart;
  const pass = (x: XdFile, other: number[]) => {
    const len = x.dend - off + 1;
    if (len <= 0) return;
    const mlim = Math.min(bogosqrt(x.recs.length), MAX_EQLIMIT);
    const action = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const nm = other[x.cls[i + off]!]!;
      action[i] = nm === 0 ? DISCARD : nm < mlim ? KEEP : INVESTIGATE;
    }
    x.nreff = 0;
    for (let i = 0; i < len; i++) {
      let a = action[i]!;
      if (a === INVESTIGATE) a = cleanMmatch(action, i, len) ? DISCARD : KEEP;
      if (a === KEEP) x.rindex[x.nreff++] = i + off;
      else x.changed[i + off + 1] = 1;
    }
  };
  pass(x1, len2);
  pass(x2, len1);
}

interface Split {
  i1: number;
  i2: number;
  minLo: boolean;
  minHi: boolean;
}

class Myers {
  private readonly kvdf: Float64Array;
  private readonly kvdb: Float64Array;
  private readonly base: number;
  private readonly mxcost: number;
  private readonly h1: Int32Array;
  private readonly h2: Int32Array;

  constructor(
    private readonly x1: XdFile,
    private readonly x2: XdFile,
  ) {
    const ndiags = x1.nreff + x2.nreff + 3;
    this.kvdf = new Float64Array(ndiags);
    this.kvdb = new Float64Array(ndiags);
    this.base = x2.nreff + 1;
    this.mxcost = Math.max(bogosqrt(ndiags), MAX_COST_MIN);
    this.h1 = Int32Array.from({ length: x1.nreff }, (_, i) => x1.cls[x1.rindex[i]!]!);
    this.h2 = Int32Array.from({ length: x2.nreff }, (_, i) => x2.cls[x2.rindex[i]!]!);
  }

  private f(d: number): number {
    return this.kvdf[d + this.base]!;
  }
  private setF(d: number, v: number): void {
    this.kvdf[d + this.base] = v;
  }
  private b(d: number): number {
    return this.kvdb[d + this.base]!;
  }
  private setB(d: number, v: number): void {
    this.kvdb[d + this.base] = v;
  }

  /** xdl_recs_cmp, with an explicit stack instead of recursion (boxes are independent). */
  run(): void {
    const stack: [number, number, number, number, boolean][] = [[0, this.x1.nreff, 0, this.x2.nreff, false]];
    const { h1, h2 } = this;
    while (stack.length) {
      let [off1, lim1, off2, lim2, needMin] = stack.pop()!;
      while (off1 < lim1 && off2 < lim2 && h1[off1] === h2[off2]) {
        off1++;
        off2++;
      }
      while (off1 < lim1 && off2 < lim2 && h1[lim1 - 1] === h2[lim2 - 1]) {
        lim1--;
        lim2--;
      }
      if (off1 === lim1) {
        for (; off2 < lim2; off2++) this.x2.changed[this.x2.rindex[off2]! + 1] = 1;
      } else if (off2 === lim2) {
        for (; off1 < lim1; off1++) this.x1.changed[this.x1.rindex[off1]! + 1] = 1;
      } else {
        const spl = this.split(off1, lim1, off2, lim2, needMin);
        // the C code recurses into the low box first; order does not change the result
        stack.push([spl.i1, lim1, spl.i2, lim2, spl.minHi]);
        stack.push([off1, spl.i1, off2, spl.i2, spl.minLo]);
      }
    }
  }

  private split(off1: number, lim1: number, off2: number, lim2: number, needMin: boolean): Split {
    const { h1, h2 } = this;
    const dmin = off1 - lim2;
    const dmax = lim1 - off2;
    const fmid = off1 - off2;
    const bmid = lim1 - lim2;
    const odd = (fmid - bmid) & 1;
    let fmin = fmid;
    let fmax = fmid;
    let bmin = bmid;
    let bmax = bmid;
    this.setF(fmid, off1);
    this.setB(bmid, lim1);
    for (let ec = 1; ; ec++) {
      let gotSnake = false;
      if (fmin > dmin) this.setF(--fmin - 1, -1);
      else ++fmin;
      if (fmax < dmax) this.setF(++fmax + 1, -1);
      else --fmax;
      for (let d = fmax; d >= fmin; d -= 2) {
        let i1 = this.f(d - 1) >= this.f(d + 1) ? this.f(d - 1) + 1 : this.f(d + 1);
        const prev1 = i1;
        let i2 = i1 - d;
        while (i1 < lim1 && i2 < lim2 && h1[i1] === h2[i2]) {
          i1++;
          i2++;
        }
        if (i1 - prev1 > SNAKE_CNT) gotSnake = true;
        this.setF(d, i1);
        if (odd && bmin <= d && d <= bmax && this.b(d) <= i1) return { i1, i2, minLo: true, minHi: true };
      }
      if (bmin > dmin) this.setB(--bmin - 1, LINE_MAX);
      else ++bmin;
      if (bmax < dmax) this.setB(++bmax + 1, LINE_MAX);
      else --bmax;
      for (let d = bmax; d >= bmin; d -= 2) {
        let i1 = this.b(d - 1) < this.b(d + 1) ? this.b(d - 1) : this.b(d + 1) - 1;
        const prev1 = i1;
        let i2 = i1 - d;
        while (i1 > off1 && i2 > off2 && h1[i1 - 1] === h2[i2 - 1]) {
          i1--;
          i2--;
        }
        if (prev1 - i1 > SNAKE_CNT) gotSnake = true;
        this.setB(d, i1);
        if (!odd && fmin <= d && d <= fmax && i1 <= this.f(d)) return { i1, i2, minLo: true, minHi: true };
      }
      if (needMin) continue;

      if (gotSnake && ec > HEUR_MIN_COST) {
        let best = 0;
        let found: Split | null = null;
        for (let d = fmax; d >= fmin; d -= 2) {
          const dd = d > fmid ? d - fmid : fmid - d;
          const i1 = this.f(d);
          const i2 = i1 - d;
          const v = i1 - off1 + (i2 - off2) - dd;
          if (v > K_HEUR * ec && v > best && off1 + SNAKE_CNT <= i1 && i1 < lim1 && off2 + SNAKE_CNT <= i2 && i2 < lim2) {
            for (let k = 1; h1[i1 - k] === h2[i2 - k]; k++) {
              if (k === SNAKE_CNT) {
                best = v;
                found = { i1, i2, minLo: true, minHi: false };
                break;
              }
            }
          }
        }
        if (found) return found;
        best = 0;
        for (let d = bmax; d >= bmin; d -= 2) {
          const dd = d > bmid ? d - bmid : bmid - d;
          const i1 = this.b(d);
          const i2 = i1 - d;
          const v = lim1 - i1 + (lim2 - i2) - dd;
          if (v > K_HEUR * ec && v > best && off1 < i1 && i1 <= lim1 - SNAKE_CNT && off2 < i2 && i2 <= lim2 - SNAKE_CNT) {
            for (let k = 0; h1[i1 + k] === h2[i2 + k]; k++) {
              if (k === SNAKE_CNT - 1) {
                best = v;
                found = { i1, i2, minLo: false, minHi: true };
                break;
              }
            }
          }
        }
        if (found) return found;
      }

      if (ec >= this.mxcost) {
        let fbest = -1;
        let fbest1 = -1;
        for (let d = fmax; d >= fmin; d -= 2) {
          let i1 = Math.min(this.f(d), lim1);
          let i2 = i1 - d;
          if (lim2 < i2) {
            i1 = lim2 + d;
            i2 = lim2;
          }
          if (fbest < i1 + i2) {
            fbest = i1 + i2;
            fbest1 = i1;
          }
        }
        let bbest = LINE_MAX;
        let bbest1 = LINE_MAX;
        for (let d = bmax; d >= bmin; d -= 2) {
          let i1 = Math.max(off1, this.b(d));
          let i2 = i1 - d;
          if (i2 < off2) {
            i1 = off2 + d;
            i2 = off2;
          }
          if (i1 + i2 < bbest) {
            bbest = i1 + i2;
            bbest1 = i1;
          }
        }
        if (lim1 + lim2 - bbest < fbest - (off1 + off2)) return { i1: fbest1, i2: fbest - fbest1, minLo: true, minHi: false };
        return { i1: bbest1, i2: bbest - bbest1, minLo: false, minHi: true };
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// change compaction (sliding groups) with the indent heuristic

const MAX_INDENT = 200;
const MAX_BLANKS = 20;
const START_OF_FILE_PENALTY = 1;
const END_OF_FILE_PENALTY = 21;
const TOTAL_BLANK_WEIGHT = -30;
const POST_BLANK_WEIGHT = 6;
const RELATIVE_INDENT_PENALTY = -4;
const RELATIVE_INDENT_WITH_BLANK_PENALTY = 10;
const RELATIVE_OUTDENT_PENALTY = 24;
const RELATIVE_OUTDENT_WITH_BLANK_PENALTY = 17;
const RELATIVE_DEDENT_PENALTY = 23;
const RELATIVE_DEDENT_WITH_BLANK_PENALTY = 17;
const INDENT_WEIGHT = 60;
const INDENT_HEURISTIC_MAX_SLIDING = 100;

/** C isspace in the C locale. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function getIndent(rec: Buffer): number {
  let ret = 0;
  for (let i = 0; i < rec.length; i++) {
    const c = rec[i]!;
    if (!isSpace(c)) return ret;
    if (c === 32) ret += 1;
    else if (c === 9) ret += 8 - (ret % 8);
    if (ret >= MAX_INDENT) return MAX_INDENT;
  }
  return -1;
}

interface Measure {
  endOfFile: boolean;
  indent: number;
  preBlank: number;
  preIndent: number;
  postBlank: number;
  postIndent: number;
}

function measureSplit(x: XdFile, split: number): Measure {
  const n = x.recs.length;
  const m: Measure = { endOfFile: false, indent: -1, preBlank: 0, preIndent: -1, postBlank: 0, postIndent: -1 };
  if (split >= n) m.endOfFile = true;
  else m.indent = getIndent(x.recs[split]!);
  for (let i = split - 1; i >= 0; i--) {
    m.preIndent = getIndent(x.recs[i]!);
    if (m.preIndent !== -1) break;
    m.preBlank += 1;
    if (m.preBlank === MAX_BLANKS) {
      m.preIndent = 0;
      break;
    }
  }
  for (let i = split + 1; i < n; i++) {
    m.postIndent = getIndent(x.recs[i]!);
    if (m.postIndent !== -1) break;
    m.postBlank += 1;
    if (m.postBlank === MAX_BLANKS) {
      m.postIndent = 0;
      break;
    }
  }
  return m;
}

function scoreAddSplit(m: Measure, s: { effectiveIndent: number; penalty: number }): void {
  if (m.preIndent === -1 && m.preBlank === 0) s.penalty += START_OF_FILE_PENALTY;
  if (m.endOfFile) s.penalty += END_OF_FILE_PENALTY;
  const postBlank = m.indent === -1 ? 1 + m.postBlank : 0;
  const totalBlank = m.preBlank + postBlank;
  s.penalty += TOTAL_BLANK_WEIGHT * totalBlank;
  s.penalty += POST_BLANK_WEIGHT * postBlank;
  const indent = m.indent !== -1 ? m.indent : m.postIndent;
  const anyBlanks = totalBlank !== 0;
  s.effectiveIndent += indent;
  if (indent === -1 || m.preIndent === -1) {
    // no adjustment
  } else if (indent > m.preIndent) {
    s.penalty += anyBlanks ? RELATIVE_INDENT_WITH_BLANK_PENALTY : RELATIVE_INDENT_PENALTY;
  } else if (indent === m.preIndent) {
    // no adjustment
  } else if (m.postIndent !== -1 && m.postIndent > indent) {
    s.penalty += anyBlanks ? RELATIVE_OUTDENT_WITH_BLANK_PENALTY : RELATIVE_OUTDENT_PENALTY;
  } else {
    s.penalty += anyBlanks ? RELATIVE_DEDENT_WITH_BLANK_PENALTY : RELATIVE_DEDENT_PENALTY;
  }
}

function scoreCmp(a: { effectiveIndent: number; penalty: number }, b: { effectiveIndent: number; penalty: number }): number {
  const cmpIndents = (a.effectiveIndent > b.effectiveIndent ? 1 : 0) - (a.effectiveIndent < b.effectiveIndent ? 1 : 0);
  return INDENT_WEIGHT * cmpIndents + (a.penalty - b.penalty);
}

interface Group {
  start: number;
  end: number;
}

const ch = (x: XdFile, i: number): number => x.changed[i + 1]!;
const setCh = (x: XdFile, i: number, v: number): void => {
  x.changed[i + 1] = v;
};

function groupInit(x: XdFile): Group {
  const g = { start: 0, end: 0 };
  while (ch(x, g.end)) g.end++;
  return g;
}

function groupNext(x: XdFile, g: Group): boolean {
  if (g.end === x.recs.length) return false;
  g.start = g.end + 1;
  for (g.end = g.start; ch(x, g.end); g.end++);
  return true;
}

function groupPrevious(x: XdFile, g: Group): boolean {
  if (g.start === 0) return false;
  g.end = g.start - 1;
  for (g.start = g.end; ch(x, g.start - 1); g.start--);
  return true;
}

function groupSlideDown(x: XdFile, g: Group): boolean {
  if (g.end < x.recs.length && x.cls[g.start] === x.cls[g.end]) {
    setCh(x, g.start++, 0);
    setCh(x, g.end++, 1);
    while (ch(x, g.end)) g.end++;
    return true;
  }
  return false;
}

function groupSlideUp(x: XdFile, g: Group): boolean {
  if (g.start > 0 && x.cls[g.start - 1] === x.cls[g.end - 1]) {
    setCh(x, --g.start, 1);
    setCh(x, --g.end, 0);
    while (ch(x, g.start - 1)) g.start--;
    return true;
  }
  return false;
}

function bug(what: string): never {
  throw new Error(`xdiff: ${what}`);
}

function changeCompact(x: XdFile, xo: XdFile): void {
  const g = groupInit(x);
  const go = groupInit(xo);
  for (;;) {
    if (g.end !== g.start) {
      let groupsize: number;
      let earliestEnd: number;
      let endMatchingOther: number;
      do {
        groupsize = g.end - g.start;
        endMatchingOther = -1;
        while (groupSlideUp(x, g)) if (!groupPrevious(xo, go)) bug('group sync broken sliding up');
        earliestEnd = g.end;
        if (go.end > go.start) endMatchingOther = g.end;
        for (;;) {
          if (!groupSlideDown(x, g)) break;
          if (!groupNext(xo, go)) bug('group sync broken sliding down');
          if (go.end > go.start) endMatchingOther = g.end;
        }
      } while (groupsize !== g.end - g.start);

      if (g.end === earliestEnd) {
        // no shifting was possible
      } else if (endMatchingOther !== -1) {
        while (go.end === go.start) {
          if (!groupSlideUp(x, g)) bug('match disappeared');
          if (!groupPrevious(xo, go)) bug('group sync broken sliding to match');
        }
      } else {
        let shift = earliestEnd;
        if (g.end - groupsize - 1 > shift) shift = g.end - groupsize - 1;
        if (g.end - INDENT_HEURISTIC_MAX_SLIDING > shift) shift = g.end - INDENT_HEURISTIC_MAX_SLIDING;
        let bestShift = -1;
        let best = { effectiveIndent: 0, penalty: 0 };
        for (; shift <= g.end; shift++) {
          const score = { effectiveIndent: 0, penalty: 0 };
          scoreAddSplit(measureSplit(x, shift), score);
          scoreAddSplit(measureSplit(x, shift - groupsize), score);
          if (bestShift === -1 || scoreCmp(score, best) <= 0) {
            best = score;
            bestShift = shift;
          }
        }
        while (g.end > bestShift) {
          if (!groupSlideUp(x, g)) bug('best shift unreached');
          if (!groupPrevious(xo, go)) bug('group sync broken sliding to blank line');
        }
      }
    }
    if (!groupNext(x, g)) break;
    if (!groupNext(xo, go)) bug('group sync broken moving to next group');
  }
  if (groupNext(xo, go)) bug('group sync broken at end of file');
}

// ---------------------------------------------------------------------------------------------
// script and unified output

export interface Change {
  i1: number;
  i2: number;
  chg1: number;
  chg2: number;
}

/** The edit script between two record lists, in file order. */
export function diffRecords(a: Buffer[], b: Buffer[]): Change[] {
  const [x1, x2] = prepare(a, b);
  new Myers(x1, x2).run();
  changeCompact(x1, x2);
  changeCompact(x2, x1);
  const script: Change[] = [];
  let i1 = a.length;
  let i2 = b.length;
  for (; i1 >= 0 || i2 >= 0; i1--, i2--) {
    if (ch(x1, i1 - 1) || ch(x2, i2 - 1)) {
      const l1 = i1;
      const l2 = i2;
      while (ch(x1, i1 - 1)) i1--;
      while (ch(x2, i2 - 1)) i2--;
      script.push({ i1, i2, chg1: l1 - i1, chg2: l2 - i2 });
    }
  }
  return script.reverse();
}

export const CONTEXT_LINES = 3;
const FUNC_LINE_MAX = 80;
const NO_NEWLINE = Buffer.from('\n\\ No newline at end of file\n');

export interface UnifiedDiff {
  /** The hunks ("@@ … @@" headers and their lines), as git prints them. */
  text: Buffer;
  additions: number;
  deletions: number;
}

/** git's default function line: the line starts with a letter, '_' or '$'; at most 80 bytes, trailing space trimmed. */
function funcName(rec: Buffer): Buffer | null {
  const c = rec[0];
  if (c === undefined || !((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36)) return null;
  let len = Math.min(rec.length, FUNC_LINE_MAX);
  while (len > 0 && isSpace(rec[len - 1]!)) len--;
  return rec.subarray(0, len);
}

function range(s: number, c: number): string {
  return `${c ? s : s - 1}${c !== 1 ? `,${c}` : ''}`;
}

/** xdl_emit_diff with 3 lines of context and function names: the unified hunks of `a` → `b`. */
export function unifiedDiff(a: Buffer, b: Buffer): UnifiedDiff {
  const r1 = splitRecords(a);
  const r2 = splitRecords(b);
  const script = diffRecords(r1, r2);
  const out: Buffer[] = [];
  let additions = 0;
  let deletions = 0;
  const emit = (rec: Buffer, pre: string) => {
    out.push(Buffer.from(pre), rec);
    if (rec.length > 0 && rec[rec.length - 1] !== 10) out.push(NO_NEWLINE);
  };
  let funcLine: Buffer | null = null;
  let funcLinePrev = -1;
  const ctx = CONTEXT_LINES;
  const maxCommon = 2 * ctx; // inter-hunk context 0
  for (let k = 0; k < script.length; ) {
    // the hunk's changes: script[k..e], merged while the gap between them is at most 2*ctx
    let e = k;
    while (e + 1 < script.length && script[e + 1]!.i1 - (script[e]!.i1 + script[e]!.chg1) <= maxCommon) e++;
    const first = script[k]!;
    const last = script[e]!;
    let s1 = Math.max(first.i1 - ctx, 0);
    let s2 = Math.max(first.i2 - ctx, 0);
    const lctx = Math.min(ctx, r1.length - (last.i1 + last.chg1), r2.length - (last.i2 + last.chg2));
    const e1 = last.i1 + last.chg1 + lctx;
    const e2 = last.i2 + last.chg2 + lctx;
    // function name: nearest line at or above s1-1 (down to the previous hunk's search start)
    for (let l = s1 - 1; l !== funcLinePrev && l >= 0 && l < r1.length; l--) {
      const f = funcName(r1[l]!);
      if (f) {
        funcLine = f;
        break;
      }
    }
    funcLinePrev = s1 - 1;
    const header = `@@ -${range(s1 + 1, e1 - s1)} +${range(s2 + 1, e2 - s2)} @@`;
    out.push(Buffer.from(header));
    if (funcLine && funcLine.length) out.push(Buffer.from(' '), funcLine);
    out.push(Buffer.from('\n'));
    for (; s2 < first.i2; s2++) emit(r2[s2]!, ' ');
    s1 = first.i1;
    s2 = first.i2;
    for (let j = k; j <= e; j++) {
      const c = script[j]!;
      for (; s1 < c.i1 && s2 < c.i2; s1++, s2++) emit(r2[s2]!, ' ');
      for (s1 = c.i1; s1 < c.i1 + c.chg1; s1++) {
        emit(r1[s1]!, '-');
        deletions++;
      }
      for (s2 = c.i2; s2 < c.i2 + c.chg2; s2++) {
        emit(r2[s2]!, '+');
        additions++;
      }
    }
    for (s2 = last.i2 + last.chg2; s2 < e2; s2++) emit(r2[s2]!, ' ');
    k = e + 1;
  }
  return { text: Buffer.concat(out), additions, deletions };
}
