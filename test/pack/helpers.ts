// Fixtures for the pack tests: real repositories and packs made by the git CLI.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GitObject, ObjectType } from '../../src/pack/types.js';
import { gitSync } from '../helpers/git.js';

const GIT_ENV: Record<string, string> = {
  GIT_AUTHOR_NAME: 'Pack Test',
  GIT_AUTHOR_EMAIL: 'pack@example.com',
  GIT_COMMITTER_NAME: 'Pack Test',
  GIT_COMMITTER_EMAIL: 'pack@example.com',
  GIT_AUTHOR_DATE: '1700000000 +0000',
  GIT_COMMITTER_DATE: '1700000000 +0000',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

/** git in `cwd` (through the one runner) with this suite's identity; throws with stderr when it fails. */
export function git(cwd: string, args: string[], input?: Buffer | string): Buffer {
  const r = gitSync(args, { cwd, input, env: GIT_ENV });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export function gitText(cwd: string, args: string[], input?: Buffer | string): string {
  return git(cwd, args, input).toString('utf8');
}

export function tempDir(prefix = 'gitgate-pack-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Deterministic pseudo-random generator (xorshift), so fixtures are the same every run. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const WORDS = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau'.split(' ');

function textLines(next: () => number, count: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = 3 + (next() % 8);
    const words: string[] = [];
    for (let w = 0; w < n; w++) words.push(WORDS[next() % WORDS.length]!);
    lines.push(`${i} ${words.join(' ')}`);
  }
  return lines;
}

export interface FixtureOptions {
  commits?: number;
  /** Add a blob larger than the synchronous inflate limit (and a delta against it). */
  bigBlob?: boolean;
}

/**
 * A repository whose history produces many deltas: text files edited commit after commit,
 * a binary file, nested trees, an empty file, an annotated tag, optionally a 5 MiB blob.
 */
export function makeFixtureRepo(dir: string, opts: FixtureOptions = {}): string {
  const next = rng(12345);
  git(dir, ['init', '-q', '-b', 'main', '.']);
  let lines = textLines(next, 400);
  const bin = Buffer.alloc(20_000);
  for (let i = 0; i < bin.length; i++) bin[i] = next() & 0xff;
  fs.mkdirSync(path.join(dir, 'dir/sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'empty'), '');
  fs.writeFileSync(path.join(dir, 'bin.dat'), bin);
  const commits = opts.commits ?? 12;
  for (let c = 0; c < commits; c++) {
    // Edit a few lines, insert and delete some: small deltas against the previous version.
    for (let k = 0; k < 5; k++) lines[next() % lines.length] = `edited ${c} ${k} ${WORDS[next() % WORDS.length]}`;
    lines.splice(next() % lines.length, 0, ...textLines(next, 3));
    lines.splice(next() % lines.length, 2);
    fs.writeFileSync(path.join(dir, 'a.txt'), lines.join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'dir/b.txt'), lines.slice(0, 150).reverse().join('\n') + '\n');
    fs.writeFileSync(path.join(dir, `dir/sub/c${c % 3}.txt`), `commit ${c}\n` + lines.slice(100, 200).join('\n'));
    bin[next() % bin.length] ^= 0xff;
    fs.writeFileSync(path.join(dir, 'bin.dat'), bin);
    if (opts.bigBlob && (c === 0 || c === commits - 1)) {
      const big = textLines(rng(777), 130_000);
      if (c > 0) big[60_000] = 'changed line in the big file';
      fs.writeFileSync(path.join(dir, 'big.txt'), big.join('\n'));
    }
    git(dir, ['add', '-A']);
    git(dir, ['commit', '-q', '-m', `commit ${c}\n\nbody ${c}`]);
    if (c === Math.floor(commits / 2)) git(dir, ['tag', '-a', 'v1', '-m', 'tag message']);
  }
  return dir;
}

/** Every object of a repository, as `git cat-file --batch-all-objects --batch` prints them. */
export function allObjects(repo: string): Map<string, GitObject> {
  const out = git(repo, ['cat-file', '--batch-all-objects', '--batch']);
  const objects = new Map<string, GitObject>();
  let pos = 0;
  while (pos < out.length) {
    const nl = out.indexOf(10, pos);
    const [oid, type, sizeText] = out.subarray(pos, nl).toString('latin1').split(' ');
    const size = Number(sizeText);
    objects.set(oid!, { type: type as ObjectType, content: Buffer.from(out.subarray(nl + 1, nl + 1 + size)) });
    pos = nl + 1 + size + 1;
  }
  return objects;
}

export interface VerifyPackLine {
  oid: string;
  type: ObjectType;
  size: number;
  packedSize: number;
  offset: number;
  depth?: number;
  base?: string;
}

/** Parsed `git verify-pack -v` object lines. */
export function verifyPack(packPath: string): VerifyPackLine[] {
  const text = gitText(path.dirname(packPath), ['verify-pack', '-v', packPath]);
  const lines: VerifyPackLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{40}) (\w+) +(\d+) (\d+) (\d+)(?: (\d+) ([0-9a-f]{40}))?$/.exec(line);
    if (!m) continue;
    lines.push({
      oid: m[1]!,
      type: m[2] as ObjectType,
      size: Number(m[3]),
      packedSize: Number(m[4]),
      offset: Number(m[5]),
      ...(m[6] ? { depth: Number(m[6]), base: m[7] } : {}),
    });
  }
  return lines;
}

/** Parsed `git show-index` lines: offset, oid, crc. */
export function showIndex(idx: Buffer, cwd: string): { offset: number; oid: string; crc: number }[] {
  return gitText(cwd, ['show-index'], idx)
    .trim()
    .split('\n')
    .map((line) => {
      const m = /^(\d+) ([0-9a-f]{40}) \(([0-9a-f]{8})\)$/.exec(line)!;
      return { offset: Number(m[1]), oid: m[2]!, crc: parseInt(m[3]!, 16) };
    });
}

/** Writes `pack` to dir/name.pack and lets `git index-pack` write name.idx; returns both paths. */
export function gitIndexPack(dir: string, name: string, pack: Buffer, extra: string[] = []): { packPath: string; idxPath: string } {
  const packPath = path.join(dir, `${name}.pack`);
  const idxPath = path.join(dir, `${name}.idx`);
  fs.writeFileSync(packPath, pack);
  git(dir, ['index-pack', ...extra, '-o', idxPath, packPath]);
  return { packPath, idxPath };
}

/** The single .pack/.idx pair of a freshly repacked repository. */
export function repackedFiles(repo: string): { pack: Buffer; idx: Buffer; packPath: string } {
  const packDir = path.join(repo, '.git/objects/pack');
  const name = fs.readdirSync(packDir).find((f) => f.endsWith('.pack'))!;
  const packPath = path.join(packDir, name);
  return { pack: fs.readFileSync(packPath), idx: fs.readFileSync(packPath.replace(/\.pack$/, '.idx')), packPath };
}

/** A pack of everything reachable from HEAD and tags, made by `git pack-objects`. */
export function packObjects(repo: string, args: string[]): Buffer {
  // "<oid> <path>" lines: pack-objects uses the path to pick delta candidates.
  const list = gitText(repo, ['rev-list', '--objects', '--all']);
  return git(repo, ['pack-objects', '--stdout', ...args], list);
}

/** Appends the SHA-1 trailer to header+entries bytes. */
export function withTrailer(body: Buffer): Buffer {
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

export async function* chunked(buf: Buffer, sizes: number | (() => number)): AsyncGenerator<Buffer> {
  let pos = 0;
  while (pos < buf.length) {
    const n = typeof sizes === 'number' ? sizes : sizes();
    yield buf.subarray(pos, pos + n);
    pos += n;
  }
}

export async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of gen) parts.push(Buffer.from(chunk)); // chunks may be lent (PackFile.bodyStream)
  return Buffer.concat(parts);
}

/** Runs fn and returns the error it throws (fails the test when it does not throw). */
export async function caught(fn: () => Promise<unknown> | unknown): Promise<Error & { code?: string; params?: Record<string, unknown> }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error, but none was thrown');
}

/** A fresh temp directory holding makeFixtureRepo's repository. */
export function fixtureRepo(opts: FixtureOptions = {}): string {
  return makeFixtureRepo(tempDir(), opts);
}
