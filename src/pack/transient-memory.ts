// Pack data on its way to a socket: every chunk sent is a fresh Buffer, garbage a moment
// after the socket took it. V8 frees such buffers only when a young-generation collection
// runs, and starts one on its own only once about 32 MiB of them have piled up (twice its
// default maximum semi-space), so streaming a large pack keeps 30-40 MiB of dead chunks
// resident. Streams report the bytes they hand out here; every MINOR_GC_EVERY bytes, process
// wide, a young-generation collection (a scavenge: well under a millisecond, its cost is the
// few live young objects, not the dead buffers) releases them. Without a way to trigger one
// (a runtime that refuses the flag), this does nothing and V8's own trigger applies.
import v8 from 'node:v8';
import vm from 'node:vm';

const MINOR_GC_EVERY = 8 * 1024 * 1024;

type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gc: GcFunction | null | undefined;
let pending = 0;

/** V8's gc() without exposing it to the process: a fresh context created while the flag is set gets one. */
function obtainGc(): GcFunction | null {
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

/** Note `bytes` of short-lived buffers handed to a consumer that drops them once written. */
export function transientBytes(bytes: number): void {
  pending += bytes;
  if (pending < MINOR_GC_EVERY) return;
  pending = 0;
  if (gc === undefined) gc = obtainGc();
  if (!gc) return;
  try {
    gc({ type: 'minor' });
  } catch {
    gc = null;
  }
}
