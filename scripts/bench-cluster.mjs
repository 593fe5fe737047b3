// `npm run bench -- --nodes N`: gitgate as a cluster (README § Running several nodes) — N
// `gitgate serve` nodes on one data directory and one fresh PostgreSQL database, behind the
// local balancer (bench-balancer.mjs, its own process). The returned server has the same shape
// as bench-servers.mjs's startGitgate, so every scenario runs unchanged against the balancer;
// its CPU meter also keeps each node's share (and the balancer's) of every run.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startCountingProxy } from './bench-proxy.mjs';
import { CpuMeter, cpuSupported, readCpu } from './bench-cpu.mjs';
import { currentRssKb, RssSampler } from './bench-rss.mjs';
import { copyRepoInto, spawnServer, stopChild } from './bench-servers.mjs';
import { mkdirp, run } from './bench-util.mjs';

const SCRIPTS = path.dirname(fileURLToPath(import.meta.url));

/** A fresh database next to `adminUrl`'s; drop() removes it (connections of dead nodes too). */
export async function createBenchDatabase(adminUrl) {
  const name = `gitgate_bench_${process.pid}`;
  const admin = async (sql) => {
    const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
    await c.connect();
    try { await c.query(sql); } finally { await c.end(); }
  };
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), name, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Sums of several samplers/meters, keeping the parts (nodes first, then the balancer). */
class Parts {
  constructor(items, counted) { this.items = items; this.counted = counted; }
  start() { for (const i of this.items) i.start(); }
}

/**
 * CPU of the PostgreSQL backends serving one database on this machine, found by their process
 * titles (`postgres: … USER DBNAME HOST(PORT) state`); pools open and close connections, so
 * the set is read at each start and stop (a backend that exits in between is missed).
 * null when none is visible (a remote PostgreSQL).
 */
export class PostgresCpu {
  constructor(database) { this.needle = ` ${database} `; }

  backends() {
    const cpu = new Map();
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let cmd;
      try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
      if (!cmd.startsWith('postgres: ') || !cmd.includes(this.needle)) continue;
      const c = readCpu(pid);
      if (c) cpu.set(pid, c.self);
    }
    return cpu;
  }

  start() { this.t0 = cpuSupported ? this.backends() : null; }

  async stop() {
    if (!this.t0) return null;
    const now = this.backends();
    if (!now.size && !this.t0.size) return null;
    let ms = 0;
    for (const [pid, c] of now) ms += c - (this.t0.get(pid) ?? 0);
    return ms;
  }
}

class ClusterCpu extends Parts {
  /**
   * Total of the first `counted` parts — the nodes and their PostgreSQL backends (the balancer
   * stands in for nginx: reported, not counted); `parts` per run. A part that could not be
   * measured (a remote PostgreSQL) is null and left out.
   */
  async stop() {
    const ms = await Promise.all(this.items.map((i) => i.stop()));
    if (ms.slice(0, this.counted - 1).some((x) => x == null)) return null;
    this.parts = ms;
    return ms.slice(0, this.counted).reduce((a, b) => a + (b ?? 0), 0);
  }
}

class ClusterRss extends Parts {
  /** Sum of the nodes' peaks: an upper bound on what they held at once. */
  stop() {
    const r = this.items.map((i) => i.stop()).slice(0, this.counted);
    return { peakKb: r.reduce((a, x) => a + x.peakKb, 0), peakAnonKb: r.reduce((a, x) => a + x.peakAnonKb, 0), maxProcs: r.reduce((a, x) => a + x.maxProcs, 0) };
  }
}

export async function startGitgateCluster({ root, runDir, sourceGitDir, env, nodes, databaseUrl, databaseName }) {
  const data = mkdirp(path.join(runDir, 'gitgate-data'));
  const bin = path.join(root, 'bin', 'gitgate.js');
  const nodeEnv = (id) => ({ ...env, GITGATE_DATABASE_URL: databaseUrl, GITGATE_NODE_ID: id });
  const created = await run(process.execPath, [bin, 'repo', 'create', '--name', 'bench', '--data', data], { cwd: root, env: nodeEnv('bench-cli') });
  const id = created.stdout.trim().split('\n').pop().trim();
  const bareDir = path.join(data, `${id}.git`);
  if (!id || !fs.existsSync(bareDir)) throw new Error(`gitgate repo create printed "${created.stdout.trim()}" but ${bareDir} does not exist`);
  copyRepoInto(sourceGitDir, bareDir);

  const ids = Array.from({ length: nodes }, (_, i) => `gw-${i + 1}`);
  const logs = [...ids.map((n) => path.join(runDir, `gitgate-${n}.log`)), path.join(runDir, 'balancer.log')];
  let secret = null;
  let children = [];
  let balancer = null;
  const startNode = async (n) => (await spawnServer(process.execPath, [bin, 'serve', '--port', '0', '--data', data],
    { cwd: root, env: nodeEnv(ids[n]), logFile: logs[n] }));
  const server = {
    name: 'gitgate',
    nodes,
    bareDir,
    proxy: await startCountingProxy(0),
    urlFor: (p) => `http://token:${secret}@127.0.0.1:${p}/v1/repo/${id}.git`,
    async restart() {
      if (balancer) await stopChild(balancer);
      await Promise.all(children.map(stopChild));
      children = [];
      // the first node migrates the fresh database and mints the bootstrap token; the others join
      const first = await startNode(0);
      const rest = await Promise.allSettled(ids.slice(1).map((_, k) => startNode(k + 1)));
      children = [first, ...rest.filter((r) => r.status === 'fulfilled').map((r) => r.value)].map((s) => s.child);
      const failed = rest.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      const tokenFile = path.join(data, 'bootstrap-token');
      secret ??= (fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : null)
        ?? (await run(process.execPath, [bin, 'token', 'create', '--workspace', '--permission', 'admin', '--name', 'bench', '--data', data], { cwd: root, env: nodeEnv('bench-cli') })).stdout.trim();
      const urls = [first, ...rest.map((r) => r.value)].map((s) => s.url);
      const lb = await spawnServer(process.execPath, [path.join(SCRIPTS, 'bench-balancer.mjs'), ...urls], { env, logFile: logs[nodes] });
      balancer = lb.child;
      const port = Number(new URL(lb.url).port);
      this.pid = children[0].pid;
      this.port = port;
      this.url = this.urlFor(port);
      this.proxy.retarget(port);
      this.proxyUrl = this.urlFor(this.proxy.port);
      const all = [...children, balancer];
      this.sampler = new ClusterRss(all.map((c) => new RssSampler(c.pid, { includeRoot: true })), nodes);
      const meters = all.map((c) => new CpuMeter(c.pid, { includeSelf: true }));
      meters.splice(nodes, 0, new PostgresCpu(databaseName));
      this.cpu = new ClusterCpu(meters, nodes + 1);
      this.idleRssKb = children.reduce((a, c) => a + currentRssKb(c.pid), 0);
    },
    async stop() {
      await this.proxy.close();
      if (balancer) await stopChild(balancer);
      await Promise.all(children.map(stopChild));
    },
    crashInfo() {
      const dead = [...children, balancer].map((c, i) => (c && (c.exitCode != null || c.signalCode != null) ? `${i < nodes ? ids[i] : 'balancer'} exited (${c.exitCode ?? c.signalCode}); see ${logs[i]}` : null)).filter(Boolean);
      return dead.length ? dead.join('; ') : null;
    },
    partNames: [...ids, 'PostgreSQL', 'balancer'],
    /** What the balancer sent to each node over the whole run (it logs its counts at each stop). */
    requestsPerNode() {
      const sums = ids.map(() => 0);
      let text = '';
      try { text = fs.readFileSync(logs[nodes], 'utf8'); } catch { return null; }
      for (const line of text.split('\n').filter((l) => l.startsWith('requests per upstream:'))) {
        line.slice(line.indexOf(':') + 1).split(',').forEach((part, i) => { sums[i] += Number(part.trim().split(' ').pop()) || 0; });
      }
      return ids.map((n, i) => `${n} ${sums[i]}`).join(', ');
    },
    logs,
  };
  await server.restart();
  return server;
}
