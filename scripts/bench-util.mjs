// Small helpers shared by the benchmark scripts: running commands, a seeded PRNG,
// statistics and formatting. Node built-ins only.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** A failed command, carrying git's stderr so the report can quote its first error line. */
export class CommandError extends Error {
  constructor(cmd, args, code, signal, stderr) {
    super(`${cmd} ${args.join(' ')} exited with ${signal ?? code}: ${firstErrorLine(stderr)}`);
    this.code = code;
    this.stderr = stderr;
    this.firstLine = firstErrorLine(stderr);
  }
}

/** The line a user would read first: git's `fatal:`/`error:`, else the first non-empty one. */
export function firstErrorLine(text) {
  const lines = String(text ?? '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^(fatal|error):/.test(l)) ?? lines.find((l) => /^remote: (fatal|error)/.test(l)) ?? lines[0] ?? '(no output)';
}

/**
 * Run a command to completion. Resolves { stdout, stderr, ms }; rejects with CommandError on a
 * non-zero exit. `input` (string/Buffer) is written to stdin; stdout is kept only if `capture`.
 */
export function run(cmd, args, { cwd, env, input, capture = true, allowFail = false, timeoutMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: [input == null ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    const timer = timeoutMs > 0 ? setTimeout(() => { err = `fatal: bench: timed out after ${timeoutMs / 1000} s\n${err}`; child.kill('SIGKILL'); }, timeoutMs) : null;
    child.stdout.on('data', (d) => { if (capture) out.push(d); });
    child.stderr.on('data', (d) => { if (err.length < 64 * 1024) err += d.toString(); });
    if (input != null) { child.stdin.on('error', () => {}); child.stdin.end(input); }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const stdout = Buffer.concat(out).toString();
      if ((code !== 0 || signal) && !allowFail) reject(new CommandError(cmd, args, code, signal, err));
      else resolve({ code, stdout, stderr: err, ms });
    });
  });
}

/** Write to a writable stream, waiting for 'drain' when its buffer is full. */
export function writeAll(stream, chunk) {
  return stream.write(chunk) ? Promise.resolve() : new Promise((resolve, reject) => {
    const onErr = (e) => { stream.off('drain', onDrain); reject(e); };
    const onDrain = () => { stream.off('error', onErr); resolve(); };
    stream.once('drain', onDrain);
    stream.once('error', onErr);
  });
}

/** mulberry32: a tiny, fast, seeded 32-bit PRNG. Returns { next() in [0,1), int(n), pick(arr) }. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (arr) => arr[Math.floor(next() * arr.length)] };
}

/** 32-bit FNV-1a of a string, to derive sub-seeds from labels. */
export function hashSeed(str) {
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) h = Math.imul(h ^ str.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function median(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmtMs(ms) {
  if (ms == null) return '—';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

export function fmtBytes(n) {
  if (n == null) return '—';
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function rmrf(p) {
  fs.rmSync(p, { recursive: true, force: true });
}

export function mkdirp(p) {
  fs.mkdirSync(p, { recursive: true });
  return p;
}

/** Newest mtime (ms) of the files under `dir` whose names match `re`; 0 if none. */
export function newestMtime(dir, re) {
  let newest = 0;
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (re.test(e.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return newest;
}

/**
 * Environment for every git process the benchmark starts: no system or user config (so the
 * machine's ~/.gitconfig cannot change what is measured), no prompts.
 */
export function gitEnv(benchDir, extra = {}) {
  const home = mkdirp(path.join(benchDir, 'home'));
  const cfg = path.join(home, 'gitconfig');
  if (!fs.existsSync(cfg)) fs.writeFileSync(cfg, '');
  return {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: cfg,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    LANG: 'C',
    LC_ALL: 'C',
    TZ: 'UTC',
    ...extra,
  };
}
