// Lexical retrieval for POST /v1/repo/:id/retrieve: BM25 over each text file's contents plus a
// weighted BM25 over its path. Identifiers are split on camelCase, '_', '-', '.', '/' (and any
// other punctuation); the whole identifier is kept as a term too, so an exact name match
// counts extra. Scores are normalised to 0..1 by dividing by the best match's score.
//
// An index is built per tree (commits sharing a tree share it) and kept in an LRU bounded by
// bytes; the terms of each blob are cached by blob id, so the index of a commit that changed a
// few files is rebuilt from cached blobs without re-reading them.
import { ByteLru, BytePool } from '../../pack/lru-cache.js';
import type { Repository } from '../../repo/repository.js';
import { commitTree, isBinary, isRegularFileMode, listFiles, readObjectOfType, resolveReadCommit, type CommitSelector } from './tree.js';

export const K1 = 1.2;
export const B = 0.75;
/** A query term in a file's path counts this many times as much as in its contents. */
export const PATH_WEIGHT = 2;
/** Only the start of very large files is indexed. */
export const MAX_INDEXED_BYTES = 1024 * 1024;
export const DEFAULT_SCORE_THRESHOLD = 0.3;
export const DEFAULT_TOKEN_LIMIT = 30_000;
export const MAX_RESULTS = 1000;
/** The estimate behind token_limit: about four characters per token. */
export const CHARS_PER_TOKEN = 4;

const STOP_WORDS = new Set(
  'a an and are as at be but by can do does for from has have how i if in into is it its me my no not of on or our so than that the their then there these this those to was we were what when where which who why will with you your'.split(' '),
);

function stem(term: string): string {
  // plural 's' only: "handlers" finds "handler"; "class", "status", "this" are left alone
  if (term.length > 3 && term.endsWith('s') && !/(ss|us|is)$/.test(term)) return term.slice(0, -1);
  return term;
}

const IDENT = /[A-Za-z0-9_$]+/g;
const PART = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g;

/** Terms of a text: identifier parts (lowercase, lightly stemmed) and whole multi-part identifiers. */
export function tokenize(text: string, emit: (term: string) => void): void {
  for (const m of text.matchAll(IDENT)) {
    const ident = m[0];
    const parts = ident.match(PART);
    if (!parts) continue;
    for (const p of parts) {
      const t = p.toLowerCase();
      if (t.length < 2 && !/[0-9]/.test(t)) continue;
      if (STOP_WORDS.has(t)) continue;
      emit(stem(t));
    }
    if (parts.length > 1) {
      const whole = parts.join('').toLowerCase();
      if (whole.length <= 64) emit(whole);
    }
  }
}

export function terms(text: string): string[] {
  const out: string[] = [];
  tokenize(text, (t) => out.push(t));
  return out;
}

function termCounts(text: string): Map<string, number> {
  const tf = new Map<string, number>();
  tokenize(text, (t) => tf.set(t, (tf.get(t) ?? 0) + 1));
  return tf;
}

// ---------------------------------------------------------------------------------------------
// index

interface BlobTerms {
  /** null for binary blobs (not searchable) */
  tf: Map<string, number> | null;
  length: number;
  bytes: number;
}

interface Posting {
  docs: number[];
  tfContent: number[];
  tfPath: number[];
}

export interface SearchIndex {
  tree: string;
  paths: string[];
  blobs: string[];
  contentLength: Float64Array;
  pathLength: Float64Array;
  avgContent: number;
  avgPath: number;
  postings: Map<string, Posting>;
  bytes: number;
}

// One budget (GITGATE_SEARCH_CACHE_BYTES), empty until configured: a third for blob terms, the rest for indexes.
const blobPool = new BytePool(0, 1 / 8);
const indexPool = new BytePool(0, 1 / 2);
const blobCache = new ByteLru<string, BlobTerms>(blobPool);
const indexCache = new ByteLru<string, SearchIndex>(indexPool);

/** The pools behind the search caches (idle release, metrics). */
export const searchPools: readonly BytePool[] = [blobPool, indexPool];

/** Set the search caches' byte budget (configuration). */
export function setSearchCacheBytes(bytes: number): void {
  blobPool.resize(Math.floor(bytes / 3));
  indexPool.resize(bytes - Math.floor(bytes / 3));
}
const building = new Map<string, Promise<SearchIndex>>();

/** For tests: how many indexes were built (cache misses) since the process started. */
export const searchStats = { indexBuilds: 0, blobReads: 0 };

export function clearSearchCaches(): void {
  blobCache.clear();
  indexCache.clear();
}

async function blobTerms(repo: Repository, oid: string): Promise<BlobTerms> {
  const cached = blobCache.get(oid);
  if (cached) return cached;
  searchStats.blobReads++;
  const content = await readObjectOfType(repo, oid, 'blob');
  let entry: BlobTerms;
  if (isBinary(content)) entry = { tf: null, length: 0, bytes: 64 };
  else {
    const text = content.subarray(0, MAX_INDEXED_BYTES).toString('utf8');
    const tf = termCounts(text);
    let length = 0;
    let bytes = 64;
    for (const [t, n] of tf) {
      length += n;
      bytes += t.length * 2 + 48;
    }
    entry = { tf, length, bytes };
  }
  blobCache.set(oid, entry);
  return entry;
}

/** The index of a tree, from the cache or built now (concurrent requests share one build). */
export async function indexFor(repo: Repository, tree: string): Promise<SearchIndex> {
  const cached = indexCache.get(tree);
  if (cached) return cached;
  let pending = building.get(tree);
  if (!pending) {
    pending = buildIndex(repo, tree).finally(() => building.delete(tree));
    building.set(tree, pending);
  }
  return pending;
}

async function buildIndex(repo: Repository, tree: string): Promise<SearchIndex> {
  searchStats.indexBuilds++;
  const paths: string[] = [];
  const blobs: string[] = [];
  const contentLengths: number[] = [];
  const pathLengths: number[] = [];
  const postings = new Map<string, Posting>();
  let bytes = 0;
  for (const file of await listFiles(repo, tree)) {
    if (!isRegularFileMode(file.mode)) continue;
    const bt = await blobTerms(repo, file.oid);
    if (!bt.tf) continue;
    const doc = paths.length;
    paths.push(file.path);
    blobs.push(file.oid);
    contentLengths.push(bt.length);
    const pathTf = termCounts(file.path);
    let pathLength = 0;
    for (const n of pathTf.values()) pathLength += n;
    pathLengths.push(pathLength);
    bytes += file.path.length * 2 + 96;
    const add = (term: string, content: number, path: number) => {
      let p = postings.get(term);
      if (!p) {
        p = { docs: [], tfContent: [], tfPath: [] };
        postings.set(term, p);
        bytes += term.length * 2 + 96;
      }
      p.docs.push(doc);
      p.tfContent.push(content);
      p.tfPath.push(path);
      bytes += 24;
    };
    for (const [term, n] of bt.tf) add(term, n, pathTf.get(term) ?? 0);
    for (const [term, n] of pathTf) if (!bt.tf.has(term)) add(term, 0, n);
  }
  const n = paths.length;
  const index: SearchIndex = {
    tree,
    paths,
    blobs,
    contentLength: Float64Array.from(contentLengths),
    pathLength: Float64Array.from(pathLengths),
    avgContent: n ? contentLengths.reduce((a, b) => a + b, 0) / n : 0,
    avgPath: n ? pathLengths.reduce((a, b) => a + b, 0) / n : 0,
    postings,
    bytes,
  };
  indexCache.set(tree, index);
  return index;
}

/** BM25 with a weighted path field, normalised so the best document scores 1. */
export function rank(index: SearchIndex, query: string): { doc: number; score: number }[] {
  const qterms = [...new Set(terms(query))];
  const n = index.paths.length;
  const scores = new Map<number, number>();
  for (const term of qterms) {
    const p = index.postings.get(term);
    if (!p) continue;
    const df = p.docs.length;
    const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
    for (let i = 0; i < df; i++) {
      const doc = p.docs[i]!;
      const tc = p.tfContent[i]!;
      const tp = p.tfPath[i]!;
      const nc = 1 - B + (B * index.contentLength[doc]!) / (index.avgContent || 1);
      const np = 1 - B + (B * index.pathLength[doc]!) / (index.avgPath || 1);
      const sc = tc ? (tc * (K1 + 1)) / (tc + K1 * nc) : 0;
      const sp = tp ? (tp * (K1 + 1)) / (tp + K1 * np) : 0;
      scores.set(doc, (scores.get(doc) ?? 0) + idf * (sc + PATH_WEIGHT * sp));
    }
  }
  let best = 0;
  for (const s of scores.values()) best = Math.max(best, s);
  if (best <= 0) return [];
  return [...scores]
    .map(([doc, s]) => ({ doc, score: s / best }))
    .filter((r) => r.score > 0)
    .sort((a, b) => b.score - a.score || (index.paths[a.doc]! < index.paths[b.doc]! ? -1 : 1));
}

export interface RetrieveOptions extends CommitSelector {
  query: string;
  /** Relace's name for the commit to search. */
  hash?: string | null;
  include_content?: boolean;
  score_threshold?: number;
  token_limit?: number;
}

export interface RetrieveResult {
  hash: string;
  pending_embeddings: 0;
  results: { filename: string; score: number; content?: string }[];
}

/**
 * Search a commit (HEAD, `branch` or `hash`). Results above `score_threshold` (default 0.3),
 * best first, at most 1000. With `include_content`, results are taken best-first while their
 * contents fit `token_limit` (default 30000, about 4 characters per token): the first result
 * that would exceed it ends the list. `hash` is the commit searched ('' for an empty repository).
 */
export async function retrieve(repo: Repository, opts: RetrieveOptions): Promise<RetrieveResult> {
  const commit = await resolveReadCommit(repo, { commit: opts.hash ?? opts.commit, branch: opts.branch, reach: opts.reach });
  if (!commit) return { hash: '', pending_embeddings: 0, results: [] };
  const index = await indexFor(repo, await commitTree(repo, commit));
  const threshold = opts.score_threshold ?? DEFAULT_SCORE_THRESHOLD;
  const ranked = rank(index, opts.query).filter((r) => r.score >= threshold).slice(0, MAX_RESULTS);
  const results: RetrieveResult['results'] = [];
  let budget = opts.token_limit ?? DEFAULT_TOKEN_LIMIT;
  for (const r of ranked) {
    const filename = index.paths[r.doc]!;
    const score = Math.round(r.score * 1e6) / 1e6;
    if (!opts.include_content) {
      results.push({ filename, score });
      continue;
    }
    const content = (await readObjectOfType(repo, index.blobs[r.doc]!, 'blob')).toString('utf8');
    const cost = Math.ceil(content.length / CHARS_PER_TOKEN);
    if (cost > budget) break;
    budget -= cost;
    results.push({ filename, score, content });
  }
  return { hash: commit, pending_embeddings: 0, results };
}
