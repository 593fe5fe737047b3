// Running the real git CLI as a test peer, isolated from the user's configuration: the one
// place tests spawn git (suites with fixed identities pass them as `env`).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-home-'));
fs.writeFileSync(
  path.join(home, '.gitconfig'),
  '[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n',
);

export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
    LANG: 'C',
    LC_ALL: 'C',
    GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
    GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
    ...extra,
  };
}

export interface GitOptions {
  cwd?: string;
  env?: Record<string, string>;
  input?: Buffer | string;
}

export interface GitBytesResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Run git; never throws on a non-zero exit (tests assert on code and stderr). */
export async function git(args: string[], opts: GitOptions = {}): Promise<GitResult> {
  const r = await gitBytes(args, opts);
  return { ...r, stdout: r.stdout.toString() };
}

/** git with stdout as bytes (packs, protocol answers); never throws on a non-zero exit. */
export function gitBytes(args: string[], opts: GitOptions = {}): Promise<GitBytesResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: opts.cwd, env: gitEnv(opts.env) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Synchronous git, for fixtures built outside a server; never throws on a non-zero exit. */
export function gitSync(args: string[], opts: GitOptions = {}): GitBytesResult {
  const r = spawnSync('git', args, { cwd: opts.cwd, input: opts.input, env: gitEnv(opts.env), maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** Run git and fail the test with its stderr if it exits non-zero. */
export async function gitOk(args: string[], opts: GitOptions = {}): Promise<string> {
  const r = await git(args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r.stdout;
}

export function tmpDir(prefix = 'gitgate-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Make a commit in a work tree with the given files. */
export async function commitFiles(cwd: string, files: Record<string, string>, message: string): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(cwd, name)), { recursive: true });
    fs.writeFileSync(path.join(cwd, name), content);
  }
  await gitOk(['add', '-A'], { cwd });
  await gitOk(['commit', '-q', '-m', message], { cwd });
  return (await gitOk(['rev-parse', 'HEAD'], { cwd })).trim();
}
