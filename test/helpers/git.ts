// Running the real git CLI as a test peer, isolated from the user's configuration.
import { execFile, spawn } from 'node:child_process';
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

/** Run git; never throws on a non-zero exit (tests assert on code and stderr). */
export function git(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: Buffer | string } = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: opts.cwd, env: gitEnv(opts.env) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Run git and fail the test with its stderr if it exits non-zero. */
export async function gitOk(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: Buffer | string } = {}): Promise<string> {
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

export function execFileText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}
