// Deterministic synthetic repository for the benchmark (SPEC §7).
//
// A seeded PRNG drives everything; author and committer dates are fixed, so the same
// parameters always give the same commit ids. The history is written as one
// `git fast-import` stream (no `git commit` per commit), then repacked with deep deltas
// (`git repack -adf --depth=50 --window=250`) the way a long-lived server repository is.
// Built repositories are cached under .bench/repos/<key>/ keyed by the parameters.
//
// Standalone: node scripts/bench-repo.mjs [--commits N] [--files N] [--big-blob-mb N] [--seed N]
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { gitEnv, hashSeed, mkdirp, prng, rmrf, run, writeAll } from './bench-util.mjs';

/** Bump when the generator changes, so stale cached repositories are not reused. */
const GENERATOR_VERSION = 3;
const BASE_TIME = 1_600_000_000; // 2020-09-13, fixed
const AUTHORS = ['Ada Lovelace <ada@example.com>', 'Alan Turing <alan@example.com>', 'Grace Hopper <grace@example.com>',
  'Edsger Dijkstra <edsger@example.com>', 'Barbara Liskov <barbara@example.com>', 'Ken Thompson <ken@example.com>'];
const BRANCHES = ['feature/alpha', 'feature/beta', 'release/1.x', 'fix/gamma'];

export const DEFAULT_PARAMS = { commits: 3000, files: 300, bigBlobMb: 20, seed: 1, bitmap: true };
export const QUICK_PARAMS = { commits: 300, files: 200, bigBlobMb: 20, seed: 1, bitmap: true };

// ---------------------------------------------------------------- text generation

/** A fixed vocabulary of pseudo-words and code-ish tokens, so text compresses like source. */
export function makeVocab(seed) {
  const r = prng(hashSeed(`vocab:${seed}`));
  const words = ['const', 'let', 'return', 'if', 'else', 'for', 'while', 'function', 'import', 'export',
    '=', '==', '+', '-', '{', '}', '(', ')', ';', '=>', 'null', 'true', 'false', 'await', 'async'];
  for (let i = 0; i < 1500; i++) {
    let w = '';
    const len = 2 + r.int(8);
    for (let j = 0; j < len; j++) w += String.fromCharCode(97 + r.int(26));
    words.push(w);
  }
  return words;
}

function genLine(r, vocab) {
  const indent = ' '.repeat(2 * r.int(5));
  const n = 2 + r.int(9);
  const ws = [];
  for (let i = 0; i < n; i++) ws.push(vocab[Math.floor(Math.pow(r.next(), 2) * vocab.length)]);
  return indent + ws.join(' ') + (r.next() < 0.4 ? ';' : '');
}

function genFile(r, vocab) {
  const n = 20 + r.int(230);
  const lines = [];
  for (let i = 0; i < n; i++) lines.push(genLine(r, vocab));
  return lines;
}

/** Apply 1–4 small edits (replace, insert or delete a line) to `lines` in place. */
export function mutateLines(lines, r, vocab) {
  const ops = 1 + r.int(4);
  for (let k = 0; k < ops; k++) {
    const x = r.next();
    const at = r.int(Math.max(1, lines.length));
    if (x < 0.6 && lines.length) lines[at] = genLine(r, vocab);
    else if (x < 0.85 || lines.length < 5) lines.splice(at, 0, genLine(r, vocab));
    else lines.splice(at, 1);
  }
}

function message(r, vocab, i) {
  const subject = `${r.pick(['Fix', 'Add', 'Refactor', 'Update', 'Tidy', 'Speed up'])} ${vocab[25 + r.int(200)]} ${vocab[25 + r.int(1000)]} (#${i})`;
  return `${subject}\n\n${genLine(r, vocab).trim()}\n${genLine(r, vocab).trim()}\n`;
}

// ---------------------------------------------------------------- fast-import stream

/** A writer of fast-import commands onto a child's stdin, honouring backpressure. */
class Stream {
  constructor(stdin) { this.stdin = stdin; this.parts = []; this.size = 0; }
  add(s) {
    this.parts.push(s);
    this.size += s.length;
    return this.size > 1 << 20 ? this.flush() : Promise.resolve();
  }
  data(s) {
    return this.add(`data ${Buffer.byteLength(s)}\n${s}\n`);
  }
  async flush() {
    const chunk = this.parts.join('');
    this.parts = [];
    this.size = 0;
    if (chunk) await writeAll(this.stdin, chunk);
  }
}

function ident(who, t) {
  return `${who} ${t} +0000`;
}

/** Start `git fast-import` on `gitDir`; returns { stream, done: Promise } */
function startFastImport(gitDir, env) {
  const child = spawn('git', ['--git-dir', gitDir, 'fast-import', '--quiet', '--done', '--date-format=raw'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const done = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import failed (${code}): ${err.trim()}`))));
  });
  child.stdin.on('error', () => {}); // surfaced through `done`
  return { stream: new Stream(child.stdin), end: async (s) => { await s.add('done\n'); await s.flush(); child.stdin.end(); await done; } };
}

/** Deterministic incompressible bytes: an AES-128-CTR keystream keyed by the seed. */
async function writeRandomBlob(stream, bytes, seed) {
  const key = crypto.createHash('sha256').update(`bench-blob:${seed}`).digest().subarray(0, 16);
  const cipher = crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  await stream.add(`data ${bytes}\n`);
  await stream.flush();
  for (let left = bytes; left > 0; left -= zeros.length) {
    await writeAll(stream.stdin, cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left)));
  }
  await stream.add('\n');
}

async function writeHistory(gitDir, env, p) {
  const r = prng(hashSeed(`history:${p.seed}`));
  const vocab = makeVocab(p.seed);
  const { stream: s, end } = startFastImport(gitDir, env);
  let mark = 0;
  const perBranch = Math.max(3, Math.round(p.commits / 40));
  const mainCount = Math.max(2, p.commits - perBranch * BRANCHES.length - 1);
  const tagEvery = Math.max(1, Math.floor(mainCount / 10));
  const bigAt = Math.floor(mainCount / 2);
  const forks = BRANCHES.map((_, b) => Math.floor(mainCount * (0.3 + 0.15 * b)));

  // Files: a few hundred text files in a two-level tree.
  const files = new Map();
  for (let i = 0; i < p.files; i++) {
    const dir = `pkg${String(i % 24).padStart(2, '0')}${i % 3 === 0 ? '/lib' : ''}`;
    files.set(`${dir}/file_${String(i).padStart(4, '0')}.txt`, genFile(r, vocab));
  }
  const snapshots = new Map(); // main index -> { files, mark, time }
  const commitAt = async (ref, from, merge, who, t, msg, changes) => {
    const m = ++mark;
    await s.add(`commit ${ref}\nmark :${m}\nauthor ${ident(who, t)}\ncommitter ${ident(who, t)}\n`);
    await s.data(msg);
    if (from) await s.add(`from :${from}\n`);
    if (merge) await s.add(`merge :${merge}\n`);
    for (const [op, filePath, body] of changes) {
      if (op === 'D') await s.add(`D ${filePath}\n`);
      else if (op === 'R') await s.add(`M 100644 :${body} ${filePath}\n`);
      else { await s.add(`M 100644 inline ${filePath}\n`); await s.data(body.join('\n') + '\n'); }
    }
    return m;
  };

  const paths = () => [...files.keys()];
  let mainTip = 0;
  let time = BASE_TIME;
  let nextFile = p.files;
  for (let i = 0; i < mainCount; i++) {
    time += 600 + r.int(3000);
    const changes = [];
    if (i === 0) {
      for (const [fp, lines] of files) changes.push(['M', fp, lines]);
    } else {
      const all = paths();
      const n = 1 + r.int(3);
      for (let k = 0; k < n; k++) {
        // Skewed choice: a quarter of the files take most of the edits, like real code.
        const fp = r.next() < 0.7 ? all[r.int(Math.max(1, all.length >> 2))] : r.pick(all);
        const lines = files.get(fp);
        mutateLines(lines, r, vocab);
        changes.push(['M', fp, lines]);
      }
      if (r.next() < 0.01) {
        const fp = `pkg${String(r.int(24)).padStart(2, '0')}/new_${nextFile++}.txt`;
        files.set(fp, genFile(r, vocab));
        changes.push(['M', fp, files.get(fp)]);
      } else if (r.next() < 0.003 && files.size > 10) {
        const fp = r.pick(all.slice(all.length >> 1));
        files.delete(fp);
        changes.push(['D', fp]);
      }
    }
    if (i === bigAt && p.bigBlobMb > 0) {
      const blobMark = ++mark;
      await s.add(`blob\nmark :${blobMark}\n`);
      await writeRandomBlob(s, p.bigBlobMb * 1024 * 1024, p.seed);
      changes.push(['R', `assets/blob-${p.bigBlobMb}mb.bin`, blobMark]);
    }
    mainTip = await commitAt('refs/heads/main', mainTip, 0, r.pick(AUTHORS), time, message(r, vocab, i), changes);
    if (i === 0) await s.add(`reset refs/tags/initial\nfrom :${mainTip}\n\n`);
    if (i > 0 && i % tagEvery === 0) {
      await s.add(`tag v1.${i / tagEvery}\nfrom :${mainTip}\ntagger ${ident(AUTHORS[0], time + 60)}\n`);
      await s.data(`Release v1.${i / tagEvery}\n`);
    }
    if (forks.includes(i)) snapshots.set(i, { files: new Map([...files].map(([k, v]) => [k, [...v]])), mark: mainTip, time });
  }

  // Branches fork from main and carry their own small edits; the first is merged back.
  const branchTips = [];
  const branchTouched = [];
  for (let b = 0; b < BRANCHES.length; b++) {
    const snap = snapshots.get(forks[b]);
    const br = prng(hashSeed(`branch:${p.seed}:${b}`));
    const all = [...snap.files.keys()];
    const touched = new Map();
    let tip = snap.mark;
    let t = snap.time;
    for (let j = 0; j < perBranch; j++) {
      t += 900 + br.int(1800);
      const fp = all[br.int(all.length)];
      const lines = snap.files.get(fp);
      mutateLines(lines, br, vocab);
      touched.set(fp, lines);
      tip = await commitAt(`refs/heads/${BRANCHES[b]}`, tip, 0, br.pick(AUTHORS), t, message(br, vocab, 100000 + j), [['M', fp, lines]]);
    }
    branchTips.push(tip);
    branchTouched.push(touched);
  }
  await s.add(`tag v2.0-rc1\nfrom :${branchTips[2]}\ntagger ${ident(AUTHORS[1], time + 100)}\n`);
  await s.data('Release candidate\n');
  const mergeChanges = [...branchTouched[0]].filter(([fp]) => files.has(fp)).map(([fp, lines]) => ['M', fp, lines]);
  await commitAt('refs/heads/main', mainTip, branchTips[0], AUTHORS[2], time + 3600, `Merge branch '${BRANCHES[0]}'\n`, mergeChanges);
  await end(s);
}

// ---------------------------------------------------------------- build + cache

export function repoKey(p) {
  const norm = { v: GENERATOR_VERSION, commits: p.commits, files: p.files, bigBlobMb: p.bigBlobMb, seed: p.seed, bitmap: !!p.bitmap };
  return crypto.createHash('sha256').update(JSON.stringify(norm)).digest('hex').slice(0, 12);
}

/**
 * Build (or reuse from .bench/repos/) the synthetic bare repository for `params`.
 * Returns { gitDir, params, stats, cached }.
 */
export async function buildRepo(benchDir, params, log = () => {}) {
  const p = { ...DEFAULT_PARAMS, ...params };
  const key = repoKey(p);
  const dir = path.join(benchDir, 'repos', key);
  const gitDir = path.join(dir, 'repo.git');
  const statsFile = path.join(dir, 'stats.json');
  if (fs.existsSync(statsFile)) {
    return { gitDir, params: p, stats: JSON.parse(fs.readFileSync(statsFile, 'utf8')), cached: true };
  }
  const tmp = path.join(benchDir, 'repos', `${key}.tmp-${process.pid}`);
  rmrf(tmp);
  mkdirp(tmp);
  const env = gitEnv(benchDir);
  const tmpGit = path.join(tmp, 'repo.git');
  const t0 = Date.now();
  log(`building synthetic repository ${key} (${p.commits} commits, ${p.files} files, ${p.bigBlobMb} MiB blob, seed ${p.seed}) …`);
  await run('git', ['init', '--bare', '-q', '--initial-branch=main', tmpGit], { env });
  await writeHistory(tmpGit, env, p);
  const tImport = Date.now();
  log(`  fast-import ${((tImport - t0) / 1000).toFixed(1)} s; repacking (depth 50, window 250) …`);
  // One pack thread keeps the delta choices, and so the pack bytes, reproducible.
  await run('git', ['--git-dir', tmpGit, '-c', 'pack.threads=1', 'repack', '-adfq', '--depth=50', '--window=250',
    p.bitmap ? '--write-bitmap-index' : '--no-write-bitmap-index'], { env });
  await run('git', ['--git-dir', tmpGit, 'pack-refs', '--all', '--prune'], { env });
  await run('git', ['--git-dir', tmpGit, 'fsck', '--no-progress', '--no-dangling'], { env });
  const count = (await run('git', ['--git-dir', tmpGit, 'count-objects', '-v'], { env })).stdout;
  const field = (name) => Number((count.match(new RegExp(`^${name}: (\\d+)`, 'm')) ?? [])[1] ?? 0);
  const refs = (await run('git', ['--git-dir', tmpGit, 'for-each-ref', '--format=%(refname)'], { env })).stdout.trim().split('\n');
  const stats = {
    key,
    commits: Number((await run('git', ['--git-dir', tmpGit, 'rev-list', '--all', '--count'], { env })).stdout.trim()),
    objects: field('in-pack'),
    packBytes: field('size-pack') * 1024,
    branches: refs.filter((r) => r.startsWith('refs/heads/')).length,
    tags: refs.filter((r) => r.startsWith('refs/tags/')).length,
    head: (await run('git', ['--git-dir', tmpGit, 'rev-parse', 'HEAD'], { env })).stdout.trim(),
    buildSeconds: Math.round((Date.now() - t0) / 100) / 10,
  };
  fs.writeFileSync(path.join(tmp, 'stats.json'), JSON.stringify({ params: p, ...stats }, null, 2));
  rmrf(dir);
  fs.renameSync(tmp, dir);
  log(`  built in ${stats.buildSeconds} s: ${stats.commits} commits, ${stats.objects} objects, pack ${(stats.packBytes / 1048576).toFixed(1)} MiB`);
  return { gitDir, params: p, stats: { params: p, ...stats }, cached: false };
}

// ---------------------------------------------------------------- commits for fetch/push runs

/**
 * Write `count` new commits on local ref `ref` of `gitDir`, starting from commit `from`, each a
 * small edit to one of a few existing text files. Deterministic in `label`. Returns the tip id.
 */
export async function makeCommits(gitDir, env, { ref, from, count, label, seed = 1 }) {
  const r = prng(hashSeed(`commits:${seed}:${label}`));
  const vocab = makeVocab(seed);
  let names = (await run('git', ['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', from], { env })).stdout
    .split('\n').filter(Boolean);
  // text files to edit: the synthetic repository's .txt, or any other repository's sources
  const text = names.filter((n) => /\.(txt|c|h|md|vim|py|js|ts|go|rs|sh)$/.test(n));
  if (text.length) names = text;
  const chosen = [];
  for (let i = 0; i < 4; i++) chosen.push(names[r.int(names.length)]);
  const contents = new Map();
  for (const fp of new Set(chosen)) {
    contents.set(fp, (await run('git', ['--git-dir', gitDir, 'cat-file', 'blob', `${from}:${fp}`], { env })).stdout.replace(/\n$/, '').split('\n'));
  }
  const { stream: s, end } = startFastImport(gitDir, env);
  const t0 = BASE_TIME + 50_000_000 + (hashSeed(label) % 1_000_000);
  for (let i = 0; i < count; i++) {
    const fp = chosen[r.int(chosen.length)];
    const lines = contents.get(fp);
    mutateLines(lines, r, vocab);
    const who = r.pick(AUTHORS);
    await s.add(`commit ${ref}\nmark :${i + 1}\nauthor ${ident(who, t0 + i * 60)}\ncommitter ${ident(who, t0 + i * 60)}\n`);
    await s.data(message(r, vocab, i));
    if (i === 0) await s.add(`from ${from}\n`);
    await s.add(`M 100644 inline ${fp}\n`);
    await s.data(lines.join('\n') + '\n');
  }
  await end(s);
  return (await run('git', ['--git-dir', gitDir, 'rev-parse', ref], { env })).stdout.trim();
}

// ---------------------------------------------------------------- standalone

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({ options: {
    commits: { type: 'string' }, files: { type: 'string' }, 'big-blob-mb': { type: 'string' }, seed: { type: 'string' }, quick: { type: 'boolean' },
  } });
  const base = values.quick ? QUICK_PARAMS : DEFAULT_PARAMS;
  const p = { ...base };
  if (values.commits) p.commits = Number(values.commits);
  if (values.files) p.files = Number(values.files);
  if (values['big-blob-mb']) p.bigBlobMb = Number(values['big-blob-mb']);
  if (values.seed) p.seed = Number(values.seed);
  const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '.bench');
  const res = await buildRepo(benchDir, p, (m) => console.error(m));
  console.log(JSON.stringify({ gitDir: res.gitDir, cached: res.cached, ...res.stats }, null, 2));
}
