#!/bin/sh
':' //; exec env MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" node "$0" "$@"
// Run as a program (npx gitgate, npm start, gitgate on the PATH), the line above is shell: it
// starts node on this file, in the same process, with glibc's malloc held to 2 arenas unless
// the environment says otherwise (node reads the line as a string and a comment). Node's
// threads otherwise each get an arena that keeps freed memory: on the synthetic benchmark,
// 95-96 MiB resident once settled after every workload instead of 104-112 (the `--depth 1`
// clone of git.git: peak 160 -> 132 MiB). `node bin/gitgate.js` skips it.
// Thin launcher: the TypeScript is compiled to dist/ by `npm install` (prepare script).
// V8 memory settings (src/pack/low-memory.ts) before anything else loads.
const { limitYoungGeneration } = await import('../dist/pack/low-memory.js');
limitYoungGeneration();

const { main } = await import('../dist/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { process.stderr.write(`gitgate: ${err && err.message ? err.message : String(err)}\n`); process.exitCode = 1; },
);
