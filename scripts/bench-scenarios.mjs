// The measured scenarios. Each has:
//   shared(ctx)            untimed, once: state common to both servers (e.g. commits to push)
//   setup(ctx, srv, sh)    untimed, per server (e.g. an up-to-date mirror to fetch into)
//   verify(ctx, srv, …)    untimed, per server, before the timed runs: the same operation once
//                          through the counting proxy (bytes on the wire), then `git fsck` and
//                          a check of the refs; a failure here is reported, never timed
//   before/run/after       per timed run; only `run` is timed
//   finish(ctx, srv, …)    untimed, per server, after the runs (e.g. fsck the server's repo)
// Both servers always receive the same operations with the same commits, so their
// repositories stay identical from one scenario to the next.
import fs from 'node:fs';
import path from 'node:path';
import { makeCommits } from './bench-repo.mjs';
import { swarm } from './bench-swarm.mjs';
import { CommandError, rmrf, run } from './bench-util.mjs';

const TIMEOUT = 15 * 60_000;
const git = (ctx, args, opts = {}) => run('git', args, { env: ctx.env, timeoutMs: TIMEOUT, ...opts });
const slug = (srv) => (srv.name === 'gitgate' ? 'gg' : 'ref');
const CLIENT = ['-c', 'gc.auto=0', '-c', 'maintenance.auto=false', '-c', 'fetch.writeCommitGraph=false'];
const FETCH_SPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];

/** `sha refname` lines for heads and tags, sorted. */
async function refsOf(ctx, gitDir, pattern = ['refs/heads/', 'refs/tags/']) {
  const out = (await git(ctx, ['--git-dir', gitDir, 'for-each-ref', '--format=%(objectname) %(refname)', ...pattern])).stdout;
  return out.trim().split('\n').filter(Boolean).sort().join('\n');
}

async function expectSameRefs(ctx, srv, cloneDir, what) {
  const want = await refsOf(ctx, srv.bareDir);
  const got = await refsOf(ctx, cloneDir);
  if (want !== got) {
    const w = new Set(want.split('\n'));
    const g = new Set(got.split('\n'));
    const missing = [...w].filter((x) => !g.has(x)).slice(0, 3);
    const extra = [...g].filter((x) => !w.has(x)).slice(0, 3);
    throw new Error(`${what}: refs differ from the server's repository (missing: ${missing.join(', ') || '-'}; unexpected: ${extra.join(', ') || '-'})`);
  }
}

async function expectRef(ctx, gitDir, ref, sha, what) {
  const got = (await git(ctx, ['--git-dir', gitDir, 'rev-parse', '--verify', '-q', ref], { allowFail: true })).stdout.trim();
  if (got !== sha) throw new Error(`${what}: ${ref} is ${got || 'missing'}, expected ${sha}`);
}

async function fsck(ctx, gitDir, what) {
  const res = await git(ctx, ['--git-dir', gitDir, 'fsck', '--no-progress', '--no-dangling'], { allowFail: true });
  if (res.code !== 0 || /^(error|fatal|missing|broken)/m.test(res.stderr)) {
    throw new CommandError('git', ['fsck', `(${what})`], res.code, null, res.stderr || res.stdout);
  }
}

// ------------------------------------------------------------------ clones

function cloneScenario(key, label, cloneArgs, check) {
  return {
    key,
    label,
    wire: true,
    async verify(ctx, srv) {
      const dest = path.join(ctx.tmp, `verify-${key}-${slug(srv)}`);
      const bytes = srv.proxy.measure();
      await git(ctx, [...cloneArgs, srv.proxyUrl, dest]);
      const wire = bytes();
      await fsck(ctx, dest, `${key} clone from ${srv.name}`);
      await check(ctx, srv, dest);
      rmrf(dest);
      return { wire };
    },
    async run(ctx, srv, _sh, _st, i) {
      await git(ctx, [...cloneArgs, srv.url, path.join(ctx.tmp, `${key}-${slug(srv)}-${i}`)]);
    },
    async after(ctx, srv, _sh, _st, i) {
      rmrf(path.join(ctx.tmp, `${key}-${slug(srv)}-${i}`));
    },
  };
}

const fullCloneCheck = (ctx, srv, dest) => expectSameRefs(ctx, srv, dest, 'clone');

/**
 * The first full clone after a push (the agent that pushes, then starts a fresh sandbox that
 * clones): before each run, untimed, one new commit is pushed to a branch, so the tips differ
 * from any earlier clone's. No restart: whatever the server keeps across requests stays.
 */
const cloneCold = {
  key: 'clone-cold',
  label: 'full clone, first after a push (cold)',
  wire: true,
  async shared(ctx) {
    const tip = await makeCommits(ctx.pusher, ctx.env, { ref: 'refs/bench/clone-cold', from: ctx.mainTip, count: ctx.runs + 1, label: 'clone-cold', seed: ctx.seed });
    const list = (await git(ctx, ['--git-dir', ctx.pusher, 'rev-list', '--reverse', `${ctx.mainTip}..${tip}`])).stdout.trim().split('\n');
    return { commits: list, ref: 'refs/heads/bench/clone-cold' };
  },
  async verify(ctx, srv, sh) {
    await git(ctx, ['--git-dir', ctx.pusher, 'push', '-q', srv.url, `${sh.commits[0]}:${sh.ref}`]);
    const dest = path.join(ctx.tmp, `verify-clone-cold-${slug(srv)}`);
    const bytes = srv.proxy.measure();
    await git(ctx, ['clone', '--bare', '-q', srv.proxyUrl, dest]);
    const wire = bytes();
    await fsck(ctx, dest, `cold clone from ${srv.name}`);
    await expectSameRefs(ctx, srv, dest, 'cold clone');
    rmrf(dest);
    return { wire };
  },
  before: (ctx, srv, sh, _st, i) => git(ctx, ['--git-dir', ctx.pusher, 'push', '-q', srv.url, `${sh.commits[i + 1]}:${sh.ref}`]),
  run: (ctx, srv, _sh, _st, i) => git(ctx, ['clone', '--bare', '-q', srv.url, path.join(ctx.tmp, `clone-cold-${slug(srv)}-${i}`)]),
  after: (ctx, srv, _sh, _st, i) => rmrf(path.join(ctx.tmp, `clone-cold-${slug(srv)}-${i}`)),
};

async function shallowCheck(ctx, srv, dest) {
  const head = (await git(ctx, ['--git-dir', srv.bareDir, 'rev-parse', 'HEAD'])).stdout.trim();
  await expectRef(ctx, dest, 'HEAD', head, 'depth-1 clone');
  const n = (await git(ctx, ['--git-dir', dest, 'rev-list', '--count', 'HEAD'])).stdout.trim();
  if (n !== '1') throw new Error(`depth-1 clone: ${n} commits in HEAD's history, expected 1`);
  if (!fs.existsSync(path.join(dest, 'shallow'))) throw new Error('depth-1 clone: no shallow file');
}

// ------------------------------------------------------------------ fetches

/** The client a fetch starts from: an up-to-date copy of the server's repository, made locally
 *  (what is measured is the fetch; a full clone of a large repository over HTTP would dominate the setup). */
async function mirror(ctx, srv, key) {
  const dest = path.join(ctx.tmp, `mirror-${key}-${slug(srv)}`);
  rmrf(dest);
  await git(ctx, ['clone', '--mirror', '-q', srv.bareDir, dest]);
  return dest;
}

const fetchInto = (ctx, dir, url) => git(ctx, ['--git-dir', dir, ...CLIENT, 'fetch', '-q', url, ...FETCH_SPECS]);

const fetchNoop = {
  key: 'fetch-noop',
  label: 'no-op fetch (up to date)',
  wire: true,
  setup: (ctx, srv) => mirror(ctx, srv, 'noop'),
  async verify(ctx, srv, _sh, dir) {
    const bytes = srv.proxy.measure();
    await fetchInto(ctx, dir, srv.proxyUrl);
    const wire = bytes();
    await fsck(ctx, dir, `mirror of ${srv.name}`);
    await expectSameRefs(ctx, srv, dir, 'no-op fetch');
    return { wire };
  },
  run: (ctx, srv, _sh, dir) => fetchInto(ctx, dir, srv.url),
  after: (ctx, srv, _sh, dir) => expectSameRefs(ctx, srv, dir, 'no-op fetch'),
  cleanup: (ctx, srv, _sh, dir) => rmrf(dir),
};

/** Commits F0..Fn, one after the other on a branch; F0 for the verify run, F(i+1) for run i. */
const fetchOne = {
  key: 'fetch-one',
  label: 'one-commit fetch',
  wire: true,
  async shared(ctx) {
    const tip = await makeCommits(ctx.pusher, ctx.env, { ref: 'refs/bench/fetch-one', from: ctx.mainTip, count: ctx.runs + 1, label: 'fetch-one', seed: ctx.seed });
    const list = (await git(ctx, ['--git-dir', ctx.pusher, 'rev-list', '--reverse', `${ctx.mainTip}..${tip}`])).stdout.trim().split('\n');
    return { commits: list, ref: 'refs/heads/bench/fetch-one' };
  },
  setup: (ctx, srv) => mirror(ctx, srv, 'one'),
  async verify(ctx, srv, sh, dir) {
    await git(ctx, ['--git-dir', ctx.pusher, 'push', '-q', srv.url, `${sh.commits[0]}:${sh.ref}`]);
    const bytes = srv.proxy.measure();
    await fetchInto(ctx, dir, srv.proxyUrl);
    const wire = bytes();
    await fsck(ctx, dir, `mirror of ${srv.name}`);
    await expectRef(ctx, dir, sh.ref, sh.commits[0], 'one-commit fetch');
    return { wire };
  },
  before: (ctx, srv, sh, _dir, i) => git(ctx, ['--git-dir', ctx.pusher, 'push', '-q', srv.url, `${sh.commits[i + 1]}:${sh.ref}`]),
  run: (ctx, srv, _sh, dir) => fetchInto(ctx, dir, srv.url),
  after: (ctx, srv, sh, dir, i) => expectRef(ctx, dir, sh.ref, sh.commits[i + 1], 'one-commit fetch'),
  cleanup: (ctx, srv, _sh, dir) => rmrf(dir),
};

// ------------------------------------------------------------------ pushes

/** Push `count` new commits (on top of main) to a new branch: one chain for verify, one per run. */
function pushScenario(key, label, count) {
  const branch = (k) => `refs/heads/bench/${key}-${k}`;
  const push = (ctx, url, sh, k) => git(ctx, ['--git-dir', ctx.pusher, 'push', '-q', url, `${sh.tips[k]}:${branch(k)}`]);
  return {
    key,
    label,
    wire: true,
    async shared(ctx) {
      const tips = [];
      for (let k = 0; k <= ctx.runs; k++) {
        tips.push(await makeCommits(ctx.pusher, ctx.env, { ref: `refs/bench/${key}/${k}`, from: ctx.mainTip, count, label: `${key}-${k}`, seed: ctx.seed }));
      }
      return { tips };
    },
    async verify(ctx, srv, sh) {
      const bytes = srv.proxy.measure();
      await push(ctx, srv.proxyUrl, sh, 0);
      const wire = bytes();
      await expectRef(ctx, srv.bareDir, branch(0), sh.tips[0], `${label} to ${srv.name}`);
      return { wire };
    },
    run: (ctx, srv, sh, _st, i) => push(ctx, srv.url, sh, i + 1),
    after: (ctx, srv, sh, _st, i) => expectRef(ctx, srv.bareDir, branch(i + 1), sh.tips[i + 1], `${label} to ${srv.name}`),
    finish: (ctx, srv) => fsck(ctx, srv.bareDir, `${srv.name}'s repository after ${key}`),
  };
}

// ------------------------------------------------------------------ concurrency

const concurrent = {
  key: 'concurrent',
  label: 'concurrent full clones',
  wire: false,
  async verify(ctx, srv) { // warm-up only: the clones of the first run are checked below
    const dest = path.join(ctx.tmp, `warm-conc-${slug(srv)}`);
    await git(ctx, ['clone', '--bare', '-q', srv.url, dest]);
    rmrf(dest);
    return {};
  },
  async run(ctx, srv, _sh, _st, i) {
    const dests = Array.from({ length: ctx.concurrency }, (_, k) => path.join(ctx.tmp, `conc-${slug(srv)}-${i}-${k}`));
    const results = await Promise.allSettled(dests.map((d) => git(ctx, ['clone', '--bare', '-q', srv.url, d])));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) {
      const e = failed[0].reason;
      e.message = `${failed.length} of ${ctx.concurrency} concurrent clones failed; first: ${e.message}`;
      throw e;
    }
  },
  async after(ctx, srv, _sh, _st, i) {
    const dests = Array.from({ length: ctx.concurrency }, (_, k) => path.join(ctx.tmp, `conc-${slug(srv)}-${i}-${k}`));
    if (i === 0) {
      await fsck(ctx, dests[0], `concurrent clone from ${srv.name}`);
      for (const d of dests) await expectSameRefs(ctx, srv, d, 'concurrent clone');
    }
    for (const d of dests) rmrf(d);
  },
};

export const SCENARIOS = [
  cloneCold,
  cloneScenario('clone-v0', 'full clone, protocol v0', ['-c', 'protocol.version=0', 'clone', '--bare', '-q'], fullCloneCheck),
  cloneScenario('clone-v2', 'full clone, protocol v2', ['-c', 'protocol.version=2', 'clone', '--bare', '-q'], fullCloneCheck),
  cloneScenario('clone-depth1', '`--depth 1` clone', ['-c', 'protocol.version=2', 'clone', '--bare', '-q', '--depth', '1'], shallowCheck),
  concurrent,
  fetchNoop,
  fetchOne,
  pushScenario('push-1', 'push 1 commit (new branch)', 1),
  pushScenario('push-1000', 'push 1,000 commits (new branch)', 1000),
  swarm, // last: its agents' branches differ from one server to the other only in name
];

/** Scenarios that need the local "pusher" repository (a clone of the synthetic one). */
export const NEEDS_PUSHER = new Set(['clone-cold', 'fetch-one', 'push-1', 'push-1000']);
