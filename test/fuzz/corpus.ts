// The seed corpus: a deterministic repository pushed to the server, then VALID requests
// captured from real git traffic through a recording proxy (clones and fetches in protocol
// v0 and v2 — full, shallow, since, exclude, partial, incremental with haves, ls-remote —
// and pushes, thin and not, and from a shallow clone), plus packs made by `git pack-objects`. Everything is derived
// from fixed content and dates, so object ids are the same on every run.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { git, gitBytes, gitOk, tmpDir } from '../helpers/git.js';
import { Rng } from './prng.js';
import { ZERO } from './pkt.js';

export interface Captured {
  name: string;
  method: string;
  /** Path after /v1/repo/<id>.git, e.g. "/git-upload-pack" or "/info/refs?service=git-upload-pack" */
  tail: string;
  /** Headers that matter to the server (content-type, git-protocol) */
  headers: Record<string, string>;
  body: Buffer;
}

export interface PushSample {
  name: string;
  /** The pkt-line command list (with flush, and push options if any) */
  commands: Buffer;
  pack: Buffer;
  /** ref -> new oid the push would set */
  updates: { ref: string; oldOid: string; newOid: string }[];
}

export interface Corpus {
  upload0: Captured[];
  upload2: Captured[];
  lsRefs: Captured[];
  infoRefs: Captured[];
  pushes: PushSample[];
  /** Objects present on the target after setup, by type */
  oids: { commit: string[]; tree: string[]; blob: string[]; tag: string[] };
  /** Objects that exist only in the push samples */
  newOids: string[];
  refs: Record<string, string>;
  files: string[];
  /** A pack of every object of the target (for splicing) */
  fullPack: Buffer;
  workDir: string;
}

export interface CorpusTarget {
  /** http://127.0.0.1:PORT */
  url: string;
  admin: string;
}

export const TARGET_NAME = 'fuzz-target';
export const SCRATCH_NAME = 'fuzz-scratch';

const DAY = 86_400;
const T0 = Date.UTC(2026, 0, 1) / 1000;

function dateEnv(day: number): Record<string, string> {
  const d = `${T0 + day * DAY} +0000`;
  return { GIT_AUTHOR_DATE: d, GIT_COMMITTER_DATE: d };
}

function lines(rng: Rng, n: number): string[] {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'parse', 'render', 'fetchPack', 'index_pack', 'resolveRef', 'token', 'shallow', 'negotiate'];
  return Array.from({ length: n }, (_, i) => `line ${i}: ${Array.from({ length: 6 }, () => rng.pick(words)).join(' ')}`);
}

async function commit(dir: string, day: number, files: Record<string, string | Buffer | null>, message: string): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(dir, name);
    if (content === null) fs.rmSync(p, { force: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
    }
  }
  await gitOk(['add', '-A'], { cwd: dir, env: dateEnv(day) });
  await gitOk(['commit', '-q', '-m', message], { cwd: dir, env: dateEnv(day) });
  return (await gitOk(['rev-parse', 'HEAD'], { cwd: dir })).trim();
}

/** Builds the fixture history in a fresh work tree. */
async function buildSource(dir: string): Promise<void> {
  const rng = new Rng(0xc0ffee);
  await gitOk(['init', '-q', '-b', 'main', dir]);
  const big = lines(rng, 1500);
  const ts = (n: number) => `export function f${n}(x: number): number {\n  return x * ${n};\n}\n`;
  await commit(
    dir,
    0,
    {
      'README.md': '# fuzz target\n\nA repository for the gitgate fuzzer.\n',
      'src/a.ts': ts(1) + ts(2),
      'src/b.ts': `import { f1 } from './a.js';\nexport const y = f1(2);\n`,
      'data/big.txt': big.join('\n') + '\n',
      'data/blob.bin': rng.bytes(8192),
      'deep/a/b/c/d.txt': 'deep\n',
    },
    'initial import',
  );
  for (let i = 1; i <= 5; i++) {
    for (let k = 0; k < 5; k++) big[rng.int(big.length)] = `edited ${i}.${k}: ${rng.hex(16)}`;
    await commit(dir, i, { 'data/big.txt': big.join('\n') + '\n', [`src/m${i}.ts`]: ts(i + 10) }, `edit ${i}`);
    if (i === 2) {
      await gitOk(['tag', '-a', 'v1.0', '-m', 'release 1.0'], { cwd: dir, env: dateEnv(i) });
    }
    if (i === 3) await gitOk(['branch', 'dev'], { cwd: dir });
  }
  await gitOk(['checkout', '-q', 'dev'], { cwd: dir });
  for (let i = 6; i <= 7; i++) {
    for (let k = 0; k < 3; k++) big[rng.int(big.length)] = `dev ${i}.${k}: ${rng.hex(16)}`;
    await commit(dir, i, { 'data/big.txt': big.join('\n') + '\n', 'dev.txt': `dev ${i}\n` }, `dev ${i}`);
  }
  await gitOk(['tag', 'light'], { cwd: dir });
  await gitOk(['checkout', '-q', 'main'], { cwd: dir });
}

/** Commits that only the push samples carry (two topic branches and a tag). */
async function buildNewWork(dir: string): Promise<void> {
  const rng = new Rng(0xbadc0de);
  const bigPath = path.join(dir, 'data/big.txt');
  await gitOk(['checkout', '-q', '-b', 'topic-a', 'main'], { cwd: dir });
  for (let i = 10; i <= 12; i++) {
    const big = fs.readFileSync(bigPath, 'utf8').split('\n');
    for (let k = 0; k < 4; k++) big[rng.int(big.length - 1)] = `topic-a ${i}.${k}: ${rng.hex(12)}`;
    await commit(dir, i, { 'data/big.txt': big.join('\n'), [`topic/a${i}.txt`]: `a ${i}\n`.repeat(50) }, `topic-a ${i}`);
  }
  await gitOk(['tag', '-a', 'v2.0-rc', '-m', 'rc'], { cwd: dir, env: dateEnv(12) });
  await gitOk(['checkout', '-q', '-b', 'topic-b', 'main'], { cwd: dir });
  for (let i = 13; i <= 14; i++) {
    const big = fs.readFileSync(bigPath, 'utf8').split('\n');
    for (let k = 0; k < 4; k++) big[rng.int(big.length - 1)] = `topic-b ${i}.${k}: ${rng.hex(12)}`;
    await commit(dir, i, { 'data/big.txt': big.join('\n'), 'src/a.ts': null, [`topic/b${i}.txt`]: `b ${i}\n` }, `topic-b ${i}`);
  }
  await gitOk(['checkout', '-q', 'main'], { cwd: dir });
}

async function api(target: CorpusTarget, method: string, p: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${target.url}${p}`, {
    method,
    headers: { Authorization: `Bearer ${target.admin}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export async function createNamedRepo(target: CorpusTarget, name: string): Promise<string> {
  const r = await api(target, 'POST', '/v1/repo', { name });
  if (r.status !== 201) throw new Error(`creating ${name}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.repo_id as string;
}

export function gitUrl(base: string, repo: string, secret: string): string {
  const u = new URL(`${base}/v1/repo/${repo}.git`);
  u.username = 'token';
  u.password = secret;
  return u.toString();
}

/** A recording reverse proxy in front of the server: every request is kept (bodies un-gzipped). */
async function recordingProxy(target: string): Promise<{ url: string; log: Captured[]; close(): Promise<void> }> {
  const log: Captured[] = [];
  const up = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      const headers = { ...req.headers };
      delete headers.host;
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      const m = /^\/v1\/repo\/[^/]+?(?:\.git)?(\/.*)$/.exec(req.url ?? '');
      const keep: Record<string, string> = {};
      for (const k of ['content-type', 'git-protocol', 'accept']) if (typeof req.headers[k] === 'string') keep[k] = req.headers[k] as string;
      log.push({ name: '', method: req.method ?? 'GET', tail: m ? m[1]! : req.url ?? '/', headers: keep, body });
      const fwd = http.request(
        { host: up.hostname, port: up.port, path: req.url, method: req.method, headers: { ...headers, host: up.host } },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      fwd.on('error', () => res.destroy());
      fwd.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

async function objectTypes(dir: string, oids: string[]): Promise<Map<string, string>> {
  const out = await git(['cat-file', '--batch-check=%(objectname) %(objecttype)'], { cwd: dir, input: oids.join('\n') + '\n' });
  const map = new Map<string, string>();
  for (const line of out.stdout.split('\n')) {
    const [oid, type] = line.split(' ');
    if (oid && type && type !== 'missing') map.set(oid, type);
  }
  return map;
}

async function allObjects(dir: string, revs: string[]): Promise<string[]> {
  const out = await gitOk(['rev-list', '--objects', ...revs], { cwd: dir });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((s) => /^[0-9a-f]{40}$/.test(s));
}

async function packObjects(dir: string, args: string[], revs: string): Promise<Buffer> {
  const r = await gitBytes(['pack-objects', '--stdout', '-q', ...args], { cwd: dir, input: revs });
  if (r.code !== 0) throw new Error(`pack-objects exited ${r.code}`);
  return r.stdout;
}


function pktLine(s: string): Buffer {
  const b = Buffer.from(s.endsWith('\n') ? s : `${s}\n`);
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, '0')), b]);
}

function commandList(updates: { ref: string; oldOid: string; newOid: string }[], caps: string, options: string[] = []): Buffer {
  const parts = updates.map((u, i) => {
    const line = `${u.oldOid} ${u.newOid} ${u.ref}`;
    return i === 0 ? Buffer.concat([Buffer.from(((line.length + caps.length + 6).toString(16)).padStart(4, '0')), Buffer.from(`${line}\0${caps}\n`)]) : pktLine(line);
  });
  parts.push(Buffer.from('0000'));
  if (options.length) {
    for (const o of options) parts.push(pktLine(o));
    parts.push(Buffer.from('0000'));
  }
  return Buffer.concat(parts);
}

/** Splits a captured push body into the command list and the pack. */
function splitPush(body: Buffer): { commands: Buffer; pack: Buffer } {
  const at = body.indexOf('PACK');
  return at < 0 ? { commands: body, pack: Buffer.alloc(0) } : { commands: body.subarray(0, at), pack: body.subarray(at) };
}

function parseCommands(commands: Buffer): { ref: string; oldOid: string; newOid: string }[] {
  const out: { ref: string; oldOid: string; newOid: string }[] = [];
  for (const m of commands.toString('latin1').matchAll(/([0-9a-f]{40}) ([0-9a-f]{40}) ([^\0\n]+)/g)) {
    out.push({ oldOid: m[1]!, newOid: m[2]!, ref: m[3]! });
  }
  return out;
}

/**
 * Creates the target and scratch repositories on the server, pushes the fixture history to
 * both, and captures real traffic. `log` receives progress lines.
 */
export async function buildCorpus(target: CorpusTarget, log: (s: string) => void = () => undefined): Promise<{ corpus: Corpus; targetId: string; scratchId: string }> {
  const work = tmpDir('gitgate-fuzz-corpus-');
  const src = path.join(work, 'src');
  await buildSource(src);
  const targetId = await createNamedRepo(target, TARGET_NAME);
  const scratchId = await createNamedRepo(target, SCRATCH_NAME);
  for (const id of [targetId, scratchId]) {
    await gitOk(['push', '-q', gitUrl(target.url, id, target.admin), 'refs/heads/*:refs/heads/*', 'refs/tags/*:refs/tags/*'], { cwd: src });
  }
  log('corpus: fixture history pushed');

  const proxy = await recordingProxy(target.url);
  const viaProxy = (id: string) => gitUrl(proxy.url, id, target.admin);
  const captured: Captured[] = [];
  const run = async (name: string, args: string[], cwd = work) => {
    const before = proxy.log.length;
    const r = await git(args, { cwd, env: { GIT_TERMINAL_PROMPT: '0' } });
    if (r.code !== 0) log(`corpus: ${name} failed (${r.code}): ${r.stderr.trim().split('\n').slice(-1)[0]}`);
    for (const c of proxy.log.slice(before)) {
      c.name = name;
      captured.push(c);
    }
  };
  try {
    const T = viaProxy(targetId);
    let n = 0;
    for (const v of ['0', '2']) {
      const pv = ['-c', `protocol.version=${v}`];
      const d = () => path.join(work, `c${n++}`);
      await run(`v${v} clone`, [...pv, 'clone', '-q', '--bare', T, d()]);
      await run(`v${v} clone --depth 1`, [...pv, 'clone', '-q', '--bare', '--depth', '1', T, d()]);
      await run(`v${v} clone --shallow-since`, [...pv, 'clone', '-q', '--bare', '--shallow-since', `${T0 + 3 * DAY}`, T, d()]);
      await run(`v${v} clone --shallow-exclude`, [...pv, 'clone', '-q', '--bare', '--shallow-exclude', 'v1.0', T, d()]);
      await run(`v${v} clone --filter=blob:none`, [...pv, 'clone', '-q', '--bare', '--filter=blob:none', T, d()]);
      await run(`v${v} clone --filter=blob:limit`, [...pv, 'clone', '-q', '--bare', '--filter=blob:limit=1k', T, d()]);
      await run(`v${v} clone --filter=tree:0`, [...pv, 'clone', '-q', '--bare', '--filter=tree:0', T, d()]);
      const single = d();
      await run(`v${v} clone dev only`, [...pv, 'clone', '-q', '--single-branch', '--branch', 'dev', '--no-tags', T, single]);
      await run(`v${v} fetch main with haves`, [...pv, 'fetch', '-q', 'origin', 'main:refs/remotes/origin/main'], single);
      const shallow = d();
      await run(`v${v} shallow clone for deepen`, [...pv, 'clone', '-q', '--depth', '1', '--no-single-branch', T, shallow]);
      await run(`v${v} fetch --deepen`, [...pv, 'fetch', '-q', '--deepen', '2'], shallow);
      await run(`v${v} fetch --unshallow`, [...pv, 'fetch', '-q', '--unshallow'], shallow);
      await run(`v${v} ls-remote`, [...pv, 'ls-remote', T]);
      await run(`v${v} ls-remote pattern`, [...pv, 'ls-remote', '--heads', T, 'refs/heads/dev']);
    }
    log(`corpus: ${captured.length} read requests captured`);

    // pushes go to the scratch repository, which has the same history as the target
    await buildNewWork(src);
    const S = viaProxy(scratchId);
    const before = captured.length;
    await run('push thin (topic-a, main fast-forward, tag)', ['push', '-q', S, 'topic-a', 'topic-a:main', 'v2.0-rc'], src);
    await run('push --no-thin --atomic (topic-b)', ['push', '-q', '--no-thin', '--atomic', S, 'topic-b'], src);
    await run('push with push options', ['push', '-q', '-o', 'ci.skip', '-o', 'x=y', S, 'topic-b:refs/heads/opts'], src);
    await run('push delete', ['push', '-q', S, ':refs/heads/opts'], src);
    // the agent flow: clone --depth 1 (not recorded), commit, push: shallow lines before the commands
    const agent = path.join(work, 'agent');
    await gitOk(['clone', '-q', '--depth', '1', gitUrl(target.url, scratchId, target.admin), agent]);
    await gitOk(['commit', '-q', '--allow-empty', '-m', 'agent'], { cwd: agent });
    await run('push from a --depth 1 clone (shallow lines)', ['push', '-q', S, 'HEAD:refs/heads/shallow-agent'], agent);
    const pushes: PushSample[] = captured
      .slice(before)
      .filter((c) => c.method === 'POST' && c.tail.endsWith('/git-receive-pack'))
      .map((c) => {
        const { commands, pack } = splitPush(c.body);
        return { name: c.name, commands, pack, updates: parseCommands(commands) };
      });

    const rev = async (r: string) => (await gitOk(['rev-parse', r], { cwd: src })).trim();
    const main = await rev('main');
    const topicA = await rev('topic-a');
    const topicB = await rev('topic-b');
    const caps = 'report-status side-band-64k ofs-delta agent=git/fuzz';
    const packA = await packObjects(src, ['--revs', '--delta-base-offset', '--window=50', '--depth=20'], `topic-a\n^main\n`);
    pushes.push({
      name: 'pack-objects ofs-delta (topic-a objects)',
      commands: commandList([{ ref: 'refs/heads/fuzz-ofs', oldOid: ZERO, newOid: topicA }], caps),
      pack: packA,
      updates: [{ ref: 'refs/heads/fuzz-ofs', oldOid: ZERO, newOid: topicA }],
    });
    const packB = await packObjects(src, ['--revs', '--thin', '--window=50'], `topic-b\n^main\n`);
    pushes.push({
      name: 'pack-objects thin ref-delta (topic-b objects)',
      commands: commandList(
        [
          { ref: 'refs/heads/fuzz-thin', oldOid: ZERO, newOid: topicB },
          { ref: 'refs/heads/main', oldOid: main, newOid: topicB },
        ],
        `report-status-v2 atomic ${caps}`,
      ),
      pack: packB,
      updates: [
        { ref: 'refs/heads/fuzz-thin', oldOid: ZERO, newOid: topicB },
        { ref: 'refs/heads/main', oldOid: main, newOid: topicB },
      ],
    });
    const tagOid = await rev('v2.0-rc');
    const packT = await packObjects(src, ['--revs', '--delta-base-offset'], `v2.0-rc\n^main\n`);
    pushes.push({
      name: 'pack-objects annotated tag + commits, push options',
      commands: commandList([{ ref: 'refs/tags/fuzz-tag', oldOid: ZERO, newOid: tagOid }], `report-status push-options ${caps}`, ['opt=1']),
      pack: packT,
      updates: [{ ref: 'refs/tags/fuzz-tag', oldOid: ZERO, newOid: tagOid }],
    });

    // what the target holds
    const oldRevs = ['main', 'dev', 'v1.0', 'light'];
    const targetObjects = await allObjects(src, oldRevs);
    const tagObj = await rev('v1.0');
    const types = await objectTypes(src, [...targetObjects, tagObj]);
    const oids = { commit: [] as string[], tree: [] as string[], blob: [] as string[], tag: [] as string[] };
    for (const [oid, type] of types) (oids as Record<string, string[]>)[type]?.push(oid);
    for (const k of Object.keys(oids) as (keyof typeof oids)[]) oids[k].sort();
    const known = new Set(types.keys());
    const newOids = (await allObjects(src, ['topic-a', 'topic-b', 'v2.0-rc'])).filter((o) => !known.has(o));
    newOids.push(tagOid);
    const refs: Record<string, string> = {};
    for (const line of (await gitOk(['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads/main', 'refs/heads/dev', 'refs/tags/v1.0', 'refs/tags/light'], { cwd: src })).split('\n')) {
      const [name, oid] = line.split(' ');
      if (name && oid) refs[name] = oid;
    }
    const files = (await gitOk(['ls-tree', '-r', '--name-only', main], { cwd: src })).split('\n').filter(Boolean);
    const fullPack = await packObjects(src, ['--revs', '--delta-base-offset'], oldRevs.join('\n') + '\n');

    const reads = captured.filter((c) => !c.tail.endsWith('/git-receive-pack') && !c.tail.includes('git-receive-pack'));
    const corpus: Corpus = {
      upload0: reads.filter((c) => c.method === 'POST' && c.tail.endsWith('/git-upload-pack') && !/version=2/.test(c.headers['git-protocol'] ?? '')),
      upload2: reads.filter(
        (c) => c.method === 'POST' && c.tail.endsWith('/git-upload-pack') && /version=2/.test(c.headers['git-protocol'] ?? '') && !/command=ls-refs/.test(c.body.toString('latin1', 0, 40)),
      ),
      lsRefs: reads.filter((c) => c.method === 'POST' && /command=ls-refs/.test(c.body.toString('latin1', 0, 40))),
      infoRefs: captured.filter((c) => c.method === 'GET'),
      pushes,
      oids,
      newOids,
      refs,
      files,
      fullPack,
      workDir: work,
    };
    log(
      `corpus: ${corpus.upload0.length} v0 upload-pack, ${corpus.upload2.length} v2 fetch, ${corpus.lsRefs.length} v2 ls-refs, ` +
        `${corpus.infoRefs.length} info/refs, ${corpus.pushes.length} pushes`,
    );
    return { corpus, targetId, scratchId };
  } finally {
    await proxy.close();
  }
}
