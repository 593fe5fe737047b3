// Server memory per workload, gitgate (with and without the V8 settings of
// src/pack/low-memory.ts) beside C Git's http-backend: the synthetic benchmark repository is
// served by each, then for each workload the peak RSS during it and the idle RSS 5 s after it
// (gitgate: the one process; C Git: the sum of its per-request processes' PSS, 0 when idle).
//
//   npm run build && node scripts/bench-memory.mjs [--quick] [--servers gitgate,gitgate-plain,cgit]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildRepo, DEFAULT_PARAMS, QUICK_PARAMS, makeCommits } from './bench-repo.mjs';
import { currentRssKb } from './bench-rss.mjs';
import { startGitgate, startReference } from './bench-servers.mjs';
import { gitEnv, mkdirp, rmrf, run } from './bench-util.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = mkdirp(path.join(root, '.bench'));
const quick = process.argv.includes('--quick');
const only = (() => { const i = process.argv.indexOf('--servers'); return i >= 0 ? process.argv[i + 1].split(',') : ['gitgate', 'gitgate-plain', 'cgit']; })();
const repo = await buildRepo(benchDir, quick ? QUICK_PARAMS : DEFAULT_PARAMS, (l) => console.error(l));
const env = gitEnv(benchDir);
const mib = (kb) => Math.round(kb / 1024);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function clones(url, n, concurrent, extra = []) {
  const one = async () => {
    const dir = fs.mkdtempSync(path.join(benchDir, 'mem-clone-'));
    await run('git', ['clone', '-q', '--bare', ...extra, url, dir], { env });
    rmrf(dir);
  };
  if (concurrent) await Promise.all(Array.from({ length: n }, one));
  else for (let i = 0; i < n; i++) await one();
}

async function pushes(url, work, n) {
  for (let i = 0; i < n; i++) {
    const tip = (await run('git', ['--git-dir', work, 'rev-parse', 'refs/heads/main'], { env })).stdout.trim();
    await makeCommits(work, env, { ref: 'refs/heads/main', from: tip, count: 20, label: `mem-${Date.now()}-${i}` });
    await run('git', ['--git-dir', work, 'push', '-q', url, 'main'], { env });
  }
}

const WORKLOADS = [
  ['8 full clones, one after another', (s) => clones(s.url, 8, false)],
  ['16 concurrent full clones', (s) => clones(s.url, 16, true)],
  ['8 --depth 1 clones', (s) => clones(s.url, 8, false, ['--depth', '1'])],
  ['5 pushes of 20 commits', (s, work) => pushes(s.url, work, 5)],
];

async function measure(name, server, rootPid) {
  const work = path.join(benchDir, `mem-work-${process.pid}.git`);
  rmrf(work);
  await run('git', ['clone', '-q', '--bare', server.url, work], { env });
  await sleep(5000);
  const rows = [{ workload: 'idle after start and a first clone', peakMiB: null, idleMiB: mib(rootPid ? currentRssKb(rootPid) : 0) }];
  for (const [label, fn] of WORKLOADS) {
    server.sampler.start();
    await fn(server, work);
    server.sampler.stop?.();
    const peak = server.sampler.peak;
    await sleep(5000);
    rows.push({ workload: label, peakMiB: mib(peak), idleMiB: mib(rootPid ? currentRssKb(rootPid) : 0) });
  }
  rmrf(work);
  console.log(`\n${name}`);
  console.table(rows);
}

for (const [key, name, extraEnv] of [['gitgate', 'gitgate', {}], ['gitgate-plain', 'gitgate, GITGATE_LOW_MEMORY=0', { GITGATE_LOW_MEMORY: '0' }], ['gitgate-arena', 'gitgate, MALLOC_ARENA_MAX=2', { MALLOC_ARENA_MAX: '2' }]]) {
  if (!only.includes(key)) continue;
  const runDir = mkdirp(path.join(benchDir, `mem-run-${process.pid}`));
  const s = await startGitgate({ root, runDir, sourceGitDir: repo.gitDir, env: { ...env, ...extraEnv } });
  try {
    await measure(name, s, s.pid);
  } finally {
    await s.stop();
    rmrf(runDir);
  }
}
if (only.includes('cgit')) {
  const runDir = mkdirp(path.join(benchDir, `mem-run-${process.pid}`));
  const s = await startReference({ runDir, sourceGitDir: repo.gitDir, env });
  try {
    await measure('C Git http-backend (PSS of its processes)', s, null);
  } finally {
    await s.stop?.();
    rmrf(runDir);
  }
}
