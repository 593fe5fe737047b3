// `npm run bench`: gitgate against C Git's `git http-backend` on the same synthetic
// repository, in the same run (SPEC §7). See README.md § Benchmark.
//
//   node scripts/bench.mjs [--quick] [--runs N] [--only a,b] [--big-blob-mb N] [--commits N]
//                          [--files N] [--seed N] [--concurrency N] [--no-bitmap] [--no-build]
//                          [--agents N] [--keep] [--root DIR] [--repo PATH] [--nodes N [--database-url URL]]
//
// Files: bench-repo.mjs (synthetic repository), bench-external.mjs (--repo), bench-servers.mjs (starting both servers),
// bench-cgi-server.mjs (http-backend as CGI), bench-proxy.mjs (byte counting),
// bench-rss.mjs (memory), bench-cpu.mjs (server CPU), bench-scenarios.mjs (what is measured), bench-swarm.mjs (the agent
// swarm), bench-report.mjs (output); with --nodes, bench-cluster.mjs (N nodes on PostgreSQL) and bench-balancer.mjs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { importRepo } from './bench-external.mjs';
import { buildRepo, DEFAULT_PARAMS, QUICK_PARAMS } from './bench-repo.mjs';
import { buildRows, renderMarkdown, writeJson } from './bench-report.mjs';
import { rssSupported } from './bench-rss.mjs';
import { NEEDS_PUSHER, SCENARIOS } from './bench-scenarios.mjs';
import { startGitgate, startReference } from './bench-servers.mjs';
import { createBenchDatabase, startGitgateCluster } from './bench-cluster.mjs';
import { fmtMs, gitEnv, median, mkdirp, newestMtime, rmrf, run } from './bench-util.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BENCH_DIR = path.resolve(HERE, '..', '.bench');
const GROUPS = {
  adv: ['adv-upload', 'adv-receive', 'ls-refs'],
  clones: ['clone-cold', 'clone-v0', 'clone-v2', 'clone-depth1'],
  fetch: ['fetch-noop', 'fetch-one'],
  push: ['push-1', 'push-1000', 'push-initial', 'swarm'],
};

const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/test';

const HELP = `usage: npm run bench -- [options]

  --quick              small repository (${QUICK_PARAMS.commits} commits) and 3 runs: a 1–3 minute check
  --runs N             timed runs per server and scenario (default 5, quick 3)
  --only LIST          comma-separated scenarios: ${SCENARIOS.map((s) => s.key).join(', ')}
                       (groups: ${Object.keys(GROUPS).join(', ')}); bytes and RSS come with each scenario
  --big-blob-mb N      size of the random binary blob (default ${DEFAULT_PARAMS.bigBlobMb})
  --commits N          commits in the synthetic history (default ${DEFAULT_PARAMS.commits})
  --files N            text files in the tree (default ${DEFAULT_PARAMS.files})
  --seed N             PRNG seed (default 1)
  --concurrency N      clients in the concurrent-clone scenario (default 32)
  --agents N           agents in the swarm scenario (default 24): each clone --depth 1,
                       3× commit + push to its own branch, fetch
  --no-bitmap          repack without a reachability bitmap
  --no-build           do not run \`npm run build\` even if dist/ looks stale
  --keep               keep .bench/run-<pid>/ (server logs, data) afterwards
  --root DIR           the gitgate checkout to benchmark (default: this one)
  --repo PATH          run every scenario on this repository (bare, or a clone: its branches
                       and tags) instead of the synthetic one; --commits, --files,
                       --big-blob-mb and --no-bitmap do not apply; clients' copies are
                       fsck'ed for connectivity only (servers' repositories in full)
  --nodes N            gitgate as N nodes on one data directory and one PostgreSQL database
                       (made fresh for the run, dropped after), behind a local least-connections
                       balancer (scripts/bench-balancer.mjs); adds per-node CPU to the table
  --database-url URL   the PostgreSQL to create that database in (default
                       $GITGATE_TEST_DATABASE_URL, else ${DEFAULT_PG})

BENCH_GITGATE_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" passes node flags to the gitgate process only.

Prints a Markdown table and writes .bench/last.json. Exits non-zero if anything failed.`;

function parse() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' }, runs: { type: 'string' }, only: { type: 'string' }, 'big-blob-mb': { type: 'string' },
      commits: { type: 'string' }, files: { type: 'string' }, seed: { type: 'string' }, concurrency: { type: 'string' }, agents: { type: 'string' },
      'no-bitmap': { type: 'boolean' }, 'no-build': { type: 'boolean' }, keep: { type: 'boolean' }, root: { type: 'string' },
      repo: { type: 'string' }, nodes: { type: 'string' }, 'database-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { console.log(HELP); process.exit(0); }
  if (values['database-url'] && !values.nodes) throw new UsageError('--database-url needs --nodes');
  const int = (name, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`);
    return n;
  };
  const params = { ...(values.quick ? QUICK_PARAMS : DEFAULT_PARAMS) };
  if (values.commits) params.commits = int('commits', values.commits, 10);
  if (values.files) params.files = int('files', values.files, 10);
  if (values['big-blob-mb']) params.bigBlobMb = int('big-blob-mb', values['big-blob-mb'], 0);
  if (values.seed) params.seed = int('seed', values.seed, 0);
  if (values['no-bitmap']) params.bitmap = false;
  let keys = SCENARIOS.map((s) => s.key);
  if (values.only) {
    keys = values.only.split(',').map((s) => s.trim()).filter(Boolean).flatMap((k) => GROUPS[k] ?? [k]);
    const bad = keys.filter((k) => !SCENARIOS.some((s) => s.key === k));
    if (bad.length) throw new UsageError(`unknown scenario ${bad.join(', ')}; known: ${SCENARIOS.map((s) => s.key).join(', ')}`);
  }
  return {
    params,
    runs: values.runs ? int('runs', values.runs, 1) : values.quick ? 3 : 5,
    scenarios: SCENARIOS.filter((s) => keys.includes(s.key)),
    concurrency: values.concurrency ? int('concurrency', values.concurrency, 1) : 32,
    agents: values.agents ? int('agents', values.agents, 1) : 24,
    build: !values['no-build'],
    keep: !!values.keep,
    root: path.resolve(values.root ?? path.join(HERE, '..')),
    repo: values.repo ?? null,
    nodes: values.nodes ? int('nodes', values.nodes, 1) : null,
    databaseUrl: values['database-url'] ?? process.env.GITGATE_TEST_DATABASE_URL ?? DEFAULT_PG,
  };
}

class UsageError extends Error {}
/** Never print the bench token that is part of gitgate's clone URL. */
const redact = (m) => String(m).replace(/(https?:\/\/[^:/@\s]+:)[^@\s]+@/g, '$1***@');
const say = (m) => process.stderr.write(`${redact(m)}\n`);
const loud = (m) => process.stderr.write(`\n!!!!!!!! ${redact(m)}\n\n`);

async function ensureBuilt(root, build) {
  const main = path.join(root, 'dist', 'cli', 'main.js');
  const stale = !fs.existsSync(main) || newestMtime(path.join(root, 'src'), /\.ts$/) > fs.statSync(main).mtimeMs;
  if (!stale) return;
  if (!build) { say('warning: dist/ looks older than src/ (--no-build given): benchmarking the old build'); return; }
  say('dist/ is stale: npm run build …');
  const res = await run('npm', ['run', 'build'], { cwd: root, allowFail: true });
  if (res.code !== 0) throw new Error(`npm run build failed:\n${res.stdout}${res.stderr}`);
}

/** Surface what gitgate wrote to stderr besides its JSON request log: warnings, errors. */
function reportServerLog(file) {
  if (!file || !fs.existsSync(file)) return;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const odd = [...new Set(lines.filter((l) => !l.startsWith('{') && !/--trace-warnings/.test(l)))];
  const errors = lines.filter((l) => /^\{.*"level":(50|60)/.test(l));
  const who = path.basename(file, '.log');
  if (odd.length) say(`\nnote: ${who} printed ${odd.length} distinct non-log line(s), e.g.:\n${odd.slice(0, 3).map((l) => `  ${l.slice(0, 200)}`).join('\n')}`);
  if (errors.length) say(`\nnote: ${who} logged ${errors.length} error(s), e.g.:\n  ${errors[0].slice(0, 300)}`);
}

/** Run one scenario against both servers: verify once (untimed), then A B A B … timed runs. */
async function runScenario(sc, ctx, servers) {
  const label = sc.key === 'concurrent' ? `${ctx.concurrency} concurrent full clones`
    : sc.key === 'swarm' ? `agent swarm: ${ctx.agents} agents × (clone --depth 1, 3× commit + push, fetch)` : sc.label;
  say(`\n== ${sc.key}: ${label}`);
  const out = { key: sc.key, label, wire: sc.wire };
  const res = new Map(servers.map((s) => [s, { status: 'ok', timesMs: [], cpuMs: [], cpuPartsMs: [], rssRuns: [] }]));
  const state = new Map();
  const fail = (srv, phase, e) => {
    const r = res.get(srv);
    const msg = e?.firstLine && !/^\(no output\)$/.test(e.firstLine) ? e.firstLine : String(e?.message ?? e).split('\n')[0];
    const unsupported = srv.name === 'gitgate' && (phase === 'setup' || phase === 'verify') && /support/i.test(msg);
    r.status = unsupported ? 'unsupported' : 'failed';
    r.error = redact(msg);
    r.phase = phase;
    const crash = srv.crashInfo();
    if (crash) r.error += ` [${crash}]`;
    if (unsupported) say(`   ${srv.name}: unsupported (${msg})`);
    else loud(`FAILED: ${sc.key} on ${srv.name} (${phase}): ${e?.message ?? e}${e?.stderr ? `\n--- git stderr ---\n${e.stderr.trim()}` : ''}${crash ? `\n${crash}` : ''}`);
  };
  const ok = (srv) => res.get(srv).status === 'ok';

  let shared = {};
  try {
    if (sc.shared) shared = await sc.shared(ctx);
  } catch (e) {
    for (const srv of servers) fail(srv, 'prepare', e);
  }
  for (const phase of ['setup', 'restart', 'verify']) {
    for (const srv of servers.filter(ok)) {
      try {
        if (phase === 'setup') state.set(srv, sc.setup ? await sc.setup(ctx, srv, shared) : undefined);
        // A fresh gitgate process after the setup (e.g. the clone a fetch needs), so that
        // neither the setup nor an earlier scenario shows in this scenario's memory numbers.
        // The untimed verify run that follows warms it up (JIT, token cache).
        else if (phase === 'restart') await srv.restart();
        else if (sc.verify) Object.assign(res.get(srv), await sc.verify(ctx, srv, shared, state.get(srv)));
      } catch (e) { fail(srv, phase, e); }
    }
  }
  for (let i = 0; i < ctx.runs; i++) {
    const line = [];
    for (const srv of servers.filter(ok)) {
      const st = state.get(srv);
      try {
        if (sc.before) await sc.before(ctx, srv, shared, st, i);
        srv.sampler.start();
        srv.cpu.start();
        const t0 = process.hrtime.bigint();
        try {
          await sc.run(ctx, srv, shared, st, i);
        } finally {
          res.get(srv).rssRuns.push(srv.sampler.stop());
        }
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const cpu = await srv.cpu.stop();
        res.get(srv).timesMs.push(ms);
        if (cpu != null) res.get(srv).cpuMs.push(cpu);
        if (cpu != null && srv.cpu.parts) res.get(srv).cpuPartsMs.push(srv.cpu.parts);
        const parts = srv.cpu.parts ? `: ${srv.cpu.parts.map((p, k) => `${srv.partNames[k]} ${fmtMs(p)}`).join(', ')}` : '';
        line.push(`${srv.name} ${fmtMs(ms)}${cpu != null ? ` (cpu ${fmtMs(cpu)}${parts})` : ''}`);
        if (sc.after) await sc.after(ctx, srv, shared, st, i);
      } catch (e) { fail(srv, `run ${i + 1}`, e); }
    }
    if (line.length) say(`   run ${i + 1}/${ctx.runs}: ${line.join(' · ')}`);
  }
  for (const srv of servers) {
    try {
      if (ok(srv) && sc.finish) Object.assign(res.get(srv), (await sc.finish(ctx, srv, shared, state.get(srv))) ?? {});
    } catch (e) { fail(srv, 'finish', e); }
    try { if (sc.cleanup && state.has(srv)) await sc.cleanup(ctx, srv, shared, state.get(srv)); } catch { /* best effort */ }
  }
  for (const srv of servers) {
    const r = res.get(srv);
    r.medianMs = median(r.timesMs);
    r.medianCpuMs = median(r.cpuMs);
    // per node (and the balancer), each the median of its own share
    r.medianCpuPartsMs = r.cpuPartsMs.length ? r.cpuPartsMs[0].map((_, k) => median(r.cpuPartsMs.map((p) => p[k]).filter((x) => x != null))) : undefined;
    delete r.cpuPartsMs;
    r.rss = r.rssRuns.length ? {
      peakKb: Math.max(...r.rssRuns.map((x) => x.peakKb)),
      peakAnonKb: Math.max(...r.rssRuns.map((x) => x.peakAnonKb)),
      maxProcesses: Math.max(...r.rssRuns.map((x) => x.maxProcs)),
    } : null;
    delete r.rssRuns;
    out[srv.name === 'gitgate' ? 'gitgate' : 'reference'] = r;
  }
  return out;
}

async function main() {
  const opts = parse();
  const loadAtStart = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  if (!rssSupported) say('warning: no /proc: server RSS will not be measured');
  const execPath = (await run('git', ['--exec-path'])).stdout.trim();
  if (!fs.existsSync(path.join(execPath, 'git-http-backend'))) throw new Error(`git http-backend not found in ${execPath}`);
  await ensureBuilt(opts.root, opts.build);

  mkdirp(BENCH_DIR);
  const repo = opts.repo ? await importRepo(BENCH_DIR, opts.repo, say) : await buildRepo(BENCH_DIR, opts.params, say);
  if (repo.cached) say(`${opts.repo ? `repository ${opts.repo}` : 'synthetic repository'} ${repo.stats.key} (cached): ${repo.stats.commits} commits, ${repo.stats.objects} objects, ${repo.stats.tags} tags`);

  const runDir = path.join(BENCH_DIR, `run-${process.pid}`);
  rmrf(runDir);
  const tmp = mkdirp(path.join(runDir, 'tmp'));
  const env = gitEnv(BENCH_DIR);
  const serverEnv = { ...process.env };
  delete serverEnv.GITGATE_MEMORY;

  const servers = [];
  let database = null;
  let balanced = null;
  const stopAll = async () => {
    for (const s of servers.splice(0)) {
      await s.stop().catch(() => {});
      balanced ??= s.requestsPerNode?.() ?? null;
    }
    await database?.drop().catch((e) => say(`warning: could not drop the bench database ${database.name}: ${e.message}`));
    database = null;
  };
  const logs = [];
  process.once('SIGINT', () => { void stopAll().finally(() => { if (!opts.keep) rmrf(runDir); process.exit(130); }); });
  const results = [];
  let idleRssKb = null;
  try {
    if (opts.nodes) {
      database = await createBenchDatabase(opts.databaseUrl);
      servers.push(await startGitgateCluster({ root: opts.root, runDir, sourceGitDir: repo.gitDir, env: serverEnv, nodes: opts.nodes, databaseUrl: database.url, databaseName: database.name }));
      say(`gitgate: ${opts.nodes} node(s) (${servers[0].partNames.slice(0, -2).join(', ')}) on PostgreSQL database ${database.name}, behind the balancer`);
    } else {
      servers.push(await startGitgate({ root: opts.root, runDir, sourceGitDir: repo.gitDir, env: serverEnv }));
    }
    servers.push(await startReference({ runDir, sourceGitDir: repo.gitDir, env }));
    idleRssKb = servers[0].idleRssKb;
    for (const s of servers) logs.push(...s.logs);
    say(`gitgate on 127.0.0.1:${new URL(servers[0].url).port}, git http-backend on 127.0.0.1:${new URL(servers[1].url).port}; ${opts.runs} runs each`);

    const ctx = { external: !!opts.repo, env, tmp, runs: opts.runs, concurrency: opts.concurrency, agents: opts.agents, seed: opts.params.seed, pusher: null, mainTip: null };
    // the default branch: main in the synthetic repository, whatever HEAD names in another
    ctx.mainBranch = (await run('git', ['--git-dir', repo.gitDir, 'symbolic-ref', '--short', 'HEAD'], { env })).stdout.trim();
    ctx.mainTip = (await run('git', ['--git-dir', repo.gitDir, 'rev-parse', 'HEAD'], { env })).stdout.trim();
    if (opts.scenarios.some((s) => NEEDS_PUSHER.has(s.key))) {
      ctx.pusher = path.join(tmp, 'pusher.git');
      await run('git', ['clone', '--bare', '-q', '--no-hardlinks', repo.gitDir, ctx.pusher], { env });
    }
    for (const sc of opts.scenarios) results.push(await runScenario(sc, ctx, servers));
  } finally {
    await stopAll();
    for (const f of logs.filter((l) => /gitgate[^/]*\.log$/.test(l))) reportServerLog(f);
    if (balanced) say(`\nbalancer: requests per node ${balanced}`);
    // Keep the servers' logs of a run with failures; the rest of the run directory goes.
    const failed = results.some((s) => s.gitgate?.status === 'failed' || s.reference?.status === 'failed');
    if (failed || !results.length) {
      for (const f of logs) if (fs.existsSync(f)) fs.copyFileSync(f, path.join(BENCH_DIR, `last-${path.basename(f)}`));
      if (logs.length) say(`server logs copied to ${path.join(BENCH_DIR, 'last-*.log')}`);
    }
    if (!opts.keep) rmrf(runDir);
    else say(`kept ${runDir}`);
  }

  const header = {
    runs: opts.runs,
    cluster: opts.nodes ? { nodes: opts.nodes, parts: [...Array.from({ length: opts.nodes }, (_, i) => `gw-${i + 1}`), 'PostgreSQL', 'balancer'], database: 'postgres' } : undefined,
    concurrency: opts.concurrency,
    agents: opts.agents,
    repo: { ...repo.params, ...repo.stats, params: undefined },
    machine: {
      load: loadAtStart,
      cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}`,
      git: (await run('git', ['--version'])).stdout.trim(), node: process.version,
    },
    referenceConfig: { 'http.receivepack': true, 'receive.fsckObjects': true },
  };
  const rows = buildRows(results, { idleRssKb });
  const md = renderMarkdown({ rows, header });
  process.stdout.write(`\n${md}\n`);
  const failures = results.flatMap((s) => ['gitgate', 'reference'].filter((k) => s[k]?.status === 'failed').map((k) => `${s.key} on ${k}: ${s[k].error}`));
  writeJson(path.join(BENCH_DIR, 'last.json'), { generatedAt: new Date().toISOString(), header, scenarios: results, rows: rows.map(({ cells, ...r }) => r), failures });
  say(`\nwrote ${path.relative(process.cwd(), path.join(BENCH_DIR, 'last.json'))}`);
  if (failures.length) {
    loud(`${failures.length} FAILURE(S):\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  if (e instanceof UsageError || e?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') say(`bench: ${e.message} (see --help)`);
  else loud(`bench aborted: ${e?.stack ?? e}`);
  process.exitCode = 1;
});
