// Start the two servers under comparison on copies of the same synthetic bare repository:
// gitgate exactly as users run it (`bin/gitgate.js serve --port 0 --data DIR`, as npx does), and C
// Git's `git http-backend` behind scripts/bench-cgi-server.mjs. Each gets a counting proxy
// (scripts/bench-proxy.mjs) for the untimed byte-counting runs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCountingProxy } from './bench-proxy.mjs';
import { CpuMeter } from './bench-cpu.mjs';
import { currentRssKb, RssSampler } from './bench-rss.mjs';
import { mkdirp, rmrf, run } from './bench-util.mjs';

const SCRIPTS = path.dirname(fileURLToPath(import.meta.url));
const live = new Set();

// Whatever happens to the runner, do not leave servers behind.
process.on('exit', () => { for (const c of live) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });

/** Spawn a server, wait for its `listening on http://…` line; returns { child, url, lines }. */
export function spawnServer(cmd, args, { cwd, env, logFile, timeoutMs = 60_000 }) {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', log] });
  fs.closeSync(log);
  live.add(child);
  child.on('exit', () => live.delete(child));
  return new Promise((resolve, reject) => {
    const lines = [];
    let buf = '';
    const timer = setTimeout(() => fail(new Error(`no "listening on" line within ${timeoutMs / 1000} s`)), timeoutMs);
    const fail = (e) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      let tail = '';
      try { tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n'); } catch { /* none */ }
      reject(new Error(`${cmd} ${args.join(' ')}: ${e.message}\nstdout:\n${lines.join('\n')}\nlog (${logFile}):\n${tail}`));
    };
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`exited with ${code} before listening`)));
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        const m = /listening on (http:\/\/\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.on('exit', () => live.delete(child));
          child.stdout.resume();
          resolve({ child, url: m[1], lines });
        }
      }
    });
  });
}

export async function stopChild(child) {
  if (child.exitCode != null || child.signalCode != null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** Replace the repository parts of `bareDir` (objects, refs, packed-refs, HEAD) with `src`'s. */
export function copyRepoInto(src, bareDir) {
  for (const part of ['objects', 'refs', 'packed-refs', 'HEAD', 'shallow']) rmrf(path.join(bareDir, part));
  for (const part of ['objects', 'refs', 'packed-refs', 'HEAD']) {
    const from = path.join(src, part);
    if (fs.existsSync(from)) fs.cpSync(from, path.join(bareDir, part), { recursive: true });
  }
}

/**
 * gitgate: create a repository with the CLI, swap in the synthetic repository's objects and
 * refs before the server starts, then serve. Uses the bootstrap admin token it writes to
 * <data>/bootstrap-token on first start (or mints one with the CLI if none was printed). `restart()` starts a fresh
 * process on the same data directory (the runner does so before each scenario, so memory
 * numbers do not carry over from one scenario to the next).
 */
export async function startGitgate({ root, runDir, sourceGitDir, env }) {
  const data = mkdirp(path.join(runDir, 'gitgate-data'));
  const bin = path.join(root, 'bin', 'gitgate.js');
  const created = await run(process.execPath, [bin, 'repo', 'create', '--name', 'bench', '--data', data], { cwd: root, env });
  const id = created.stdout.trim().split('\n').pop().trim();
  const bareDir = path.join(data, `${id}.git`);
  if (!id || !fs.existsSync(bareDir)) throw new Error(`gitgate repo create printed "${created.stdout.trim()}" but ${bareDir} does not exist`);
  copyRepoInto(sourceGitDir, bareDir);

  let secret = null;
  let child = null;
  const server = {
    name: 'gitgate',
    bareDir,
    proxy: await startCountingProxy(0),
    urlFor: (p) => `http://token:${secret}@127.0.0.1:${p}/v1/repo/${id}.git`,
    async restart() {
      if (child) await stopChild(child);
      // executed as npx and npm start run it (its launcher line sets MALLOC_ARENA_MAX); with
      // BENCH_GITGATE_NODE_ARGS (node flags for the gitgate process only, e.g. --cpu-prof
      // --cpu-prof-dir=DIR, which NODE_OPTIONS refuses) node runs it with the launcher's setting
      const nodeArgs = (process.env.BENCH_GITGATE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
      const serveArgs = ['serve', '--port', '0', '--data', data];
      const started = nodeArgs.length
        ? await spawnServer(process.execPath, [...nodeArgs, bin, ...serveArgs],
          { cwd: root, env: { MALLOC_ARENA_MAX: '2', ...env }, logFile: path.join(runDir, 'gitgate.log') })
        : await spawnServer(bin, serveArgs, { cwd: root, env, logFile: path.join(runDir, 'gitgate.log') });
      child = started.child;
      // stdout is a pipe, so serve wrote the bootstrap token into the data directory
      const tokenFile = path.join(data, 'bootstrap-token');
      secret ??= (fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : null)
        ?? (await run(process.execPath, [bin, 'token', 'create', '--workspace', '--permission', 'admin', '--name', 'bench', '--data', data], { cwd: root, env })).stdout.trim();
      const port = Number(new URL(started.url).port);
      this.pid = child.pid;
      this.port = port;
      this.url = this.urlFor(port);
      this.proxy.retarget(port);
      this.proxyUrl = this.urlFor(this.proxy.port);
      this.sampler = new RssSampler(child.pid, { includeRoot: true });
      this.cpu = new CpuMeter(child.pid, { includeSelf: true });
      this.idleRssKb = currentRssKb(child.pid);
    },
    /** An empty repository on the same server (the initial-push scenario): { url, proxyUrl, bareDir }. */
    async createRepo(name) {
      const res = await fetch(`http://127.0.0.1:${this.port}/v1/repo`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (res.status !== 201) throw new Error(`POST /v1/repo: ${res.status} ${(await res.text()).slice(0, 200)}`);
      const repoId = (await res.json()).repo_id;
      const at = (p) => `http://token:${secret}@127.0.0.1:${p}/v1/repo/${repoId}.git`;
      return { url: at(this.port), proxyUrl: at(this.proxy.port), bareDir: path.join(data, `${repoId}.git`) };
    },
    async deleteRepo(r) {
      const id = path.basename(r.bareDir).replace(/\.git$/, '');
      const res = await fetch(`http://127.0.0.1:${this.port}/v1/repo/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${secret}` } });
      if (res.status !== 204) throw new Error(`DELETE /v1/repo/${id}: ${res.status}`);
    },
    /** The token, for scenarios that make HTTP requests themselves. */
    authHeader: () => ({ authorization: `Basic ${Buffer.from(`token:${secret}`).toString('base64')}` }),
    async stop() { await this.proxy.close(); if (child) await stopChild(child); },
    /** Why requests may be failing: the process died. */
    crashInfo: () => (child && (child.exitCode != null || child.signalCode != null)
      ? `the gitgate process has exited (${child.exitCode ?? child.signalCode}); see ${path.join(runDir, 'gitgate.log')}` : null),
    logs: [path.join(runDir, 'gitgate.log')],
  };
  await server.restart();
  return server;
}

/**
 * git http-backend: a copy of the synthetic repository under a project root, with
 * receive-pack enabled and pushes checked like gitgate checks them (receive.fsckObjects).
 */
export async function startReference({ runDir, sourceGitDir, env }) {
  const projectRoot = mkdirp(path.join(runDir, 'ref-root'));
  const bareDir = path.join(projectRoot, 'bench.git');
  await run('git', ['init', '--bare', '-q', bareDir], { env });
  copyRepoInto(sourceGitDir, bareDir);
  await run('git', ['--git-dir', bareDir, 'config', 'http.receivepack', 'true'], { env });
  await run('git', ['--git-dir', bareDir, 'config', 'receive.fsckObjects', 'true'], { env });
  const { child, url } = await spawnServer(process.execPath, [path.join(SCRIPTS, 'bench-cgi-server.mjs'), '--root', projectRoot],
    { env, logFile: path.join(runDir, 'http-backend.log') });
  const port = Number(new URL(url).port);
  const urlFor = (p) => `http://127.0.0.1:${p}/bench.git`;
  const proxy = await startCountingProxy(port);
  return {
    name: 'git http-backend',
    pid: child.pid,
    port,
    bareDir,
    idleRssKb: null,
    proxy,
    url: urlFor(port),
    proxyUrl: urlFor(proxy.port),
    sampler: new RssSampler(child.pid, { includeRoot: false, pss: true }),
    cpu: new CpuMeter(child.pid, { includeSelf: false }),
    async restart() { /* a CGI keeps no state between requests */ },
    async createRepo(name) {
      const dir = path.join(projectRoot, `${name}.git`);
      await run('git', ['init', '--bare', '-q', dir], { env });
      await run('git', ['--git-dir', dir, 'config', 'http.receivepack', 'true'], { env });
      await run('git', ['--git-dir', dir, 'config', 'receive.fsckObjects', 'true'], { env });
      return { url: urlFor(port).replace(/bench\.git$/, `${name}.git`), proxyUrl: urlFor(proxy.port).replace(/bench\.git$/, `${name}.git`), bareDir: dir };
    },
    async deleteRepo(r) { rmrf(r.bareDir); },
    authHeader: () => ({}),
    crashInfo: () => (child.exitCode != null || child.signalCode != null ? `the CGI server has exited (${child.exitCode ?? child.signalCode})` : null),
    logs: [path.join(runDir, 'http-backend.log')],
    async stop() { await proxy.close(); await stopChild(child); },
  };
}
