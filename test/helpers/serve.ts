// `gitgate serve` as a child process (the built CLI in dist/), and the bootstrap token it leaves
// in the data directory when stdout is not a terminal.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/gitgate.js', import.meta.url));

/** The first workspace admin token, as serve writes it when stdout is not a terminal. */
export function readBootstrapToken(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'bootstrap-token'), 'utf8').trim();
}

export interface ServeRun {
  child: ChildProcess;
  /** The listening URL, or null when serve exited without listening. */
  url: string | null;
  code: number | null;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Spawn serve; resolves once it prints its listening line or exits, whichever comes first.
 *  `shell`: a /bin/sh prefix run before exec, e.g. `umask 022`. */
export function runServe(args: string[], opts: { env?: Record<string, string>; shell?: string } = {}): Promise<ServeRun> {
  const env = { ...process.env, GITGATE_BCRYPT_ROUNDS: '4', LOG_LEVEL: 'silent', ...opts.env };
  const child = opts.shell
    ? spawn('/bin/sh', ['-c', `${opts.shell} && exec "$0" "$@"`, process.execPath, BIN, 'serve', ...args], { env })
    : spawn(process.execPath, [BIN, 'serve', ...args], { env });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return new Promise((resolve) => {
    const run = (url: string | null, code: number | null): ServeRun => ({ child, url, code, stdout: () => out, stderr: () => err, exited });
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^listening on (https?:\/\/\S+)$/m.exec(out);
      if (m) resolve(run(m[1]!, null));
    });
    child.on('close', (code) => resolve(run(null, code)));
  });
}

/** Signal serve and wait for it to exit. */
export async function stopServe(run: ServeRun, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill(signal);
  return run.exited;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a one-shot gitgate command (stdin is not a terminal). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, GITGATE_BCRYPT_ROUNDS: '4', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end();
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
