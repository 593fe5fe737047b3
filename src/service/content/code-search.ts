// Code search for agents (POST /v1/repo/:id/search and the SDK's relace-search agent): lines
// matching a literal or an RE2 regular expression across the tree of one commit, files ranked
// by the retrieve index's BM25 on the query's terms, files with a real match first.
//
// Regular expressions run on re2js, a linear-time engine (no backtracking: a hostile pattern
// cannot make a request hang), and the whole request has a time budget: files not reached by
// then are left out and the answer says `truncated`.
import { RE2JS } from 're2js';
import { GitgateError } from '../../errors.js';
import type { Repository } from '../../repo/repository.js';
import type { WantPolicy } from '../../protocol/fetch-core.js';
import { indexFor, MAX_INDEXED_BYTES, rank, terms } from './search.js';
import { commitTree, readObjectOfType, resolveReadCommit } from './tree.js';

export const DEFAULT_MAX_RESULTS = 50;
export const MAX_MAX_RESULTS = 1000;
export const DEFAULT_CONTEXT_LINES = 2;
export const MAX_CONTEXT_LINES = 20;
/** Matches reported per file; the file still ranks by all of them. */
export const MAX_MATCHES_PER_FILE = 100;
/** Longest line returned (longer ones are cut, with "…"). */
export const MAX_LINE_CHARS = 1000;
export const DEFAULT_TIME_BUDGET_MS = 10_000;

export interface CodeSearchOptions {
  query: string;
  regex?: boolean;
  case_sensitive?: boolean;
  path_glob?: string | null;
  branch?: string | null;
  hash?: string | null;
  max_results?: number;
  context_lines?: number;
  /** Wall-clock budget for the whole search. */
  timeBudgetMs?: number;
  /** Which commit ids `hash` may name (default: those a ref reaches). */
  reach?: WantPolicy;
}

export interface LineMatch {
  line_number: number;
  line: string;
  before: string[];
  after: string[];
}

export interface FileResult {
  filename: string;
  score: number;
  matches: LineMatch[];
}

export interface CodeSearchResult {
  hash: string;
  results: FileResult[];
  /** Cut short by the time budget (files not reached are missing). */
  truncated: boolean;
}

type LineTest = (line: string) => boolean;

/** The per-line test: an RE2 pattern, or the query as a literal. 400 for a pattern RE2 rejects. */
function compile(query: string, regex: boolean, caseSensitive: boolean): LineTest {
  let re: RE2JS;
  try {
    re = RE2JS.compile(regex ? query : RE2JS.quote(query), caseSensitive ? 0 : RE2JS.CASE_INSENSITIVE);
  } catch (err) {
    throw new GitgateError('VALIDATION', { detail: `query is not a valid RE2 regular expression: ${String((err as Error)?.message ?? err).slice(0, 200)}` });
  }
  if (!regex) {
    // plain substring search needs no automaton
    if (caseSensitive) return (line) => line.includes(query);
    const lower = query.toLowerCase();
    return (line) => line.toLowerCase().includes(lower);
  }
  return (line) => re.matcher(line).find();
}

/** Lines containing any of the query's terms (as whole identifier parts, any case), for files ranked by BM25 alone. */
function termTest(query: string): LineTest | null {
  const ts = [...new Set(terms(query))];
  if (ts.length === 0) return null;
  return (line) => {
    const lt = new Set(terms(line));
    return ts.some((t) => lt.has(t));
  };
}

/**
 * A path glob: `*` any run without `/`, `**` any run including `/`, `?` one character but `/`.
 * A glob without `/` is matched against the file's name in any directory (as in .gitignore).
 */
export function globMatcher(glob: string): (path: string) => boolean {
  if (glob.length === 0 || glob.length > 1024) throw new GitgateError('VALIDATION', { detail: 'path_glob must be 1 to 1024 characters' });
  let src = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        src += '(?:.*/)?';
      } else src += '.*';
    } else if (c === '*') src += '[^/]*';
    else if (c === '?') src += '[^/]';
    else src += RE2JS.quote(c);
  }
  const re = RE2JS.compile(`^(?:${src})$`, RE2JS.DOTALL);
  const basename = !glob.includes('/');
  return (path) => re.matcher(basename ? path.slice(path.lastIndexOf('/') + 1) : path).matches();
}

function clip(line: string): string {
  return line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line;
}

function matchLines(text: string, test: LineTest, context: number): LineMatch[] {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop(); // the final newline ends a line, it does not start one
  const out: LineMatch[] = [];
  for (let i = 0; i < lines.length && out.length < MAX_MATCHES_PER_FILE; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (!test(line)) continue;
    out.push({
      line_number: i + 1,
      line: clip(line),
      before: lines.slice(Math.max(0, i - context), i).map((l) => clip(l.replace(/\r$/, ''))),
      after: lines.slice(i + 1, i + 1 + context).map((l) => clip(l.replace(/\r$/, ''))),
    });
  }
  return out;
}

/**
 * Files best first: those with a literal (or regex) match, by BM25 score and then match count,
 * scored 1 + their BM25 score (0..1); then, for case-insensitive literal queries, files that only share terms
 * with the query, scored by BM25 alone, their matches being the lines holding those terms.
 */
export async function codeSearch(repo: Repository, opts: CodeSearchOptions): Promise<CodeSearchResult> {
  const deadline = Date.now() + (opts.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS);
  const maxResults = opts.max_results ?? DEFAULT_MAX_RESULTS;
  const context = opts.context_lines ?? DEFAULT_CONTEXT_LINES;
  const regex = opts.regex ?? false;
  const test = compile(opts.query, regex, opts.case_sensitive ?? false);
  const inGlob = opts.path_glob ? globMatcher(opts.path_glob) : () => true;
  const commit = await resolveReadCommit(repo, { commit: opts.hash, branch: opts.branch, reach: opts.reach });
  if (!commit) return { hash: '', results: [], truncated: false };

  const index = await indexFor(repo, await commitTree(repo, commit));
  const bm25 = new Map(rank(index, opts.query).map((r) => [r.doc, r.score]));
  const exact: (FileResult & { count: number; bm: number })[] = [];
  let truncated = false;
  for (let doc = 0; doc < index.paths.length; doc++) {
    if (!inGlob(index.paths[doc]!)) continue;
    if (Date.now() > deadline) {
      truncated = true;
      break;
    }
    const text = (await readObjectOfType(repo, index.blobs[doc]!, 'blob')).subarray(0, MAX_INDEXED_BYTES).toString('utf8');
    const matches = matchLines(text, test, context);
    if (matches.length === 0) continue;
    const bm = bm25.get(doc) ?? 0;
    exact.push({ filename: index.paths[doc]!, score: 1 + bm, matches, count: matches.length, bm });
  }
  exact.sort((a, b) => b.bm - a.bm || b.count - a.count || (a.filename < b.filename ? -1 : 1));
  const results: FileResult[] = exact.slice(0, maxResults).map(({ filename, score, matches }) => ({ filename, score: round(score), matches }));

  // term matches are case-insensitive by nature: only for plain, case-insensitive queries
  const byTerms = regex || opts.case_sensitive ? null : termTest(opts.query);
  if (byTerms && results.length < maxResults) {
    const seen = new Set(exact.map((e) => e.filename));
    const ranked = [...bm25].sort((a, b) => b[1] - a[1] || (index.paths[a[0]]! < index.paths[b[0]]! ? -1 : 1));
    for (const [doc, score] of ranked) {
      if (results.length >= maxResults) break;
      const filename = index.paths[doc]!;
      if (seen.has(filename) || !inGlob(filename)) continue;
      if (Date.now() > deadline) {
        truncated = true;
        break;
      }
      const text = (await readObjectOfType(repo, index.blobs[doc]!, 'blob')).subarray(0, MAX_INDEXED_BYTES).toString('utf8');
      results.push({ filename, score: round(score), matches: matchLines(text, byTerms, context) });
    }
  }
  return { hash: commit, results, truncated };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** How many files of a commit the lexical index holds (the SDK's embedding status). */
export async function indexStatus(repo: Repository, sel: { branch?: string | null; hash?: string | null; reach?: WantPolicy }): Promise<{ completed_embeddings: number; pending_embeddings: 0; hash: string }> {
  const commit = await resolveReadCommit(repo, { commit: sel.hash, branch: sel.branch, reach: sel.reach });
  if (!commit) return { completed_embeddings: 0, pending_embeddings: 0, hash: '' };
  const index = await indexFor(repo, await commitTree(repo, commit));
  return { completed_embeddings: index.paths.length, pending_embeddings: 0, hash: commit };
}
