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

/**
 * `git fsck` of a repository. A client's copy of a real repository (--repo) is checked for
 * connectivity only: its index-pack already hashed every object it received, and a full fsck
 * of a few hundred thousand objects per scenario and server would take longer than the runs.
 */
async function fsck(ctx, gitDir, what, { client = false } = {}) {
  const quick = client && ctx.external ? ['--connectivity-only'] : [];
  const res = await git(ctx, ['--git-dir', gitDir, 'fsck', '--no-progress', '--no-dangling', ...quick], { allowFail: true });
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
      await fsck(ctx, dest, `${key} clone from ${srv.name}`, { client: true });
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
    await fsck(ctx, dest, `cold clone from ${srv.name}`, { client: true });
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
    await fsck(ctx, dir, `mirror of ${srv.name}`, { client: true });
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
    await fsck(ctx, dir, `mirror of ${srv.name}`, { client: true });
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

/**
 * The initial push of the whole repository (its branches and tags) into a new, empty one:
 * moving an existing project in. A fresh repository per run, made untimed before it.
 */
const pushInitial = {
  key: 'push-initial',
  label: 'initial push of the whole repository',
  wire: true,
  async verify(ctx, srv) {
    const target = await srv.createRepo('initial-verify');
    const bytes = srv.proxy.measure();
    await git(ctx, ['--git-dir', ctx.pusher, 'push', '-q', target.proxyUrl, ...INITIAL_SPECS]);
    const wire = bytes();
    await expectSameHeadsAndTags(ctx, ctx.pusher, target.bareDir, `initial push to ${srv.name}`);
    await srv.deleteRepo(target);
    return { wire };
  },
  async before(ctx, srv, _sh, st, i) {
    st.target = await srv.createRepo(`initial-${i}`);
  },
  setup: () => ({}),
  run: (ctx, srv, _sh, st) => git(ctx, ['--git-dir', ctx.pusher, 'push', '-q', st.target.url, ...INITIAL_SPECS]),
  async after(ctx, srv, _sh, st, i) {
    await expectSameHeadsAndTags(ctx, ctx.pusher, st.target.bareDir, `initial push to ${srv.name}`);
    // C Git's own copy needs no check by C Git; gitgate's is checked in full once
    if (i === ctx.runs - 1 && srv.name === 'gitgate') await fsck(ctx, st.target.bareDir, 'gitgate\'s repository after the initial push');
    await srv.deleteRepo(st.target);
  },
};
const INITIAL_SPECS = ['refs/heads/*:refs/heads/*', 'refs/tags/*:refs/tags/*'];

async function expectSameHeadsAndTags(ctx, fromDir, toDir, what) {
  const want = await refsOf(ctx, fromDir);
  const got = await refsOf(ctx, toDir);
  if (want !== got) throw new Error(`${what}: the pushed repository's branches and tags differ from the source's`);
}

// ------------------------------------------------------------------ advertisement

/** http(s) URL without the user:secret part (fetch() refuses those) and the header carrying it. */
function plainUrl(srv, url) {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return { base: u.toString().replace(/\/$/, ''), headers: srv.authHeader() };
}

/** Payloads of a pkt-line stream, as text (flush/delim packets skipped). */
function pktLines(buf) {
  const out = [];
  for (let i = 0; i + 4 <= buf.length;) {
    const n = parseInt(buf.toString('latin1', i, i + 4), 16);
    if (n < 4) { i += 4; continue; }
    out.push(buf.toString('utf8', i + 4, i + n).replace(/\n$/, ''));
    i += n;
  }
  return out;
}

const pkt = (s) => `${(s.length + 5).toString(16).padStart(4, '0')}${s}\n`;
const LS_REFS_BODY = `${pkt('command=ls-refs')}${pkt('object-format=sha1')}0001${pkt('peel')}${pkt('symrefs')}${pkt('unborn')}`
  + `${pkt('ref-prefix refs/heads/')}${pkt('ref-prefix refs/tags/')}0000`;

/**
 * One advertisement request by itself (what every fetch, clone and push starts with): the time of
 * the HTTP exchange, and a check that every branch and tag is in it.
 */
function advertisementScenario(key, label, request) {
  const once = async (ctx, srv, url) => {
    const { base, headers } = plainUrl(srv, url);
    const r = request(base);
    const res = await fetch(r.url, { method: r.method ?? 'GET', headers: { ...headers, ...r.headers }, body: r.body });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`${key}: HTTP ${res.status}: ${body.toString('utf8').slice(0, 200)}`);
    return body;
  };
  return {
    key,
    label,
    wire: true,
    async verify(ctx, srv) {
      const bytes = srv.proxy.measure();
      const body = await once(ctx, srv, srv.proxyUrl);
      const wire = bytes();
      const names = new Set(pktLines(body).map((l) => l.split('\0')[0].split(' ')[1]));
      const want = (await refsOf(ctx, srv.bareDir)).split('\n').map((l) => l.split(' ')[1]);
      const missing = want.filter((n) => !names.has(n));
      const peeled = [...names].filter((n) => n?.endsWith('^{}')).length + pktLines(body).filter((l) => l.includes(' peeled:')).length;
      if (missing.length) throw new Error(`${key}: ${missing.length} refs missing from the answer, e.g. ${missing[0]}`);
      return { wire, refs: want.length, peeled };
    },
    run: (ctx, srv) => once(ctx, srv, srv.url),
  };
}

const advUpload = advertisementScenario('adv-upload', 'upload-pack advertisement (GET info/refs, v0)',
  (base) => ({ url: `${base}/info/refs?service=git-upload-pack` }));
const advReceive = advertisementScenario('adv-receive', 'receive-pack advertisement (GET info/refs)',
  (base) => ({ url: `${base}/info/refs?service=git-receive-pack` }));
const lsRefsV2 = advertisementScenario('ls-refs', 'v2 ls-refs (heads and tags, peeled)', (base) => ({
  url: `${base}/git-upload-pack`,
  method: 'POST',
  headers: { 'content-type': 'application/x-git-upload-pack-request', accept: 'application/x-git-upload-pack-result', 'git-protocol': 'version=2' },
  body: LS_REFS_BODY,
}));

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
      await fsck(ctx, dests[0], `concurrent clone from ${srv.name}`, { client: true });
      for (const d of dests) await expectSameRefs(ctx, srv, d, 'concurrent clone');
    }
    for (const d of dests) rmrf(d);
  },
};

export const SCENARIOS = [
  advUpload,
  advReceive,
  lsRefsV2,
  cloneCold,
  cloneScenario('clone-v0', 'full clone, protocol v0', ['-c', 'protocol.version=0', 'clone', '--bare', '-q'], fullCloneCheck),
  cloneScenario('clone-v2', 'full clone, protocol v2', ['-c', 'protocol.version=2', 'clone', '--bare', '-q'], fullCloneCheck),
  cloneScenario('clone-depth1', '`--depth 1` clone', ['-c', 'protocol.version=2', 'clone', '--bare', '-q', '--depth', '1'], shallowCheck),
  concurrent,
  fetchNoop,
  fetchOne,
  pushScenario('push-1', 'push 1 commit (new branch)', 1),
  pushScenario('push-1000', 'push 1,000 commits (new branch)', 1000),
  pushInitial,
  swarm, // last: its agents' branches differ from one server to the other only in name
];

/** Scenarios that need the local "pusher" repository (a clone of the synthetic one). */
export const NEEDS_PUSHER = new Set(['clone-cold', 'fetch-one', 'push-1', 'push-1000', 'push-initial']);
