// The glibc heap trim (db/sqlite/native-heap.ts): pages of freed buffers go back to the system.
// Run in a child process of the built code (dist/: `npm run build` first), whose heap holds
// nothing but what the test does.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('../../dist/db/sqlite/native-heap.js', import.meta.url));
const glibc = Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);

// 160 MiB of 100 kB buffers, every 50th followed by a small one that stays: once the big ones
// are freed, the kept ones pin the heap (the fragmentation a push leaves); then the trim.
const CHILD = `
const { trimNativeHeap } = await import(${JSON.stringify(MODULE)});
const rss = () => process.memoryUsage.rss();
{ const b = Buffer.allocUnsafe(8 << 20); b.fill(1); } // raises glibc's mmap threshold, as a push does
gc();
const kept = [];
let all = [];
for (let i = 0; i < 1600; i++) {
  const b = Buffer.allocUnsafe(100_000); b.fill(1); all.push(b);
  if (i % 50 === 49) kept.push(Buffer.alloc(200, 1));
}
all = null;
gc(); gc();
await new Promise((r) => setTimeout(r, 100)); // V8 frees dead buffers' memory in a sweeping task
const freed = rss();
const ran = trimNativeHeap();
console.log(JSON.stringify({ ran, freed, trimmed: rss(), kept: kept.length }));
`;

describe('native heap trim', () => {
  it.runIf(glibc && process.platform === 'linux')('returns the pages of freed buffers that a live allocation above them pinned', () => {
    const out = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], { encoding: 'utf8' });
    expect(out.stderr).toBe('');
    const { ran, freed, trimmed } = JSON.parse(out.stdout) as { ran: boolean; freed: number; trimmed: number };
    expect(ran).toBe(true);
    // well over 100 MiB of free pages were resident; at least 100 MiB of them must go
    expect(freed - trimmed).toBeGreaterThan(100 * 1024 * 1024);
  });
});
