// Helpers of the repository tests: the storages they run over, and git (through the one
// runner, test/helpers/git.ts) with this suite's fixed identities and dates, for checking
// that C Git reads what we write.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Storage } from '../../src/repo/storage.js';
import { LooseObjects } from '../../src/repo/loose.js';
import { Repository } from '../../src/repo/repository.js';
import { nodeStorage } from '../../src/repo/storage.js';
import { serializeCommit } from '../../src/repo/objects/commit.js';
import { gitSync } from '../helpers/git.js';

export { STORAGE_KINDS, makeStorage, walkFiles, type StorageKind, type TestStorage } from '../helpers/storage.js';

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gitgate-git-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const GIT_ENV: Record<string, string> = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Ada Author',
  GIT_AUTHOR_EMAIL: 'ada@example.com',
  GIT_COMMITTER_NAME: 'Cy Committer',
  GIT_COMMITTER_EMAIL: 'cy@example.com',
  GIT_AUTHOR_DATE: '1700000000 +0100',
  GIT_COMMITTER_DATE: '1700000000 +0100',
};

export interface GitResult {
  status: number;
  stdout: Buffer;
  stderr: string;
}

/** Run git; never throws on a non-zero exit (look at `status`). */
export function gitRaw(args: string[], opts: { cwd?: string; input?: Buffer | string; env?: Record<string, string> } = {}): GitResult {
  // default cwd outside any repository, so a missing --git-dir can never touch this checkout
  const r = gitSync(args, { cwd: opts.cwd ?? os.tmpdir(), input: opts.input, env: { ...GIT_ENV, ...opts.env } });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** Run git and return trimmed stdout; throws with stderr when it fails. */
export function git(args: string[], opts: { cwd?: string; input?: Buffer | string; env?: Record<string, string> } = {}): string {
  const r = gitRaw(args, opts);
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout.toString('utf8').replace(/\n$/, '');
}

export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/** Write a real commit (on the empty tree) so refs point at objects C Git can check. */
export async function makeCommit(storage: Storage, gitdir: string, message: string, parents: string[] = []): Promise<string> {
  const loose = new LooseObjects(storage, gitdir);
  const tree = await loose.write('tree', Buffer.alloc(0));
  const ident = 'Ada Author <ada@example.com> 1700000000 +0100';
  return loose.write('commit', serializeCommit({ tree, parents, author: ident, committer: ident, message: `${message}\n` }));
}

/** Set a file's modification time `ageMs` into the past. */
export async function age(storage: Storage, file: string, ageMs: number): Promise<void> {
  const t = new Date(Date.now() - ageMs);
  await storage.fs.promises.utimes(file, t, t);
}

/** A fresh bare repository (branch main) in a temporary directory, removed by `cleanups`. */
export function bareRepo(cleanups: (() => void)[]): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const gitdir = path.join(t.dir, 'r.git');
  git(['init', '-q', '--bare', '-b', 'main', gitdir]);
  return gitdir;
}

/** A bare repository opened with maintenance off, closed by `cleanups`. */
export function openBare(gitdir: string, cleanups: (() => void)[]): Repository {
  const repo = new Repository(nodeStorage(path.dirname(gitdir)), 'r', gitdir, { maintenance: { enabled: false } });
  cleanups.push(() => void repo.close());
  return repo;
}
