#!/usr/bin/env node
// Thin launcher: the TypeScript is compiled to dist/ by `npm install` (prepare script).
// V8 memory settings (src/pack/low-memory.ts) before anything else loads.
const { limitYoungGeneration } = await import('../dist/pack/low-memory.js');
limitYoungGeneration();

const { main } = await import('../dist/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write(`gitgate: ${err && err.message ? err.message : String(err)}\n`); process.exitCode = 1; },
);
