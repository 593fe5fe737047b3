// Placeholder until the benchmark issue lands: `npm run bench` will compare gitgate with
// C Git's `git http-backend` on a synthetic repository (SPEC §7).
console.error('npm run bench: not implemented yet (see the fetch-side issue).');
process.exitCode = 1;
