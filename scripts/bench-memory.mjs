// Server memory per workload, gitgate (with and without the V8 settings of
// src/pack/low-memory.ts) beside C Git's http-backend: the synthetic benchmark repository is
// served by each, then for each workload the peak RSS during it, the idle RSS 5 s after it and
// the settled RSS 20 s after it, once caches unused for GITGATE_CACHE_IDLE_SECONDS (10 s) are
// dropped (gitgate: the one process; C Git: the sum of its per-request processes' PSS, 0 when
// idle). For gitgate, where the settled memory is (its /metrics: V8 heap, buffers, caches).
//
//   npm run build && node scripts/bench-memory.mjs [--quick] [--servers gitgate,gitgate-plain,gitgate-arenas,cgit]
import fs from 'node:fs';
import os from 'node:os';
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

/** The whole repository pushed into a new, empty one (the initial push of a migration). */
async function initialPush(s, work) {
  const url = new URL(s.url);
  const secret = decodeURIComponent(url.password);
  const res = await fetch(`${url.origin}/v1/repo`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `mem-push-${Date.now()}` }) });
  if (!res.ok) throw new Error(`creating a repository: ${res.status} ${await res.text()}`);
  const { repo_id: id } = await res.json();
  await run('git', ['--git-dir', work, 'push', '-q', `${url.origin.replace('//', `//token:${secret}@`)}/v1/repo/${id}.git`, 'refs/heads/*:refs/heads/*', 'refs/tags/*:refs/tags/*'], { env });
}

const WORKLOADS = [
  ['initial push of the whole repository', (s, work) => initialPush(s, work)],
  ['8 full clones, one after another', (s) => clones(s.url, 8, false)],
  ['16 concurrent full clones', (s) => clones(s.url, 16, true)],
  ['8 --depth 1 clones', (s) => clones(s.url, 8, false, ['--depth', '1'])],
  ['5 pushes of 20 commits', (s, work) => pushes(s.url, work, 5)],
];

/** gitgate's memory gauges (MiB), from its /metrics (loopback: no token needed). */
async function breakdown(server) {
  const url = new URL(server.url);
  const res = await fetch(`${url.origin}/metrics`).catch(() => null);
  if (!res?.ok) return {};
  const text = await res.text();
  const out = {};
  for (const m of text.matchAll(/^gitgate_(memory|cache)_(\w+)_bytes (\d+)/gm)) out[m[2]] = mib(Number(m[3]) / 1024);
  return out;
}

async function measure(name, server, rootPid) {
  const work = path.join(benchDir, `mem-work-${process.pid}.git`);
  rmrf(work);
  const rss = () => mib(rootPid ? currentRssKb(rootPid) : 0);
  const rows = [{ workload: 'idle after start', peakMiB: null, idleMiB: rss(), settledMiB: null }];
  const details = [{ workload: 'idle after start', ...(rootPid ? await breakdown(server) : {}) }];
  await run('git', ['clone', '-q', '--bare', '--mirror', server.url, work], { env });
  for (const [label, fn] of WORKLOADS) {
    server.sampler.start();
    await fn(server, work);
    server.sampler.stop?.();
    const peak = server.sampler.peak;
    await sleep(5000);
    const idle = rss();
    await sleep(15000);
    rows.push({ workload: label, peakMiB: mib(peak), idleMiB: idle, settledMiB: rss() });
    if (rootPid) details.push({ workload: label, ...(await breakdown(server)) });
  }
  rmrf(work);
  console.log(`\n${name}`);
  console.table(rows);
  if (rootPid) {
    console.log('settled, from /metrics (MiB):');
    console.table(details);
  }
}

for (const [key, name, extraEnv] of [['gitgate', 'gitgate', {}], ['gitgate-plain', 'gitgate, GITGATE_LOW_MEMORY=0', { GITGATE_LOW_MEMORY: '0' }], ['gitgate-arenas', `gitgate, MALLOC_ARENA_MAX=${8 * os.cpus().length} (glibc's default)`, { MALLOC_ARENA_MAX: String(8 * os.cpus().length) }]]) {
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
