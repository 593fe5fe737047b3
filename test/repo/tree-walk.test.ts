// The history walks compare each tree with one walked before (TreeMemo: the tree of a child
// commit at the same path, else the last trees at that path) and look up only the entries that
// differ. Checked against `git rev-list --objects` over random histories built to stress that
// diff: branches whose commit dates interleave, merges, renamed and copied directories (the
// same subtree at several paths), files turning into directories and back, big directories;
// and over crafted trees (unsorted, duplicate names, a name that is a file and a directory)
// that C Git's fsck would refuse but an imported repository may hold.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { planObjects } from '../../src/repo/reachability.js';
import { walkReachable } from '../../src/repo/reach-objects.js';
import { Repository } from '../../src/repo/repository.js';
import { rng } from '../pack/helpers.js';
import { revListObjects } from './bitmap-history.js';
import { bareRepo as bareRepoIn, git, openBare } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

const bareRepo = () => bareRepoIn(cleanups);
const open = (gitdir: string): Repository => openBare(gitdir, cleanups);

const data = (body: string) => `data ${Buffer.byteLength(body)}\n${body}`;

/** A random history by one fast-import; each commit lists its whole tree (deleteall), from a model of files. */
function treeHistory(gitdir: string, seed: number, count: number): void {
  const next = rng(seed);
  const pick = <T>(a: T[]): T => a[next() % a.length]!;
  const lines: string[] = [];
  const blobs = new Map<string, number>();
  let mark = 0;
  const blob = (body: string): number => {
    let m = blobs.get(body);
    if (m === undefined) {
      blobs.set(body, (m = ++mark));
      lines.push('blob', `mark :${m}`, data(body));
    }
    return m;
  };
  type Files = Map<string, { body: string; mode: string }>;
  const start: Files = new Map();
  for (let i = 0; i < 70; i++) start.set(`big/f${String(i).padStart(3, '0')}`, { body: `big ${i}\n`, mode: '100644' });
  for (const f of ['README', 'src/a.c', 'src/lib/b.c', 'src/lib/deep/c.h', 'doc/guide.txt', 'x']) start.set(f, { body: `${f}\n`, mode: '100644' });
  const states = new Map<number, Files>(); // commit mark -> its files
  const heads = new Map<string, number>();
  const branches = ['main', 'maint', 'topic', 'next', 'old'];
  const dirs = (files: Files) => [...new Set([...files.keys()].flatMap((f) => f.split('/').slice(0, -1).map((_, i, p) => p.slice(0, i + 1).join('/'))))];
  const renamePrefix = (files: Files, from: string, to: string, keep: boolean): Files => {
    const out: Files = new Map(keep ? files : [...files].filter(([f]) => !f.startsWith(`${from}/`)));
    for (const [f, v] of files) if (f.startsWith(`${from}/`)) out.set(`${to}${f.slice(from.length)}`, v);
    return out;
  };
  for (let i = 1; i <= count; i++) {
    const branch = i === 1 ? 'main' : pick(branches);
    const parent = heads.get(branch) ?? (i > 1 ? 1 + (next() % (i - 1)) : undefined);
    let files: Files = new Map(parent === undefined ? start : states.get(parent)!);
    const parents = parent === undefined ? [] : [parent];
    if (i > 3 && next() % 4 === 0) {
      const other = 1 + (next() % (i - 1));
      if (other !== parent) {
        parents.push(other);
        for (const [f, v] of states.get(other)!) if (next() % 2) files.set(f, v);
      }
    }
    const ops = 1 + (next() % 4);
    for (let o = 0; o < ops; o++) {
      const names = [...files.keys()];
      const op = next() % 12;
      if (op < 4 && names.length) {
        const f = pick(names);
        files.set(f, { body: `${f} at ${i}\n${'same\n'.repeat(next() % 5)}`, mode: files.get(f)!.mode });
      } else if (op === 4) files.set(`${pick(['src', 'doc', 'big', 'src/lib/deep', 'new'])}/n${next() % 50}`, { body: `n ${next() % 7}\n`, mode: '100644' });
      else if (op === 5 && names.length > 5) files.delete(pick(names));
      else if (op === 6) {
        const d = pick(dirs(files));
        if (d) files = renamePrefix(files, d, `${d}-r${next() % 3}`, false); // a renamed directory
      } else if (op === 7) {
        const d = pick(dirs(files));
        if (d) files = renamePrefix(files, d, `copy${next() % 3}/${d.split('/').pop()}`, true); // the same subtree twice
      } else if (op === 8) {
        // a file becomes a directory of the same name, or a directory a file
        if (files.has('x')) {
          files.delete('x');
          files.set('x/inside', { body: `inside ${next() % 3}\n`, mode: '100644' });
        } else {
          files = new Map([...files].filter(([f]) => !f.startsWith('x/')));
          files.set('x', { body: `x ${next() % 3}\n`, mode: '100644' });
        }
      } else if (op === 9 && names.length) files.set(pick(names), { body: `#!/bin/sh\n${i}\n`, mode: pick(['100755', '120000', '100644']) });
      else if (op === 10 && names.length) {
        const f = pick(names); // a reverted edit: an older tree comes back
        files.set(f, { body: `${f}\n`, mode: '100644' });
      }
    }
    states.set(i, files);
    const marks = [...files].map(([f, v]) => [f, v.mode, blob(v.body)] as const);
    lines.push(`commit refs/heads/${branch}`, `mark :c${i}`);
    // dates out of order across branches: newest-first walks interleave them
    lines.push(`committer C <c@example.com> ${1_700_000_000 + (next() % 100_000)} +0000`, data(`c ${seed}/${i}`));
    parents.forEach((p, k) => lines.push(`${k === 0 ? 'from' : 'merge'} :c${p}`));
    lines.push('deleteall');
    for (const [f, mode, m] of marks) lines.push(`M ${mode} :${m} ${f}`);
    heads.set(branch, i);
    if (next() % 8 === 0) lines.push(`reset refs/tags/t${i}`, `from :c${i}`);
  }
  // fast-import marks are numbers: commits get their own range after the blobs
  const base = mark;
  const text = lines.join('\n').replace(/:c(\d+)/g, (_, n: string) => `:${base + Number(n)}`);
  git(['fast-import', '--quiet'], { cwd: gitdir, input: `${text}\n` });
}

function refs(gitdir: string): string[] {
  return git(['--git-dir', gitdir, 'for-each-ref', '--format=%(objectname)']).split('\n');
}

/** The walk with the memo off (a filter that keeps everything): the reference order. */
const KEEP_ALL = { kind: 'tree', depth: 1_000_000 } as const;

async function expectWalksMatch(gitdir: string, seed: number): Promise<void> {
  const repo = open(gitdir);
  const wants = refs(gitdir);
  const plan = await planObjects(repo.objects, wants, { haves: [] });
  const ids = plan.objects.map((o) => o.oid);
  expect(new Set(ids).size).toBe(ids.length);
  expect(new Set(ids)).toEqual(revListObjects(gitdir, ['--all']));
  // same list, same order and types as without the memo
  const reference = await planObjects(repo.objects, wants, { haves: [], filter: KEEP_ALL });
  expect(plan.objects).toEqual(reference.objects);
  const types = git(['--git-dir', gitdir, 'cat-file', '--batch-check=%(objectname) %(objecttype)'], { input: `${ids.join('\n')}\n` });
  expect(plan.objects.map((o) => `${o.oid} ${o.type}`).join('\n')).toBe(types);
  const { seen } = await walkReachable(repo.objects, wants);
  expect(seen.size).toBe(ids.length);
  for (const oid of ids) expect(seen.hasHex(oid)).toBe(true);
  // fetches: wants and haves among the commits
  const next = rng(seed * 7);
  const commits = git(['--git-dir', gitdir, 'rev-list', '--all']).split('\n');
  for (let round = 0; round < 6; round++) {
    const w = [commits[next() % commits.length]!, commits[next() % commits.length]!];
    const h = round % 2 ? [commits[next() % commits.length]!] : [];
    const got = await planObjects(repo.objects, w, { haves: h });
    expect(got.objects).toEqual((await planObjects(repo.objects, w, { haves: h, filter: KEEP_ALL })).objects);
    const expected = revListObjects(gitdir, [...w, ...h.map((c) => `^${c}`)]);
    const listed = new Set(got.objects.map((o) => o.oid));
    for (const oid of expected) expect(listed.has(oid)).toBe(true);
  }
}

describe('walks that diff each tree against one walked before', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`list what git rev-list --objects lists, in the order of the memo-less walk (seed ${seed})`, async () => {
      const gitdir = bareRepo();
      treeHistory(gitdir, seed, 60);
      await expectWalksMatch(gitdir, seed);
    });
  }

  it('do not lose objects in crafted trees: unsorted, duplicate names, a name both a file and a directory', async () => {
    const gitdir = bareRepo();
    const next = rng(99);
    const hashBlob = (body: string) => git(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: body });
    const hashTree = (entries: [string, string, string][]) => {
      const bytes = Buffer.concat(entries.map(([mode, name, oid]) => Buffer.concat([Buffer.from(`${mode} ${name}\0`, 'latin1'), Buffer.from(oid, 'hex')])));
      return git(['--git-dir', gitdir, 'hash-object', '-w', '-t', 'tree', '--literally', '--stdin'], { input: bytes });
    };
    const sub = (k: number) => hashTree([['100644', 'f', hashBlob(`sub ${k}\n`)]]);
    const names = ['a', 'b', 'b', 'c', 'd', 'e'];
    let parent: string | null = null;
    for (let i = 0; i < 25; i++) {
      const entries: [string, string, string][] = names.map((name) =>
        next() % 3 === 0 ? ['40000', name, sub(next() % 6)] : ['100644', name, hashBlob(`${name} ${next() % 6}\n`)],
      );
      for (let k = entries.length - 1; k > 0; k--) {
        const j = next() % (k + 1);
        if (next() % 2) [entries[k], entries[j]] = [entries[j]!, entries[k]!];
      }
      const tree = hashTree(entries);
      const args: string[] = ['--git-dir', gitdir, 'commit-tree', tree, '-m', `c${i}`];
      if (parent) args.push('-p', parent);
      parent = git(args, { env: { GIT_COMMITTER_DATE: `${1_700_000_000 + i} +0000` } });
      if (i % 5 === 0) git(['--git-dir', gitdir, 'update-ref', `refs/heads/b${i}`, parent]);
    }
    git(['--git-dir', gitdir, 'update-ref', 'refs/heads/main', parent!]);
    await expectWalksMatch(gitdir, 99);
  });
});

describe('TreeMemo pairs changed subtrees', () => {
  it('names the old subtree of the same name for the next level, and nothing for a new or retyped entry', async () => {
    const { TreeMemo } = await import('../../src/repo/tree-memo.js');
    const { TreeScanner } = await import('../../src/repo/objects/tree-scanner.js');
    const id = (s: string) => createHash('sha1').update(s).digest();
    const entry = (mode: string, name: string, oid: Buffer) => Buffer.concat([Buffer.from(`${mode} ${name}\0`, 'latin1'), oid]);
    const files = Array.from({ length: 30 }, (_, i) => entry('100644', `f${String(i).padStart(2, '0')}`, id(`f${i}`)));
    const old = Buffer.concat([...files, entry('40000', 'g', id('g1')), entry('100644', 'h', id('h'))]);
    const fresh = Buffer.concat([...files, entry('40000', 'g', id('g2')), entry('40000', 'h', id('h2'))]);
    const memo = new TreeMemo();
    const scanner = new TreeScanner();
    memo.changed('o', '', old, scanner);
    const count = memo.changed('n', '', fresh, scanner, 'o');
    expect(count).toBe(2);
    expect([memo.entryStart(0), memo.entryStart(1)]).toEqual([files.length * files[0]!.length, files.length * files[0]!.length + entry('40000', 'g', id('g2')).length]);
    expect(memo.counterpart(0)).toBe(id('g1').toString('hex'));
    expect(memo.counterpart(1)).toBeNull(); // was a file
  });
});
