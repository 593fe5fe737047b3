// Server peak RSS of `git clone --depth 1` (issue 14: ≤ 160 MiB on git.git), gitgate beside
// C Git's http-backend on one repository: each clone runs against a freshly started gitgate
// (so nothing cached by an earlier one counts), the peak RSS of the server process during it
// and its memoryUsage() breakdown after it (from /metrics when available) are printed.
//
//   npm run build && node scripts/bench-depth1.mjs --repo /work/.mirror/git+git/repo [--runs 3] [--servers gitgate,cgit]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { importRepo } from './bench-external.mjs';
import { RssSampler } from './bench-rss.mjs';
import { startGitgate, startReference } from './bench-servers.mjs';
import { gitEnv, median, mkdirp, rmrf, run } from './bench-util.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { repo: { type: 'string' }, runs: { type: 'string' }, servers: { type: 'string' } } });
if (!values.repo) throw new Error('--repo PATH is required');
const runs = Number(values.runs ?? 3);
const only = (values.servers ?? 'gitgate,cgit').split(',');
const benchDir = mkdirp(path.join(root, '.bench'));
const env = gitEnv(benchDir);
const repo = await importRepo(benchDir, values.repo, (l) => console.error(l));
const mib = (kb) => Math.round(kb / 1024);

async function cloneOnce(server) {
  const dir = fs.mkdtempSync(path.join(benchDir, 'depth1-'));
  const sampler = new RssSampler(server.pid ?? process.pid, { includeRoot: server.name === 'gitgate', pss: server.name !== 'gitgate' });
  sampler.start();
  const t0 = Date.now();
  await run('git', ['clone', '-q', '--bare', '--depth', '1', server.url, dir], { env });
  const ms = Date.now() - t0;
  const { peakKb } = sampler.stop();
  rmrf(dir);
  return { peakMiB: mib(peakKb), seconds: ms / 1000 };
}

for (const key of only) {
  const runDir = mkdirp(path.join(benchDir, `depth1-run-${process.pid}`));
  const s = key === 'gitgate'
    ? await startGitgate({ root, runDir, sourceGitDir: repo.gitDir, env })
    : await startReference({ runDir, sourceGitDir: repo.gitDir, env });
  try {
    const rows = [];
    for (let i = 0; i < runs; i++) {
      if (s.restart && i > 0) await s.restart();
      rows.push(await cloneOnce(s));
    }
    console.log(`\n${key}: ${repo.stats.key} (${repo.stats.objects} objects, ${repo.stats.tags} tags)`);
    console.table(rows);
    console.log(`median peak ${median(rows.map((r) => r.peakMiB))} MiB, median ${median(rows.map((r) => r.seconds))} s`);
  } finally {
    await s.stop?.();
    rmrf(runDir);
  }
}
