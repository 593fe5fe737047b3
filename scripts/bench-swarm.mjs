// The agent swarm (issue 12): N agents at once, each the seeds' flow — `clone --depth 1` of
// main, three times commit + push to its own branch, then fetch. Timed as a whole (wall
// time); every git operation is also timed alone for the p95, and failed operations counted.
import fs from 'node:fs';
import path from 'node:path';
import { rmrf, run } from './bench-util.mjs';

const TIMEOUT = 10 * 60_000;
const ROUNDS = 3;
const slug = (srv) => (srv.name === 'gitgate' ? 'gg' : 'ref');
const dirOf = (ctx, srv, i, k) => path.join(ctx.tmp, `swarm-${slug(srv)}-${i}-${k}`);

function p95(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)];
}

/** One agent; returns the latency of each git operation, stopping at the first failure. */
async function agent(ctx, srv, i, k, stats) {
  const dir = dirOf(ctx, srv, i, k);
  // fixed identity and dates: both servers receive the same commits
  const env = { ...ctx.env, GIT_AUTHOR_NAME: `agent ${k}`, GIT_AUTHOR_EMAIL: `a${k}@bench`, GIT_COMMITTER_NAME: `agent ${k}`, GIT_COMMITTER_EMAIL: `a${k}@bench`,
    GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z' };
  const op = async (args, cwd) => {
    const r = await run('git', ['-c', 'gc.auto=0', '-c', 'maintenance.auto=false', ...args], { cwd, env, timeoutMs: TIMEOUT, allowFail: true });
    if (r.code !== 0) {
      stats.failures++;
      stats.firstError ??= `git ${args[0]}: ${r.stderr.trim().split('\n').slice(-1)[0]}`;
      throw new Error(stats.firstError);
    }
    stats.latencies.push(r.ms);
  };
  try {
    await op(['clone', '-q', '--depth', '1', '-b', ctx.mainBranch, '--single-branch', srv.url, dir]);
    const branch = `refs/heads/swarm/run${i}/agent${k}`;
    for (let round = 1; round <= ROUNDS; round++) {
      fs.writeFileSync(path.join(dir, `agent-${k}.txt`), `agent ${k}, run ${i}, round ${round}\n`);
      await op(['add', '-A'], dir);
      await op(['commit', '-q', '-m', `agent ${k} round ${round}`], dir);
      await op(['push', '-q', 'origin', `HEAD:${branch}`], dir);
    }
    await op(['fetch', '-q', 'origin'], dir);
  } catch { /* counted in stats; the agent stops there */ }
}

export const swarm = {
  key: 'swarm',
  label: 'agent swarm',
  wire: false,
  shared: () => ({ stats: new Map() }),
  setup(ctx, srv, sh) { sh.stats.set(srv.name, { latencies: [], failures: 0, firstError: null }); },
  async run(ctx, srv, sh, _st, i) {
    const stats = sh.stats.get(srv.name);
    const before = stats.failures;
    await Promise.all(Array.from({ length: ctx.agents }, (_, k) => agent(ctx, srv, i, k, stats)));
    if (stats.failures > before) throw new Error(`${stats.failures - before} git operation(s) of ${ctx.agents} agents failed; first: ${stats.firstError}`);
  },
  after(ctx, srv, _sh, _st, i) { for (let k = 0; k < ctx.agents; k++) rmrf(dirOf(ctx, srv, i, k)); },
  async finish(ctx, srv, sh) {
    const res = await run('git', ['--git-dir', srv.bareDir, 'fsck', '--no-progress', '--no-dangling'], { env: ctx.env, allowFail: true });
    if (res.code !== 0) throw new Error(`fsck of ${srv.name}'s repository after the swarm: ${res.stderr.trim().split('\n')[0]}`);
    const stats = sh.stats.get(srv.name);
    return { swarm: { agents: ctx.agents, ops: stats.latencies.length, p95Ms: p95(stats.latencies), failures: stats.failures } };
  },
};
