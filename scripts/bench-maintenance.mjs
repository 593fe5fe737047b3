// Clones while a big repository is repacked: does the repack stall the server? Loads gitgate
// from dist/ in this process (so the event loop's delay can be sampled), copies a large
// repository's pack into it plus a second pack so a roll-up has work, then runs clones of a
// small repository (throughput, latency) and `--depth 1` clones of the big one, first with no
// repack, then during a repack on the event loop (inline) and in the worker process.
//
//   npm run build && node scripts/bench-maintenance.mjs --repo /path/to/big.git [--seconds 60]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { run, median, fmtMs } from './bench-util.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : fallback; };
const source = path.resolve(opt('repo', '/work/.mirror/git+git/repo'));
const modes = (opt('modes', 'none,inline,worker')).split(',');
const cloners = Number(opt('cloners', '4'));

const dist = new URL('../dist/', import.meta.url);
const { loadConfig } = await import(new URL('config.js', dist));
const { createServices } = await import(new URL('service/services.js', dist));
const { startServer } = await import(new URL('http/server.js', dist));
const { repack } = await import(new URL('repo/repack.js', dist));

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-bench-maint-'));
const config = loadConfig({ port: 0, host: '127.0.0.1', data: path.join(work, 'data') }, { GITGATE_BCRYPT_ROUNDS: '4' });
const ctx = createServices(config, pino({ level: 'silent' }));
const { secret: admin } = await ctx.tokens.create({ kind: 'workspace', permission: 'admin', name: 'bench' }, null);
const http = await startServer(ctx, config.host, config.port);
const auth = { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' };
async function createRepo() {
  const res = await fetch(`${http.url}/v1/repo`, { method: 'POST', headers: auth, body: '{}' });
  return (await res.json()).repo_id;
}
const url = (id) => { const u = new URL(`${http.url}/v1/repo/${id}.git`); u.username = 'token'; u.password = admin; return u.toString(); };

// the big repository: its pack(s) and refs copied in, plus a small second pack (the last 200
// commits' objects), afresh for each phase
const refs = (await run('git', ['--git-dir', source, 'for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads', 'refs/tags'])).stdout;
const recent = (await run('git', ['--git-dir', source, 'rev-list', '--objects', '-n', '200', 'HEAD'])).stdout;
async function makeBig() {
  const id = await createRepo();
  const dir = ctx.manager.gitdirOf(id);
  const repo = ctx.manager.get(id);
  await repo.maintenance.close(); // this benchmark decides when to repack
  for (const f of fs.readdirSync(path.join(source, 'objects/pack'))) {
    if (/\.(pack|idx)$/.test(f)) fs.copyFileSync(path.join(source, 'objects/pack', f), path.join(dir, 'objects/pack', f));
  }
  fs.writeFileSync(path.join(dir, 'packed-refs'), `# pack-refs with: peeled sorted \n${refs}`);
  fs.writeFileSync(path.join(dir, 'HEAD'), fs.readFileSync(path.join(source, 'HEAD')));
  await run('git', ['--git-dir', source, 'pack-objects', '-q', path.join(dir, 'objects/pack/pack')], { input: recent });
  await repo.objects.rescan();
  return { id, repo };
}

// the small repository: 300 commits of a few files
const small = await createRepo();
const seed = path.join(work, 'seed');
await run('git', ['init', '-q', '-b', 'main', seed]);
let script = '';
for (let i = 0; i < 300; i++) {
  const files = Array.from({ length: 5 }, (_, k) => { const body = `file ${k} rev ${i}\n`.repeat(200 + k * 50); return `M 100644 inline f${k}.txt\ndata ${Buffer.byteLength(body)}\n${body}`; }).join('\n');
  script += `commit refs/heads/main\ncommitter B <b@example.com> ${1700000000 + i} +0000\ndata ${String(i).length + 2}\nc ${i}\n${files}\n\n`;
}
await run('git', ['fast-import', '--quiet'], { cwd: seed, input: script });
await run('git', ['push', '-q', url(small), 'main'], { cwd: seed });
await ctx.manager.get(small).maintenance.idle();

async function cloneLoop(until, sink, target, extra) {
  while (Date.now() < until()) {
    const dir = fs.mkdtempSync(path.join(work, 'c-'));
    const r = await run('git', ['clone', '-q', '--bare', ...extra, url(target), dir], { allowFail: true });
    sink.push(r.code === 0 ? r.ms : NaN);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function phase(mode) {
  const { id: big, repo: bigRepo } = await makeBig();
  const smallMs = []; const deepMs = [];
  const h = monitorEventLoopDelay({ resolution: 10 });
  const cpu0 = process.cpuUsage();
  const windowMs = Number(opt('seconds', '90')) * 1000;
  let done = false; let repackMs = NaN; let result = null;
  const signal = { aborted: false };
  const t0 = Date.now();
  h.enable();
  // clones run for the window, or until the repack ends if sooner; an inline repack still
  // running then is aborted (it would take far longer), a worker's is left to finish
  const job = mode === 'none'
    ? new Promise((r) => setTimeout(r, windowMs))
    : repack(bigRepo, { all: true, inline: mode === 'inline', courteous: mode === 'inline', signal, defer: () => undefined }).then((r) => { result = r; if (!signal.aborted) repackMs = Date.now() - t0; });
  const windowEnd = new Promise((r) => setTimeout(r, windowMs));
  const finished = Promise.race([job, windowEnd]).finally(() => { done = true; });
  const loops = [cloneLoop(() => (done ? 0 : Infinity), deepMs, big, ['--depth', '1'])];
  for (let i = 0; i < cloners; i++) loops.push(cloneLoop(() => (done ? 0 : Infinity), smallMs, small, []));
  await finished;
  const cloneWindowS = (Date.now() - t0) / 1000;
  if (mode === 'inline') signal.aborted = true;
  await Promise.all(loops);
  h.disable();
  await job;
  const cpu = process.cpuUsage(cpu0);
  const wall = cloneWindowS;
  const ok = smallMs.filter((x) => !Number.isNaN(x));
  const p = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
  console.log(JSON.stringify({
    mode, cloneWindowS: +wall.toFixed(1), repackS: Number.isNaN(repackMs) ? 'unfinished' : +(repackMs / 1000).toFixed(1), objects: result?.objects,
    smallClones: smallMs.length, failed: smallMs.length - ok.length, smallClonesPerS: +(ok.length / wall).toFixed(2),
    smallMedianMs: Math.round(median(ok)), smallP90Ms: Math.round(p(ok, 0.9)),
    depth1Clones: deepMs.length, depth1MedianMs: Math.round(median(deepMs.filter((x) => !Number.isNaN(x)))),
    loopDelayP50Ms: +(h.percentile(50) / 1e6).toFixed(1), loopDelayP99Ms: +(h.percentile(99) / 1e6).toFixed(1), loopDelayMaxMs: +(h.max / 1e6).toFixed(1),
    serverCpuS: +((cpu.user + cpu.system) / 1e6).toFixed(1), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  }));
}

for (const mode of modes) await phase(mode);
await http.close?.();
fs.rmSync(work, { recursive: true, force: true });
process.exit(0);
