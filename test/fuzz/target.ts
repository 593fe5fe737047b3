// The server under test: either gitgate as users run it (`node bin/gitgate.js serve`, a child
// process whose death, exit code, RSS and logs we can watch) or in-process through the test
// helper (for vitest).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBootstrapToken } from '../helpers/serve.js';

export interface FuzzServer {
  url: string;
  host: string;
  port: number;
  admin: string;
  dataDir: string;
  gitdir(id: string): string;
  /** null while running; otherwise how the process ended */
  exited(): string | null;
  /** Resident and peak resident memory of the server, MiB. */
  memory(): { rssMb: number; peakMb: number | null };
  /** The process state line from /proc (diagnostics). */
  state(): string;
  /** Server log text so far (spawned servers only). */
  logs(): string;
  /** Start again on the same data directory after a crash (spawned servers only). */
  restart?(): Promise<void>;
  close(): Promise<void>;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function procStatus(pid: number): { rssMb: number; peakMb: number | null } {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return { rssMb: NaN, peakMb: null };
  }
}

/** `gitgate serve` in a child process, data in a fresh temporary directory. */
export async function spawnServer(opts: { env?: Record<string, string>; dataDir?: string } = {}): Promise<FuzzServer> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-fuzz-data-'));
  let admin = '';
  let child: ChildProcess;
  let exitInfo: string | null = null;
  let logText = '';
  let url = '';
  const start = () =>
    new Promise<void>((resolve, reject) => {
      exitInfo = null;
      child = spawn(process.execPath, [path.join(ROOT, 'bin', 'gitgate.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--data', dataDir], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, GITGATE_BCRYPT_ROUNDS: '4', LOG_LEVEL: 'info', ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m && !url) {
          url = m[1]!;
          resolve();
        } else if (m) resolve();
      });
      child.stderr!.on('data', (d: Buffer) => {
        logText += d.toString();
        if (logText.length > 64 * 1024 * 1024) logText = logText.slice(-32 * 1024 * 1024);
      });
      child.on('exit', (code, signal) => {
        exitInfo = `exited with ${signal ? `signal ${signal}` : `code ${code}`}`;
        reject(new Error(`gitgate serve ${exitInfo}: ${logText.slice(-2000)}`));
      });
      child.on('error', reject);
    });
  await start();
  const port = Number(new URL(url).port);
  // stdout is not a terminal: serve wrote the bootstrap token into the data directory
  admin = readBootstrapToken(dataDir);
  if (!admin) throw new Error('gitgate serve did not write a bootstrap admin token');
  const server: FuzzServer = {
    get url() {
      return url;
    },
    host: '127.0.0.1',
    get port() {
      return Number(new URL(url).port);
    },
    admin,
    dataDir,
    gitdir: (id) => path.join(dataDir, `${id}.git`),
    exited: () => exitInfo,
    memory: () => procStatus(child.pid!),
    state: () => {
      try {
        return /^State:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? '?';
      } catch {
        return 'no such process';
      }
    },
    logs: () => logText,
    async restart() {
      url = '';
      await start().catch((err: Error) => {
        throw err;
      });
    },
    async close() {
      if (exitInfo) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
  };
  void port;
  return server;
}

/** gitgate in this process (vitest): the test helper's server over the real file system. */
export async function inProcessServer(env: Record<string, string> = {}): Promise<FuzzServer> {
  const { startTestServer } = await import('../helpers/server.js');
  const s = await startTestServer('fs', env);
  const u = new URL(s.url);
  return {
    url: s.url,
    host: u.hostname,
    port: Number(u.port),
    admin: s.admin,
    dataDir: s.dataDir,
    gitdir: (id) => s.ctx.manager.gitdirOf(id),
    exited: () => null,
    memory: () => {
      const st = procStatus(process.pid);
      return { rssMb: process.memoryUsage().rss / 1024 / 1024, peakMb: st.peakMb };
    },
    logs: () => '',
    state: () => 'in-process',
    close: () => s.close(),
  };
}
