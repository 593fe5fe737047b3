// Random histories for the bitmap tests, built with one `git fast-import`: branches that fork
// and merge, files edited, added and deleted in nested directories, annotated and lightweight
// tags, a submodule entry. Returns every commit id.
import fs from 'node:fs';
import path from 'node:path';
import { rng } from '../pack/helpers.js';
import { git } from './helpers.js';

/** A fast-import data command; the newline the caller's join adds after it is the optional LF. */
const data = (body: string) => `data ${Buffer.byteLength(body)}\n${body}`;

export interface History {
  commits: string[];
  branches: string[];
}

/** Append `count` random commits (marks from `firstMark`) to the bare repository `gitdir`. */
export function randomHistory(gitdir: string, seed: number, count: number, opts: { from?: string[]; tagPrefix?: string } = {}): History {
  const next = rng(seed);
  const pick = <T>(a: T[]): T => a[next() % a.length]!;
  const lines: string[] = [];
  const heads = new Map<string, number>(); // branch -> mark of its tip
  const from = opts.from ?? [];
  const branches = ['main', 'topic', 'old', 'feature/x'];
  const files = ['README', 'src/a.c', 'src/b.c', 'src/lib/deep/x.h', 'doc/guide.txt', 'doc/img/logo.bin', 'tests/t1.sh'];
  let when = 1_700_000_000 + seed * 100_000;
  for (let i = 1; i <= count; i++) {
    const branch = i === 1 ? 'main' : pick(branches);
    lines.push(`commit refs/heads/${branch}`, `mark :${i}`, `committer C <c@example.com> ${(when += 1 + (next() % 50))} +0000`);
    const msg = `commit ${seed}/${i}`;
    lines.push(data(msg));
    const tip = heads.get(branch);
    if (tip !== undefined) lines.push(`from :${tip}`);
    else if (from.length) lines.push(`from ${pick(from)}`);
    else if (i > 1) lines.push(`from :${1 + (next() % (i - 1))}`);
    if (i > 3 && next() % 5 === 0) {
      const other = 1 + (next() % (i - 1));
      if (other !== tip) lines.push(`merge :${other}`);
    }
    const edits = 1 + (next() % 3);
    for (let e = 0; e < edits; e++) {
      const file = pick(files);
      if (next() % 9 === 0) {
        lines.push(`D ${file}`);
        continue;
      }
      const body = `${file} at ${i}\n${'shared line\n'.repeat(next() % 40)}${next()}\n`;
      lines.push(`M 100644 inline ${file}`, data(body));
    }
    if (i === 2) lines.push(`M 160000 ${'ab'.repeat(20)} vendor/sub`);
    if (next() % 7 === 0) {
      const script = `#!/bin/sh\necho ${i}\n`;
      lines.push(`M 100755 inline bin/run${i % 3}`, data(script));
    }
    heads.set(branch, i);
    if (next() % 6 === 0) {
      const tag = `${opts.tagPrefix ?? 't'}${seed}-${i}`;
      if (next() % 2) lines.push(`tag ${tag}`, `from :${i}`, `tagger T <t@example.com> ${when} +0000`, data('tag!'));
      else lines.push(`reset refs/tags/${tag}`, `from :${i}`);
    }
  }
  const marks = path.join(gitdir, `marks-${seed}`);
  git(['fast-import', '--quiet', '--force', `--export-marks=${marks}`], { cwd: gitdir, input: `${lines.join('\n')}\n` });
  const commits = fs
    .readFileSync(marks, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[1]!);
  fs.rmSync(marks);
  return { commits, branches: [...heads.keys()] };
}

/** `git rev-list --objects` as a set of ids. */
export function revListObjects(gitdir: string, args: string[]): Set<string> {
  const out = git(['--git-dir', gitdir, 'rev-list', '--objects', ...args]);
  return new Set(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(0, 40)),
  );
}

/** Objects reachable from `wants` and not from `haves`, exactly. */
export function exactDifference(gitdir: string, wants: string[], haves: string[]): Set<string> {
  const w = revListObjects(gitdir, wants);
  if (haves.length === 0) return w;
  for (const o of revListObjects(gitdir, haves)) w.delete(o);
  return w;
}
