// The two V8 memory settings gitgate makes, in one place, both off with GITGATE_LOW_MEMORY=0.
// Measured with `node scripts/bench-memory.mjs` on its synthetic repository (one loaded 2-core
// run), on vs off: ~30 MiB less RSS idle after start (97 vs 128 MiB), 35 MiB at the peak of 16
// concurrent clones (186 vs 221), 57 MiB at the peak of pushes (181 vs 238), 67 MiB idle after
// `--depth 1` clones (131 vs 198). What stays above the start once settled (33-57 MiB over
// 75 MiB) is native memory glibc's malloc keeps (zlib state, freed buffers in per-thread
// arenas); MALLOC_ARENA_MAX=2 saves much of it (git.git `--depth 1` clone: peak 160 -> 132 MiB,
// 25 s later 78 -> 50 MiB above idle; vim's: peak 206 -> 190 MiB, before the lazy .idx).
// glibc reads it at process start only: bin/gitgate.js, run as a program, starts node through
// a shell line that sets it (the same process: exec), unless the environment sets it already.
//
// 1. limitYoungGeneration(): keep V8's young generation at its initial size (1 MiB
//    semi-spaces) instead of letting it grow to 16 MiB ones. A clone's object walk keeps many
//    small objects alive for a while, which makes V8 grow the young generation step by step to
//    its maximum, about 32 MiB resident for the life of the process. V8 reads this factor
//    whenever it considers growing, so setting it at run time works (unlike
//    --max-semi-space-size, fixed when the heap is created); bin/gitgate.js calls it before
//    anything else loads.
// 2. transientBytes(): pack data on its way to a socket is a fresh Buffer per chunk, garbage a
//    moment after the socket took it. V8 frees such buffers only when a young-generation
//    collection runs, and starts one on its own only once about 32 MiB of them have piled up,
//    so streaming a large pack keeps 30-40 MiB of dead chunks resident. Streams report the
//    bytes they hand out here; every MINOR_GC_EVERY bytes, process wide, a scavenge (well under
//    a millisecond: its cost is the few live young objects, not the dead buffers) releases
//    them. V8's gc() is obtained without exposing it to the process: a fresh vm context
//    created while --expose-gc is set gets one. Without it (a runtime that refuses the flag),
//    this does nothing and V8's own trigger applies.
// 3. returnable()/written(): better still, a producer that streams many chunks (side-band
//    framing) takes each one back once the socket has written it and fills it again, so a
//    clone of hundreds of megabytes allocates a few chunks, not one per megabyte.
import v8 from 'node:v8';
import vm from 'node:vm';

const MINOR_GC_EVERY = 8 * 1024 * 1024;
const MAJOR_GC_EVERY = 16 * 1024 * 1024;
const enabled = process.env.GITGATE_LOW_MEMORY !== '0';
/** The settings are on (GITGATE_LOW_MEMORY is not 0); the idle heap trim follows the same switch. */
export const lowMemory = enabled;

type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gc: GcFunction | null | undefined;
let pending = 0;
let pendingOneOff = 0;

/** Setting 1 (see the file comment). Call before the server loads. */
export function limitYoungGeneration(): void {
  if (enabled) v8.setFlagsFromString('--semi-space-growth-factor=1');
}

function obtainGc(): GcFunction | null {
  if (!enabled) return null;
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return global as GcFunction;
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn: unknown = vm.runInNewContext('gc');
    return typeof fn === 'function' ? (fn as GcFunction) : null;
  } catch {
    return null;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/**
 * A full collection now, after caches dropped entries while idle (service/cache-budgets.ts): an
 * idle process allocates nothing, so V8 would keep the dropped buffers and their pages until
 * the next request. Nothing without gc().
 */
export function collectNow(): void {
  if (gc === undefined) gc = obtainGc();
  if (!gc) return;
  try {
    // no options: gc({ type: 'major' }) leaves the freed buffers' memory allocated (measured on
    // Node 20: 94 MiB of dropped 64 KiB Buffers stayed in arrayBuffers; gc() freed them)
    gc();
  } catch {
    gc = null;
  }
}

/** Setting 2: note `bytes` of short-lived buffers handed to a consumer that drops them once written. */
export function transientBytes(bytes: number): void {
  pending += bytes;
  if (pending < MINOR_GC_EVERY) return;
  pending = 0;
  collect('minor');
}

/**
 * Setting 4: note `bytes` of buffers made by one-off object reads (pack/pack-file.ts readAt
 * with keepBases false: the objects a `--depth 1` clone sends whole, their deltas and chains).
 * Many of them live across an await (deflate, the socket's backpressure) long enough for the
 * 1 MiB young generation to promote them, so a scavenge does not free them: they piled up as
 * old-generation garbage until V8's own trigger, 64 MiB of external growth (git.git `--depth
 * 1` clone: 30 MiB of dead buffers at the peak that a scavenge left and a full collection
 * freed). Every MAJOR_GC_EVERY bytes of them, a full collection (the heap is small: its cost
 * is the live objects, a few ms), else a scavenge every MINOR_GC_EVERY as for setting 2.
 * Measured (loaded 2-core machine, a fresh server, four clones in a row, peak of the last):
 * off 168-199 MiB, every 32 MiB 156-161, every 16 MiB 153-158; the price is CPU: gc() is
 * V8's all-available-garbage collection (7 of them a clone at 16 MiB: ~+0.5 s of 1.7-2.3 s).
 * gc({ type: 'major' }) costs nothing measurable but frees none of these buffers in time.
 */
export function oneOffBytes(bytes: number): void {
  pendingOneOff += bytes;
  if (pendingOneOff < MAJOR_GC_EVERY) return transientBytes(bytes);
  pendingOneOff = 0;
  pending = 0;
  if (collect('major')) oneOffCollections++;
}

/** Full collections setting 4 ran (tests and diagnostics). */
export let oneOffCollections = 0;

function collect(type: 'minor' | 'major'): boolean {
  if (gc === undefined) gc = obtainGc();
  if (!gc) return false;
  try {
    // a major one without options: see collectNow
    if (type === 'minor') gc({ type: 'minor' });
    else gc();
    return true;
  } catch {
    gc = null;
    return false;
  }
}

/** Who takes each returnable chunk back once written. */
const takers = new WeakMap<Buffer, (chunk: Buffer) => void>();

/** Setting 3: `chunk`, given to the response as it is, goes back to `back` once written(). */
export function returnable(chunk: Buffer, back: (chunk: Buffer) => void): Buffer {
  takers.set(chunk, back);
  return chunk;
}

/**
 * The response calls this when the socket has written `chunk` (its write callback), so its
 * producer may fill it again. Nothing for other chunks; a chunk whose write failed is not
 * returned (it is left to the garbage collector).
 */
export function written(chunk: Buffer): void {
  const back = takers.get(chunk);
  if (!back) return;
  takers.delete(chunk);
  back(chunk);
}
