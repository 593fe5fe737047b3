// GET /v1/repo/:id/compare/:base...:head — GitHub's compare: the commits of `git log base..head`,
// ahead/behind counts, the merge base, and the file changes of `git diff base...head` (the
// merge base against head), as JSON or as the exact text `git diff -M100% base...head` prints.
import { GitgateError } from '../../errors.js';
import type { CommitInfo } from '../../repo/commit-walk.js';
import { parseCommit } from '../../repo/objects/commit.js';
import { parseIdent } from '../../repo/objects/ident.js';
import type { Repository } from '../../repo/repository.js';
import { commitTree, readObjectOfType, type Side } from '../content/tree.js';
import { resolveCommitish } from '../revision.js';
import type { WantPolicy } from '../../protocol/fetch-core.js';
import { mergeBases, revList } from './history.js';
import { fullMode, treeChanges, type FileChange } from './tree-changes.js';
import { unifiedDiff } from './xdiff.js';
import { oidOrZero } from '../../oid.js';

/** GitHub lists at most this many commits in a comparison (total_commits still counts all). */
export const MAX_COMPARE_COMMITS = 250;
/** Hex digits of abbreviated object ids in `index` lines (git's default for repositories of up to ~16k objects). */
export const ABBREV = 7;
/** git's binary test: a NUL in the first 8000 bytes. */
const FIRST_FEW_BYTES = 8000;

export interface CompareOptions {
  nameOnly?: boolean;
  /** Which commit ids BASE and HEAD may name (default: those a ref reaches). */
  reach?: WantPolicy;
}

interface Ident {
  name: string;
  email: string;
  date: string;
}

export interface CompareCommit {
  sha: string;
  commit: { message: string; tree: { sha: string }; author: Ident | null; committer: Ident | null };
  parents: { sha: string }[];
}

export interface CompareFile {
  filename: string;
  status: FileChange['status'];
  additions?: number;
  deletions?: number;
  changes?: number;
  patch?: string;
  previous_filename?: string;
}

export interface Comparison {
  status: 'identical' | 'ahead' | 'behind' | 'diverged';
  ahead_by: number;
  behind_by: number;
  total_commits: number;
  base_commit: CompareCommit;
  merge_base_commit: CompareCommit;
  commits: CompareCommit[];
  files: CompareFile[];
}

/** "base...head" (GitHub's form); either side a commit id, branch, tag or full ref name. */
export function parseCompareSpec(spec: string): { base: string; head: string } {
  const at = spec.indexOf('...');
  if (at <= 0 || at + 3 >= spec.length) throw new GitgateError('VALIDATION', { detail: 'compare takes BASE...HEAD (three dots), e.g. main...agent/task-1' });
  return { base: spec.slice(0, at), head: spec.slice(at + 3) };
}

interface Prepared {
  base: string;
  head: string;
  mergeBase: string;
  changes: FileChange[];
}

async function prepare(repo: Repository, baseName: string, headName: string, reach?: WantPolicy): Promise<Prepared> {
  const base = (await resolveCommitish(repo, baseName, reach)).commit;
  const head = (await resolveCommitish(repo, headName, reach)).commit;
  const [mergeBase] = await mergeBases(repo.objects, base, head);
  if (!mergeBase) throw new GitgateError('NO_MERGE_BASE', { base: baseName.slice(0, 200), head: headName.slice(0, 200) });
  const changes = await treeChanges(repo, await commitTree(repo, mergeBase), await commitTree(repo, head));
  return { base, head, mergeBase, changes };
}

export async function compare(repo: Repository, baseName: string, headName: string, opts: CompareOptions = {}): Promise<Comparison> {
  const p = await prepare(repo, baseName, headName, opts.reach);
  const ahead = await revList(repo.objects, p.head, p.base);
  const behind = await revList(repo.objects, p.base, p.head);
  const files: CompareFile[] = [];
  for (const c of p.changes) {
    const entry: CompareFile = { filename: (c.new ?? c.old)!.path, status: c.status };
    if (c.status === 'renamed') entry.previous_filename = c.old!.path;
    if (!opts.nameOnly) {
      const d = await contentDiff(repo, c);
      entry.additions = d?.additions ?? 0;
      entry.deletions = d?.deletions ?? 0;
      entry.changes = entry.additions + entry.deletions;
      if (d && d.text.length) entry.patch = d.text.toString('utf8');
    }
    files.push(entry);
  }
  return {
    status: ahead.length && behind.length ? 'diverged' : ahead.length ? 'ahead' : behind.length ? 'behind' : 'identical',
    ahead_by: ahead.length,
    behind_by: behind.length,
    total_commits: ahead.length,
    base_commit: await describeCommit(repo, p.base),
    merge_base_commit: await describeCommit(repo, p.mergeBase),
    // oldest first, as GitHub lists them (`git log --reverse base..head`)
    commits: await Promise.all(ahead.slice(-MAX_COMPARE_COMMITS).reverse().map((c: CommitInfo) => describeCommit(repo, c.oid))),
    files,
  };
}

/** The bytes `git diff -M100% base...head` prints (with nameOnly: `--name-only`). */
export async function comparePatch(repo: Repository, baseName: string, headName: string, opts: CompareOptions = {}): Promise<Buffer> {
  const p = await prepare(repo, baseName, headName, opts.reach);
  if (opts.nameOnly) return Buffer.from(p.changes.map((c) => `${quoteC((c.new ?? c.old)!.path)}\n`).join(''));
  const out: Buffer[] = [];
  for (const c of p.changes) out.push(await patchSection(repo, c));
  return Buffer.concat(out);
}

export async function describeCommit(repo: Repository, oid: string): Promise<CompareCommit> {
  const c = parseCommit(await readObjectOfType(repo, oid, 'commit'));
  const ident = (s: string): Ident | null => {
    const i = parseIdent(s);
    return i ? { name: i.name, email: i.email, date: new Date(i.timestamp * 1000).toISOString().replace('.000Z', 'Z') } : null;
  };
  return {
    sha: oid,
    commit: { message: c.message.replace(/\n$/, ''), tree: { sha: c.tree }, author: ident(c.author), committer: ident(c.committer) },
    parents: c.parents.map((sha) => ({ sha })),
  };
}

/** What a side holds for diffing: a blob's bytes, or a submodule's "Subproject commit" line. */
async function sideContent(repo: Repository, s: Side | null): Promise<Buffer> {
  if (!s) return Buffer.alloc(0);
  if (s.mode === '160000') return Buffer.from(`Subproject commit ${s.oid}\n`);
  return readObjectOfType(repo, s.oid, 'blob');
}

const isBinary = (b: Buffer) => b.subarray(0, FIRST_FEW_BYTES).includes(0);

/** The hunks of one change; null for binary content. */
async function contentDiff(repo: Repository, c: FileChange): Promise<ReturnType<typeof unifiedDiff> | null> {
  if (c.old && c.new && c.old.oid === c.new.oid) return { text: Buffer.alloc(0), additions: 0, deletions: 0 };
  const [a, b] = await Promise.all([sideContent(repo, c.old), sideContent(repo, c.new)]);
  if (isBinary(a) || isBinary(b)) return null;
  return unifiedDiff(a, b);
}

async function patchSection(repo: Repository, c: FileChange): Promise<Buffer> {
  // a file that became a symlink (or submodule) prints as a deletion and a creation
  if (c.status === 'changed') {
    return Buffer.concat([await patchSection(repo, { status: 'removed', old: c.old, new: null }), await patchSection(repo, { status: 'added', old: null, new: c.new })]);
  }
  const oldName = (c.old ?? c.new)!.path;
  const newName = (c.new ?? c.old)!.path;
  const lines = [`diff --git ${quoteTwo('a/', oldName)} ${quoteTwo('b/', newName)}`];
  if (!c.old) lines.push(`new file mode ${fullMode(c.new!.mode)}`);
  else if (!c.new) lines.push(`deleted file mode ${fullMode(c.old.mode)}`);
  else {
    if (c.old.mode !== c.new.mode) lines.push(`old mode ${fullMode(c.old.mode)}`, `new mode ${fullMode(c.new.mode)}`);
    if (c.status === 'renamed') lines.push('similarity index 100%', `rename from ${quoteC(oldName)}`, `rename to ${quoteC(newName)}`);
  }
  const oldOid = oidOrZero(c.old?.oid);
  const newOid = oidOrZero(c.new?.oid);
  if (oldOid !== newOid) {
    const sameMode = c.old && c.new && c.old.mode === c.new.mode;
    lines.push(`index ${oldOid.slice(0, ABBREV)}..${newOid.slice(0, ABBREV)}${sameMode ? ` ${fullMode(c.old!.mode)}` : ''}`);
  }
  const lbl0 = c.old ? quoteTwo('a/', oldName) : '/dev/null';
  const lbl1 = c.new ? quoteTwo('b/', newName) : '/dev/null';
  const d = await contentDiff(repo, c);
  const head = Buffer.from(lines.map((l) => `${l}\n`).join(''));
  if (!d) return Buffer.concat([head, Buffer.from(`Binary files ${lbl0} and ${lbl1} differ\n`)]);
  if (d.text.length === 0) return head;
  // a name with a space gets a tab after it, so patch tools find where the name ends
  const tab = (l: string) => (l.includes(' ') ? '\t' : '');
  return Buffer.concat([head, Buffer.from(`--- ${lbl0}${tab(lbl0)}\n+++ ${lbl1}${tab(lbl1)}\n`), d.text]);
}

const C_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 34: '\\"', 92: '\\\\' };

function needsQuote(bytes: Buffer): boolean {
  return bytes.some((b) => b < 0x20 || b === 0x22 || b === 0x5c || b >= 0x7f);
}

function escapeC(bytes: Buffer): string {
  let s = '';
  for (const b of bytes) {
    if (C_ESCAPES[b]) s += C_ESCAPES[b];
    else if (b < 0x20 || b >= 0x7f) s += `\\${b.toString(8).padStart(3, '0')}`;
    else s += String.fromCharCode(b);
  }
  return s;
}

/** git's quote_c_style with core.quotePath on: quoted and escaped when needed. */
function quoteC(name: string): string {
  const bytes = Buffer.from(name);
  return needsQuote(bytes) ? `"${escapeC(bytes)}"` : name;
}

/** git's quote_two: prefix and name quoted together. */
function quoteTwo(prefix: string, name: string): string {
  const bytes = Buffer.from(name);
  return needsQuote(bytes) ? `"${prefix}${escapeC(bytes)}"` : `${prefix}${name}`;
}
