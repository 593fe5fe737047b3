// The fuzz runner, shared by `npm run fuzz` and the vitest run: starts a server, builds the
// corpus, sends N generated cases, and judges each one:
//   - the server answers (no hang, no dropped connection, the process is alive);
//   - no 5xx, unless it is a Git protocol error in a 200 body (ERR, side-band 3, unpack/ng)
//     or a documented 502 for an unreachable git source;
//   - a 200 Git body is well-formed (framing, side-band, pack trailer) and complete;
//   - invalid credentials get 401 with WWW-Authenticate, out-of-scope 404, too weak 403;
//   - no secret is echoed; file routes never accept a path with '..', '.git' or NUL;
//   - a rejected request changes nothing on disk (refs, objects, files, repositories);
//   - every K cases and at the end: `git clone` over HTTP works and matches the refs,
//     `git fsck --full --strict` is clean, no temporary or lock files are left behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { git, gitOk, tmpDir } from '../helpers/git.js';
import { CATEGORIES, generateCase, type Category, type FuzzCase, type GenEnv, type Tokens } from './cases.js';
import { buildCorpus, gitUrl, SCRATCH_NAME, TARGET_NAME, type Corpus } from './corpus.js';
import { sendRaw, type RawResponse } from './http-raw.js';
import { ZERO, checkGitStream } from './pkt.js';
import { diffFiles, diffRefs, filesEqual, objectsEqual, refsEqual, snapshot, strayFiles, type RepoSnapshot } from './snapshot.js';
import { inProcessServer, spawnServer, type FuzzServer } from './target.js';
import { fillRoles, judgeTokenCase, mintFamily, type Api, type Family } from './token-cases.js';

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** first case index (cases run from `start` to `start + cases - 1`) */
  start?: number;
  /** run exactly these case indexes instead */
  only?: number[];
  categories?: Category[];
  server?: 'spawn' | 'in-process';
  timeoutMs?: number;
  /** time limit of heavy cases: bombs and corrupt packs (default 30 s) */
  heavyTimeoutMs?: number;
  checkpointEvery?: number;
  maxBombBytes?: number;
  /** a failure when the server's peak RSS exceeds this (MiB) */
  maxRssMb?: number;
  /** where reproducers are written (default: a temporary directory) */
  outDir?: string;
  log?: (line: string) => void;
  /** log every case */
  verbose?: boolean;
  /** Deliberate faults, to prove the oracles can fail (self-test only). */
  faults?: { fake500At?: number[]; diskChangeAt?: number[]; leakAt?: number[]; truncateAt?: number[] };
}

export interface Failure {
  seed: number;
  index: number;
  category: Category | 'checkpoint' | 'setup';
  kind: string;
  detail: string;
  what: string[];
  request?: { method: string; path: string; headers: [string, string][]; bodyLength?: number; bodyHead?: string; file?: string };
  response?: { status: number; ms: number; bodyHead: string; error?: string };
}

export interface CategoryStats {
  cases: number;
  statuses: Record<string, number>;
  accepted: number;
  totalMs: number;
  maxMs: number;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  durationMs: number;
  perCategory: Partial<Record<Category, CategoryStats>>;
  statuses: Record<string, number>;
  failures: Failure[];
  checkpoints: number;
  acceptedWrites: number;
  reposCreated: number;
  /** times the files changed with the same objects (background repacks) */
  repacksObserved: number;
  /** slowest /healthz answer while a heavy case ran (ms) */
  maxProbeMs: number;
  /** fsck runs repeated because a pack vanished under them (concurrent repack) */
  fsckRetries: number;
  /** requests with a head over 16 KiB whose 431 was lost to a connection reset */
  headOverflowResets: number;
  memory: { startMb: number; endMb: number; peakMb: number | null; samples: number[] };
  slowest: { index: number; category: Category; ms: number; what: string }[];
  notes: string[];
  outDir: string;
}


interface Setup {
  server: FuzzServer;
  corpus: Corpus;
  env: GenEnv;
  targetDir: string;
}

async function api(server: FuzzServer, method: string, p: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

async function mint(server: FuzzServer, body: object): Promise<{ token: string; id: string }> {
  const r = await api(server, 'POST', '/v1/repo_token', server.admin, body);
  if (r.status !== 201) throw new Error(`minting ${JSON.stringify(body)}: ${r.status} ${JSON.stringify(r.json)}`);
  return { token: r.json.token as string, id: r.json.id as string };
}

async function setup(opts: FuzzOptions, log: (s: string) => void): Promise<Setup> {
  // one client sends thousands of bad credentials on purpose: the per-address block and the
  // per-token concurrency cap would turn the rest of the run into 429s
  // git sources point back at this loopback server: allowed explicitly, as an operator would
  const env = { GITGATE_AUTH_FAIL_LIMIT: '0', GITGATE_MAX_CONCURRENT_PER_TOKEN: '0', GITGATE_IMPORT_ALLOW_NETWORKS: '127.0.0.0/8' };
  const server = opts.server === 'in-process' ? await inProcessServer(env) : await spawnServer({ env });
  log(`server: ${server.url} (data ${server.dataDir})`);
  const { corpus, targetId, scratchId } = await buildCorpus({ url: server.url, admin: server.admin }, log);
  const write = await mint(server, { name: 'fuzz write', repo_ids: [targetId], permission: 'write' });
  const read = await mint(server, { name: 'fuzz read', repo_ids: [targetId], permission: 'read' });
  const other = await mint(server, { name: 'fuzz other', repo_ids: [scratchId], permission: 'admin' });
  const victim = await mint(server, { name: 'fuzz victim', repo_ids: [targetId], permission: 'write' });
  const revoked = await mint(server, { name: 'fuzz revoked', repo_ids: [targetId], permission: 'admin' });
  const r = await api(server, 'DELETE', `/v1/repo_token/${revoked.id}`, server.admin);
  if (r.status !== 204) throw new Error(`revoking: ${r.status}`);
  const expired = await mint(server, { name: 'fuzz expired', repo_ids: [targetId], permission: 'admin', ttl_seconds: 1 });
  const tokens: Tokens = { admin: server.admin, write: write.token, read: read.token, other: other.token, revoked: revoked.token, expired: expired.token, victim: victim.token };
  // the expired token must be expired before the first case
  await new Promise((res) => setTimeout(res, 1100));
  const genEnv: GenEnv = {
    corpus,
    target: { id: targetId, name: TARGET_NAME },
    scratch: { id: scratchId, name: SCRATCH_NAME },
    tokens,
    selfUrl: server.url,
    maxBombBytes: opts.maxBombBytes ?? 1024 ** 3,
    heavyTimeoutMs: opts.heavyTimeoutMs ?? 30_000,
  };
  return { server, corpus, env: genEnv, targetDir: server.gitdir(targetId) };
}

function statusKey(r: RawResponse): string {
  if (r.timedOut) return 'timeout';
  if (r.status === 0) return r.error ?? 'no response';
  return String(r.status);
}

function head(buf: Buffer | undefined, n = 300): string {
  if (!buf) return '';
  return JSON.stringify(buf.subarray(0, n).toString('latin1')) + (buf.length > n ? `… (${buf.length} bytes)` : '');
}

function repoDirs(dataDir: string): string[] {
  try {
    return fs
      .readdirSync(dataDir)
      .filter((n) => n.endsWith('.git'))
      .sort();
  } catch {
    return [];
  }
}

/** Bad path components per spec §5 (and `git fsck`'s rules). */
function badFilePath(p: string | null | undefined): string | null {
  if (p === null) return 'undecodable percent-encoding';
  if (p === undefined) return null;
  if (p.includes('\0')) return 'NUL';
  if (p.startsWith('/')) return 'absolute';
  if (p.includes('\\')) return 'backslash';
  for (const part of p.split('/')) {
    if (part === '..' || part === '.') return `"${part}" component`;
    const t = part.replace(/[. ]+$/, '').toLowerCase();
    if (t === '.git' || t === 'git~1') return '.git component';
  }
  return null;
}

async function readBodyOf(c: FuzzCase, limit = 8 * 1024 * 1024): Promise<Buffer> {
  if (c.body === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(c.body)) return c.body;
  const parts: Buffer[] = [];
  let n = 0;
  for await (const p of c.body()) {
    parts.push(p);
    n += p.length;
    if (n >= limit) break;
  }
  return Buffer.concat(parts);
}

async function writeReproducer(outDir: string, seed: number, c: FuzzCase, server: FuzzServer): Promise<string> {
  fs.mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `case-${seed}-${c.index}`);
  const body = await readBodyOf(c);
  const lines = [`${c.method} ${c.path} HTTP/1.1`, `Host: ${server.host}:${server.port}`, ...c.headers.map(([k, v]) => `${k}: ${v}`), 'Connection: close'];
  if (c.body !== undefined) lines.push(c.chunked || !Buffer.isBuffer(c.body) ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`);
  const framed = c.chunked || (c.body !== undefined && !Buffer.isBuffer(c.body)) ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
  fs.writeFileSync(`${base}.http`, Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), framed]));
  fs.writeFileSync(`${base}.json`, JSON.stringify({ seed, index: c.index, category: c.category, what: c.what, method: c.method, path: c.path, headers: c.headers, bodyLength: c.bodyLength }, null, 2));
  return `${base}.http`;
}

/** Waits until nothing moves in the repository (background repacks finished). */
async function settle(gitdir: string, maxMs = 15_000): Promise<RepoSnapshot> {
  const until = Date.now() + maxMs;
  let prev = snapshot(gitdir);
  for (;;) {
    await new Promise((r) => setTimeout(r, 150));
    const cur = snapshot(gitdir);
    if (filesEqual(prev, cur) && strayFiles(cur).length === 0) return cur;
    if (Date.now() > until) return cur;
    prev = cur;
  }
}

async function alive(server: FuzzServer): Promise<boolean> {
  if (server.exited()) return false;
  const r = await sendRaw(server.host, server.port, { method: 'GET', path: '/healthz', headers: [] }, 5000);
  return r.status === 200;
}

/** Polls /healthz until stopped; resolves to the slowest answer (ms). */
function startProbe(server: FuzzServer): { stop(): Promise<number> } {
  let stopped = false;
  let max = 0;
  const loop = (async () => {
    await new Promise((r) => setTimeout(r, 50));
    while (!stopped) {
      const t = performance.now();
      const r = await sendRaw(server.host, server.port, { method: 'GET', path: '/healthz', headers: [] }, 30_000);
      const ms = r.status === 200 ? performance.now() - t : 30_000;
      max = Math.max(max, ms);
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return Math.round(max);
    },
  };
}

/**
 * `git fsck --full --strict` on a repository the server may be repacking: a pack retired and
 * deleted while fsck reads it ("index not opened", "No such file") is a race, not corruption,
 * so such a run is repeated once the repository is quiet.
 */
async function fsckRepo(gitdir: string, report: FuzzReport): Promise<{ ok: boolean; stderr: string }> {
  for (let attempt = 0; ; attempt++) {
    const f = await git(['--git-dir', gitdir, 'fsck', '--full', '--strict', '--no-dangling']);
    if (f.code === 0) return { ok: true, stderr: '' };
    const racy = /index not opened|No such file or directory|packfile .* cannot be accessed/.test(f.stderr);
    // every pack fsck complained about is gone by now: it was retired under fsck, not corrupt
    const named = [...f.stderr.matchAll(/(\/[^\s:]+\/pack-[0-9a-f]{40})\.(?:pack|idx)/g)].map((m) => m[1]!);
    const vanished = named.length > 0 && named.every((base) => !fs.existsSync(`${base}.pack`) && !fs.existsSync(`${base}.idx`));
    if (!racy || (attempt >= 3 && !(vanished && attempt < 10))) return { ok: false, stderr: f.stderr.trim() };
    report.fsckRetries++;
    await settle(gitdir, 5000);
  }
}

async function checkRefNames(refs: string[]): Promise<string[]> {
  const bad: string[] = [];
  for (const r of refs) {
    if (r === 'HEAD') continue;
    const res = await git(['check-ref-format', r]);
    if (res.code !== 0) bad.push(r);
  }
  return bad;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const every = opts.checkpointEvery ?? 250;
  const outDir = opts.outDir ?? path.join(os.tmpdir(), `gitgate-fuzz-${opts.seed}`);
  const report: FuzzReport = {
    seed: opts.seed,
    cases: 0,
    durationMs: 0,
    perCategory: {},
    statuses: {},
    failures: [],
    checkpoints: 0,
    acceptedWrites: 0,
    reposCreated: 0,
    repacksObserved: 0,
    maxProbeMs: 0,
    fsckRetries: 0,
    headOverflowResets: 0,
    memory: { startMb: 0, endMb: 0, peakMb: null, samples: [] },
    slowest: [],
    notes: [],
    outDir,
  };
  const { server, env, targetDir } = await setup(opts, log);
  const secrets = Object.values(env.tokens);
  let base = await settle(targetDir);
  let dirs = repoDirs(server.dataDir);
  const newRepos = new Set<string>();
  let checkpointNo = 0;
  /** temporary files by the case after which they first appeared (for attributing leftovers) */
  const strayOrigin = new Map<string, number>();
  const reportedStray = new Set<string>();
  report.memory.startMb = server.memory().rssMb;

  const fail = (f: Omit<Failure, 'seed'>) => {
    const full = { seed: opts.seed, ...f };
    report.failures.push(full);
    log(`FAIL #${f.index} [${f.category}] ${f.kind}: ${f.detail.slice(0, 300)}`);
  };

  const checkpoint = async (label: string) => {
    checkpointNo++;
    report.checkpoints++;
    const cp = (kind: string, detail: string) => fail({ index: -1, category: 'checkpoint', kind, detail: `${label}: ${detail}`, what: [] });
    if (!(await alive(server))) {
      cp('unresponsive', `server not answering /healthz (${server.exited() ?? 'process running'})`);
      return;
    }
    const now = await settle(targetDir);
    const stray = strayFiles(now).filter((f) => !reportedStray.has(f));
    if (stray.length) {
      const origin = (f: string) =>
        strayOrigin.has(f) ? ` (first seen after case ${strayOrigin.get(f)}; rerun: npm run fuzz -- --seed ${opts.seed} --case ${strayOrigin.get(f)})` : '';
      cp('stray-files', `temporary or lock files left in the target: ${stray.map((f) => `${f}${origin(f)}`).join(', ')}`);
      for (const f of stray) reportedStray.add(f);
    }
    if (!refsEqual(now, base)) cp('state-changed', `refs moved with no accepted write: ${diffRefs(base, now).join('; ')}`);
    if (!objectsEqual(now, base)) cp('state-changed', `object set changed with no accepted write (${base.objects.count} -> ${now.objects.count})`);
    base = now;
    // clone over HTTP, in a rotating style
    const styles = [['-c', 'protocol.version=2'], ['-c', 'protocol.version=0'], ['-c', 'protocol.version=2', '--depth', '1'], ['-c', 'protocol.version=2', '--filter=blob:none']];
    const style = styles[checkpointNo % styles.length]!;
    const dir = path.join(tmpDir('gitgate-fuzz-clone-'), 'c');
    const cfg = style.slice(0, 2);
    const rest = style.slice(2);
    const r = await git([...cfg, 'clone', '-q', '--bare', ...rest, gitUrl(server.url, env.target.id, env.tokens.read), dir]);
    if (r.code !== 0) cp('clone-failed', `git ${style.join(' ')} clone failed: ${r.stderr.trim().slice(-500)}`);
    else {
      const cloned = await gitOk(['--git-dir', dir, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads', 'refs/tags']);
      for (const line of cloned.split('\n').filter(Boolean)) {
        const [name, oid] = line.split(' ');
        if (base.refs[name!] !== oid) cp('clone-mismatch', `cloned ${name} = ${oid}, server has ${base.refs[name!] ?? '(none)'}`);
      }
      if (!rest.length) {
        const fsck = await git(['--git-dir', dir, 'fsck', '--full', '--no-dangling']);
        if (fsck.code !== 0) cp('fsck', `fsck of the clone failed: ${fsck.stderr.trim().slice(0, 500)}`);
      }
    }
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    for (const id of [env.target.id, ...newRepos]) {
      const gd = id === env.target.id ? targetDir : path.join(server.dataDir, id);
      if (!fs.existsSync(gd)) continue;
      const f = await fsckRepo(gd, report);
      if (!f.ok) cp('fsck', `git fsck --full --strict ${path.basename(gd)}: ${f.stderr.slice(0, 800)}`);
    }
    newRepos.clear();
    const mem = server.memory();
    report.memory.samples.push(Math.round(mem.rssMb));
    if (opts.maxRssMb && mem.peakMb && mem.peakMb > opts.maxRssMb) {
      cp('memory', `server peak RSS ${mem.peakMb.toFixed(0)} MiB exceeds ${opts.maxRssMb} MiB`);
    }
  };

  const indexes = opts.only ?? Array.from({ length: opts.cases }, (_, i) => (opts.start ?? 0) + i);
  let n = 0;
  for (const index of indexes) {
    const c = generateCase(opts.seed, index, env, opts.categories);
    const tokenApi: Api = (method, p, token, body) => api(server, method, p, token, body);
    // token cases act on a fresh family of tokens (a rotation must not spoil later cases)
    let family: Family | null = null;
    if (c.tokenPlan) {
      family = await mintFamily(tokenApi, env);
      fillRoles(c, family);
    }
    const stats = (report.perCategory[c.category] ??= { cases: 0, statuses: {}, accepted: 0, totalMs: 0, maxMs: 0 });
    // heavy cases: another client keeps asking /healthz meanwhile (others must still be served)
    const heavy = c.category === 'bomb' || (c.timeoutMs ?? timeoutMs) > timeoutMs;
    const probe = heavy ? startProbe(server) : null;
    const res = await sendRaw(
      server.host,
      server.port,
      { method: c.method, path: c.path, headers: c.headers, body: c.body, chunked: c.chunked, rawFraming: c.rawFraming, abortAfter: c.abortAfter },
      c.timeoutMs ?? timeoutMs,
    );
    // the client went away on purpose: give the server a moment to notice before judging the disk
    if (c.abortAfter !== undefined) await new Promise((r) => setTimeout(r, 300));
    const probeMs = probe ? await probe.stop() : 0;
    report.maxProbeMs = Math.max(report.maxProbeMs, probeMs);
    // deliberate faults (self-test of the oracles)
    if (opts.faults?.fake500At?.includes(index)) res.status = 500;
    if (opts.faults?.leakAt?.includes(index)) res.body = Buffer.concat([res.body, Buffer.from(env.tokens.admin)]);
    if (opts.faults?.truncateAt?.includes(index)) res.complete = false;
    if (opts.faults?.diskChangeAt?.includes(index)) {
      fs.mkdirSync(path.join(targetDir, 'refs', 'heads'), { recursive: true });
      fs.writeFileSync(path.join(targetDir, 'refs', 'heads', `injected-${index}`), `${env.corpus.refs['refs/heads/main']}\n`);
    }

    report.cases++;
    n++;
    stats.cases++;
    let key = c.abortAfter !== undefined && !res.timedOut && res.status === 0 ? 'client hung up' : statusKey(res);
    if (res.status === 200 && /x-git-(upload|receive)-pack-result/.test(res.headers['content-type'] ?? '')) {
      const kind = c.bodyKind === 'receive' ? 'receive' : c.bodyKind === 'upload-v2' ? 'upload-v2' : c.bodyKind === 'ls-refs' ? 'ls-refs' : 'upload-v0';
      const pe = checkGitStream(res.body, kind).protocolError;
      if (pe) key = pe.startsWith('unpack') ? '200/unpack-error' : pe.startsWith('ng ') ? '200/ng' : '200/ERR';
    }
    stats.statuses[key] = (stats.statuses[key] ?? 0) + 1;
    report.statuses[key] = (report.statuses[key] ?? 0) + 1;
    stats.totalMs += res.ms;
    stats.maxMs = Math.max(stats.maxMs, res.ms);
    report.slowest.push({ index, category: c.category, ms: Math.round(res.ms), what: c.what.join('; ').slice(0, 160) });
    if (report.slowest.length > 40) report.slowest = report.slowest.sort((a, b) => b.ms - a.ms).slice(0, 10);

    if (opts.verbose) log(`#${index} [${c.category}] ${key} ${Math.round(res.ms)} ms: ${c.what.join('; ').slice(0, 300)}`);
    const problems: { kind: string; detail: string }[] = [];
    const add = (kind: string, detail: string) => problems.push({ kind, detail });

    // 1. transport
    const hungUp = c.abortAfter !== undefined && !res.timedOut;
    // a request head beyond Node's 16 KiB limit is answered 431 and the socket destroyed while the
    // client is still writing: the reset can swallow the 431 (Node's clientError default)
    const headBytes = c.path.length + c.headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    const headOverflow = headBytes > 16 * 1024 && res.status === 0 && !res.timedOut;
    if (headOverflow) report.headOverflowResets++;
    if (res.timedOut) add('hang', `no complete answer within ${c.timeoutMs ?? timeoutMs} ms (status ${res.status || 'none'})`);
    else if (res.status === 0 && !hungUp && !headOverflow) add('no-response', `connection ended without an HTTP response (${res.error ?? 'closed'})`);
    if (res.timedOut || res.status === 0 || !res.complete) {
      if (!(await alive(server))) {
        // a dying process may take a moment to exit (a heap limit, a core dump)
        for (let i = 0; i < 50 && !server.exited(); i++) await new Promise((r) => setTimeout(r, 200));
        const m = server.memory();
        add('crash', `server is down after this case: ${server.exited() ?? `process alive (state ${server.state()}, RSS ${m.rssMb.toFixed(0)} MiB) but not answering /healthz`}; log tail: ${server.logs().slice(-600)}`);
        if (server.restart && server.exited()) {
          await server.restart().catch((err: Error) => add('crash', `restart failed: ${err.message}`));
        }
      }
    }
    const text = res.body.toString('latin1');
    if (probeMs > 5000) add('starved', `while this case ran, /healthz took ${probeMs} ms to answer`);
    // 2. status
    if (res.status >= 500) {
      const sourceError = res.status === 502 && /"code":"SOURCE_[A-Z_]+"/.test(text);
      if (!sourceError) add('server-error', `HTTP ${res.status}: ${head(res.body, 200)}`);
    }
    // 3. secrets
    for (const s of [...secrets, c.credential]) {
      if (s && s.length >= 20 && text.includes(s)) add('secret-leak', `response body contains a token secret (${s.slice(0, 8)}…)`);
    }
    // 4. expected statuses (auth, scope, permission)
    // 431: the header itself is too large for Node's parser, a fine answer too
    if (c.expectStatus && res.status && res.status !== 431 && !c.expectStatus.includes(res.status)) {
      add('auth-oracle', `expected ${c.expectStatus.join('/')} (${c.expectWhy}), got ${res.status}`);
    }
    if (res.status === 401 && !/Basic realm="gitgate"/.test(res.headers['www-authenticate'] ?? '')) {
      add('auth-oracle', `401 without WWW-Authenticate: Basic realm="gitgate" (got ${JSON.stringify(res.headers['www-authenticate'] ?? null)})`);
    }
    // 5. well-formed bodies
    if (res.status && !res.timedOut && !res.complete && !hungUp) add('truncated-response', `HTTP ${res.status} body ended before its framing did (${res.body.length} bytes)`);
    let pushReport: { unpackOk: boolean; ok: string[]; ng: string[] } | null = null;
    if (res.status === 200 && c.method !== 'HEAD') {
      const ct = res.headers['content-type'] ?? '';
      if (c.bodyKind === 'upload-v0' || c.bodyKind === 'upload-v2' || c.bodyKind === 'ls-refs' || c.bodyKind === 'receive') {
        if (/application\/x-git-(upload|receive)-pack-result/.test(ct)) {
          const chk = checkGitStream(res.body, c.bodyKind);
          if (!chk.ok) add('bad-protocol-stream', chk.problem!);
          if (c.bodyKind === 'receive') {
            const ok = chk.lines.filter((l) => l.startsWith('ok ')).map((l) => l.slice(3));
            const ng = chk.lines.filter((l) => l.startsWith('ng ')).map((l) => l.slice(3));
            const unpack = chk.lines.find((l) => l.startsWith('unpack '));
            // without report-status there is no report: the disk alone is judged
            if (unpack) pushReport = { unpackOk: unpack === 'unpack ok', ok, ng };
          }
        }
      } else if (c.bodyKind === 'advert-v0' || c.bodyKind === 'advert-v2') {
        if (/^application\/x-git-upload-pack-advertisement/.test(ct)) {
          const v2 = c.bodyKind === 'advert-v2';
          if (v2 ? !text.startsWith('000eversion 2\n') : !/^001e# service=git-upload-pack\n0000/.test(text)) add('bad-protocol-stream', `advertisement starts ${head(res.body, 60)}`);
        } else if (/^application\/x-git-receive-pack-advertisement/.test(ct)) {
          if (!/^001f# service=git-receive-pack\n0000/.test(text)) add('bad-protocol-stream', `advertisement starts ${head(res.body, 60)}`);
        }
        if (/^application\/x-git-(upload|receive)-pack-advertisement/.test(ct)) {
          const chk = checkGitStream(res.body, 'ls-refs');
          if (!chk.ok) add('bad-protocol-stream', chk.problem!);
        }
      }
    }
    // REST answers are JSON: a document on success, {"error":{"code","message"}} on failure
    if (res.status && res.complete && c.method !== 'HEAD' && /^application\/json/.test(res.headers['content-type'] ?? '')) {
      let doc: unknown;
      try {
        doc = JSON.parse(res.body.toString('utf8'));
      } catch {
        add('bad-json-response', `HTTP ${res.status} with Content-Type JSON but the body does not parse: ${head(res.body, 120)}`);
      }
      const e = (doc as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      if (doc !== undefined && res.status >= 400 && (typeof e?.code !== 'string' || typeof e?.message !== 'string')) {
        add('bad-json-response', `HTTP ${res.status} error body is not {"error":{"code","message"}}: ${head(res.body, 120)}`);
      }
    }
    // 5b. token management: no secret, record or revocation for a caller that could not have minted the token
    if (c.tokenPlan && family && res.status && res.complete) {
      for (const p of await judgeTokenCase(c.tokenPlan, family, res.status, text, tokenApi)) add(p.kind, p.detail);
    }
    // 6. file paths
    if (res.status >= 200 && res.status < 300 && (c.method === 'PUT' || c.method === 'DELETE') && c.filePath !== undefined) {
      const bad = badFilePath(c.filePath);
      if (bad) add('path-validation', `${c.method} accepted a path with ${bad}: ${JSON.stringify(c.filePath?.slice(0, 120))}`);
    }

    // 7. disk state
    const after = snapshot(targetDir);
    for (const f of strayFiles(after)) if (!strayOrigin.has(f)) strayOrigin.set(f, index);
    const logicalChanged = !refsEqual(after, base) || !objectsEqual(after, base);
    const accepted = res.status >= 200 && res.status < 300 && c.mayWrite;
    if (logicalChanged) {
      const refDiff = diffRefs(base, after);
      if (c.bodyKind === 'receive' && accepted && pushReport) {
        // a push: refs may move exactly as reported; objects may arrive when the pack was accepted
        if (!pushReport.unpackOk && (!objectsEqual(after, base) || refDiff.length)) {
          add('state-changed', `push refused at unpack (${pushReport.ng.length} ng) but the repository changed: ${refDiff.join('; ') || `objects ${base.objects.count} -> ${after.objects.count}`}`);
        }
        const okRefs = new Set(pushReport.ok.map((l) => l.split(' ')[0]!));
        for (const d of refDiff) {
          const name = d.slice(0, d.indexOf(':'));
          if (name !== 'HEAD' && !okRefs.has(name)) add('state-changed', `ref moved without an "ok" in the report: ${d}`);
        }
        const badNames = await checkRefNames([...okRefs].filter((r) => refDiff.some((d) => d.startsWith(`${r}:`))));
        if (badNames.length) add('ref-name', `push created refs that git check-ref-format rejects: ${badNames.map((x) => JSON.stringify(x)).join(', ')}`);
      } else if (c.bodyKind === 'receive' && accepted && !pushReport) {
        // no report-status asked for: judge by the disk alone
        const badNames = await checkRefNames(refDiff.map((d) => d.slice(0, d.indexOf(':'))).filter((r) => after.refs[r] && after.refs[r] !== ZERO));
        if (badNames.length) add('ref-name', `push created refs that git check-ref-format rejects: ${badNames.join(', ')}`);
      } else if (!accepted) {
        add('state-changed', `rejected request (HTTP ${res.status || res.error}) changed the repository: ${refDiff.join('; ') || ''}${!objectsEqual(after, base) ? ` objects ${base.objects.count} -> ${after.objects.count}` : ''}`);
      }
      if (accepted) {
        stats.accepted++;
        report.acceptedWrites++;
        if (c.bodyKind === 'receive' || c.filePath !== undefined) {
          const f = await fsckRepo(targetDir, report);
          if (!f.ok) add('fsck', `git fsck after an accepted write: ${f.stderr.slice(0, 800)}`);
        }
      }
      base = after;
    } else if (!filesEqual(after, base)) {
      // same refs and objects, other files: the background repack (or a kept pack of objects
      // already present); leftovers are caught by the stray-file check at checkpoints
      report.repacksObserved++;
      if (opts.verbose) log(`  files changed, same objects: ${diffFiles(base, after).slice(0, 4).join('; ')}`);
      base = after;
    }
    const nowDirs = repoDirs(server.dataDir);
    if (nowDirs.join('\n') !== dirs.join('\n')) {
      const added = nowDirs.filter((d) => !dirs.includes(d));
      const removed = dirs.filter((d) => !nowDirs.includes(d));
      // Express matches routes case-insensitively: /V1/REPO creates a repository too
      const created = res.status === 201 && c.method === 'POST';
      if (removed.length && !(c.method === 'DELETE' && res.status === 204)) add('state-changed', `repositories disappeared: ${removed.join(', ')}`);
      if (added.length && !created) add('state-changed', `repository directories appeared without a 201: ${added.join(', ')}`);
      for (const a of added) newRepos.add(a);
      if (created) report.reposCreated += added.length;
      dirs = nowDirs;
    }

    if (problems.length) {
      const file = await writeReproducer(outDir, opts.seed, c, server).catch(() => undefined);
      for (const p of problems) {
        fail({
          index,
          category: c.category,
          kind: p.kind,
          detail: p.detail,
          what: c.what,
          request: { method: c.method, path: c.path.slice(0, 300), headers: c.headers.map(([k, v]) => [k, v.slice(0, 200)]), bodyLength: c.bodyLength, bodyHead: Buffer.isBuffer(c.body) ? head(c.body, 200) : undefined, file },
          response: { status: res.status, ms: Math.round(res.ms), bodyHead: head(res.body, 300), error: res.error },
        });
      }
    }
    if (n % every === 0) {
      log(`${n}/${indexes.length} cases, ${report.failures.length} failures, ${Math.round((Date.now() - started) / 1000)} s, server RSS ${server.memory().rssMb.toFixed(0)} MiB`);
      await checkpoint(`after case ${index}`);
    }
  }
  await checkpoint('final');
  // logs: secrets must never be written there
  const logs = server.logs();
  for (const s of secrets) {
    if (logs.includes(s)) fail({ index: -1, category: 'checkpoint', kind: 'secret-leak', detail: `server log contains a token secret (${s.slice(0, 8)}…)`, what: [] });
  }
  const errorLines = logs.split('\n').filter((l) => /"level":(50|60)/.test(l));
  if (errorLines.length) report.notes.push(`${errorLines.length} error-level log lines, e.g. ${errorLines[0]!.slice(0, 400)}`);
  const mem = server.memory();
  report.memory.endMb = mem.rssMb;
  report.memory.peakMb = mem.peakMb;
  if (opts.maxRssMb && mem.peakMb && mem.peakMb > opts.maxRssMb) {
    fail({ index: -1, category: 'checkpoint', kind: 'memory', detail: `server peak RSS ${mem.peakMb.toFixed(0)} MiB exceeds ${opts.maxRssMb} MiB`, what: [] });
  }
  report.slowest = report.slowest.sort((a, b) => b.ms - a.ms).slice(0, 10);
  report.durationMs = Date.now() - started;
  await server.close();
  if (report.failures.length && logs) {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'server.log'), server.logs());
    report.notes.push(`server log in ${path.join(outDir, 'server.log')}`);
  }
  if (report.failures.length === 0) {
    fs.rmSync(server.dataDir, { recursive: true, force: true });
    fs.rmSync(env.corpus.workDir, { recursive: true, force: true });
  } else report.notes.push(`server data kept in ${server.dataDir}`);
  return report;
}

export function formatReport(r: FuzzReport): string {
  const out: string[] = [];
  out.push(`gitgate fuzz: seed ${r.seed}, ${r.cases} cases in ${(r.durationMs / 1000).toFixed(1)} s, ${r.checkpoints} checkpoints (clone + fsck)`);
  out.push('');
  out.push('| category | cases | accepted writes | statuses | mean ms | max ms |');
  out.push('| --- | ---: | ---: | --- | ---: | ---: |');
  for (const cat of CATEGORIES) {
    const s = r.perCategory[cat];
    if (!s) continue;
    const st = Object.entries(s.statuses)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
    out.push(`| ${cat} | ${s.cases} | ${s.accepted} | ${st} | ${(s.totalMs / s.cases).toFixed(1)} | ${s.maxMs.toFixed(0)} |`);
  }
  out.push('');
  out.push(
    `statuses: ${Object.entries(r.statuses)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}:${v}`)
      .join(' ')}`,
  );
  out.push(
    `accepted writes ${r.acceptedWrites}, repositories created ${r.reposCreated}, repacks observed ${r.repacksObserved}, ` +
      `fsck runs repeated after a pack vanished mid-run ${r.fsckRetries}, resets instead of 431 for heads over 16 KiB ${r.headOverflowResets}, ` +
      `slowest /healthz during heavy cases ${r.maxProbeMs} ms`,
  );
  out.push(
    `server memory: RSS ${r.memory.startMb.toFixed(0)} MiB at start, ${r.memory.endMb.toFixed(0)} MiB at the end, peak ${r.memory.peakMb?.toFixed(0) ?? '?'} MiB; checkpoints ${r.memory.samples.join(' ')}`,
  );
  out.push('slowest cases:');
  for (const s of r.slowest.slice(0, 5)) out.push(`  #${s.index} ${s.category} ${s.ms} ms: ${s.what}`);
  for (const n of r.notes) out.push(`note: ${n}`);
  out.push('');
  if (!r.failures.length) out.push('no failures');
  else {
    const byKind = new Map<string, number>();
    for (const f of r.failures) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
    out.push(`${r.failures.length} FAILURES (${[...byKind].map(([k, v]) => `${k}:${v}`).join(' ')}); reproducers in ${r.outDir}`);
    for (const f of r.failures.slice(0, 60)) {
      out.push('');
      out.push(`- seed ${f.seed} case ${f.index} [${f.category}] ${f.kind}: ${f.detail}`);
      if (f.what.length) out.push(`  mutations: ${f.what.join('; ').slice(0, 400)}`);
      if (f.request) {
        out.push(`  request: ${f.request.method} ${f.request.path}`);
        out.push(`  headers: ${f.request.headers.map(([k, v]) => `${k}: ${v}`).join(' | ').slice(0, 300)}`);
        if (f.request.bodyLength !== undefined) out.push(`  body: ${f.request.bodyLength} bytes ${f.request.bodyHead ?? ''}`);
        if (f.request.file) out.push(`  raw request: ${f.request.file}`);
      }
      if (f.response) out.push(`  response: ${f.response.status || f.response.error} in ${f.response.ms} ms ${f.response.bodyHead}`);
      if (f.index >= 0) out.push(`  rerun: npm run fuzz -- --seed ${f.seed} --case ${f.index}`);
    }
    if (r.failures.length > 60) out.push(`… and ${r.failures.length - 60} more`);
  }
  return out.join('\n');
}
