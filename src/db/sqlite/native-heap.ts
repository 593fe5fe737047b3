// Returning glibc's free heap pages to the system (malloc_trim), which Node cannot call itself.
//
// Why: Node allocates every Buffer with malloc. After the first large buffer is freed, glibc
// raises its mmap threshold to that size (up to 32 MiB), so later buffers come from the brk
// heap, which only ever shrinks from its top. One small allocation that stays (an opened
// pack's index, SQLite's page cache) above the freed ones pins them all: measured after a
// git.git initial push, 104 MiB of [heap] resident with 11 MiB in use, the RSS 111 MiB above
// idle for good; malloc_trim(0) from a debugger brought it back to 19 MiB above idle.
//
// How: better-sqlite3 (a native module gitgate already loads) lets SQLite load an extension,
// which is dlopen() of a library and a call of the named entry point as
// xInit(sqlite3 *db, char **err, const sqlite3_api_routines *api). Naming libc itself and
// malloc_trim calls malloc_trim(pad) with the db pointer as `pad` (the C ABIs of 64-bit Linux
// pass the first integer argument in the same register and ignore the rest). That pad keeps
// the free space at the heap's top (free() trims that part itself, past its threshold) but
// every free page below it, in every arena, is released (glibc's mtrim madvises them
// whatever the pad). malloc_trim answers 1 when it released something, which SQLite reports
// as a failed initialization; 0 (nothing to release) as success. The library is the libc
// already mapped into this process (read from /proc/self/maps), never a path from outside.
// Only on glibc (musl and others have no malloc_trim, or no such heap); any failure to set it
// up turns it off for the life of the process.
import fs from 'node:fs';
import Database from 'better-sqlite3';

let libc: string | null | undefined;

/** 64-bit ABIs whose first integer and pointer arguments share a register, extra ones ignored. */
const PASSES_FIRST_ARG_IN_REGISTER = new Set(['x64', 'arm64', 'ppc64', 'riscv64', 's390x']);

/** The glibc shared object this process runs on, or null (another libc, or not Linux). */
function glibcPath(): string | null {
  if (libc !== undefined) return libc;
  libc = null;
  try {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    if (!header?.glibcVersionRuntime) return null;
    // the register argument passing relied on above, checked where it is known to hold
    if (!PASSES_FIRST_ARG_IN_REGISTER.has(process.arch)) return null;
    for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
      const file = line.slice(line.indexOf('/'));
      if (line.includes('/') && /\/libc\.so\.6$/.test(file)) return (libc = file);
    }
  } catch {
    // no /proc, no report: leave it off
  }
  return libc;
}

/**
 * malloc_trim: free pages of glibc's heaps back to the system. Returns true when it ran (and
 * whether anything was released is not known here), false when unavailable on this system.
 */
export function trimNativeHeap(): boolean {
  const file = glibcPath();
  if (!file) return false;
  let db: Database.Database | null = null;
  try {
    db = new Database(':memory:');
    // (path, entryPoint): better-sqlite3's documented signature, which its type declarations lack
    (db.loadExtension as (path: string, entryPoint: string) => unknown).call(db, file, 'malloc_trim');
    return true; // malloc_trim returned 0: there was nothing to release
  } catch (err) {
    // malloc_trim returned 1 (released pages): SQLite's "error during initialization"
    if (/error during initialization/.test((err as Error).message)) return true;
    libc = null; // refused (no extension loading, no such symbol): stop trying
    return false;
  } finally {
    db?.close(); // dlclose: the extension list of this connection goes with it
  }
}
