#!/usr/bin/env node
// Thin launcher: the TypeScript is compiled to dist/ by `npm install` (prepare script).
import v8 from 'node:v8';

// Keep V8's young generation at its initial size (1 MiB semi-spaces) instead of letting it
// grow to 16 MiB ones. A clone's object walk keeps many small objects alive for a while,
// which makes V8 grow the young generation step by step to its maximum, about 32 MiB resident
// for the life of the process; serving a 200 MB clone then peaks near 155 MiB instead of
// ~120 MiB. The price is more (short) scavenges during walks. V8 reads this factor whenever
// it considers growing, so setting it at run time works (unlike --max-semi-space-size, fixed
// when the heap is created); it is set before anything else loads.
v8.setFlagsFromString('--semi-space-growth-factor=1');

const { main } = await import('../dist/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write(`gitgate: ${err && err.message ? err.message : String(err)}\n`); process.exitCode = 1; },
);
