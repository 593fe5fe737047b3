// Commit ancestry and the three-way tree merge behind POST /v1/repo/:id/merge and pulls from a
// remote branch (Relace's RepoUpdateGit, "pull & merge"): trees path by path, text files changed
// on both sides line by line (diff3.ts).
import { GitgateError } from '../../errors.js';
import { redactSecrets } from '../../redact.js';
import { hashObject } from '../../pack/types.js';
import { isTreeMode, serializeTree, type TreeEntry } from '../../repo/objects/tree.js';
import { parseCommit } from '../../repo/objects/commit.js';
import type { Repository } from '../../repo/repository.js';
import { merge3 } from './diff3.js';
import { EMPTY_TREE, TREE_MODE, isBinary, isRegularFileMode, readObjectOfType, readTree, type PendingObject } from './tree.js';

interface CommitInfo {
  parents: string[];
  time: number;
}

async function commitInfo(repo: Repository, oid: string, cache: Map<string, CommitInfo>): Promise<CommitInfo> {
  let info = cache.get(oid);
  if (!info) {
    const c = parseCommit(await readObjectOfType(repo, oid, 'commit'));
    const m = /(\d+) [+-]\d{4}$/.exec(c.committer);
    info = { parents: c.parents, time: m ? Number(m[1]) : 0 };
    cache.set(oid, info);
  }
  return info;
}

/** Every commit reachable from `start`, itself included. */
export async function ancestors(repo: Repository, start: string, cache = new Map<string, CommitInfo>()): Promise<Set<string>> {
  const seen = new Set([start]);
  const stack = [start];
  while (stack.length) {
    for (const p of (await commitInfo(repo, stack.pop()!, cache)).parents) {
      if (!seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return seen;
}

/**
 * The merge base of `a` and `b` (null for unrelated histories): of the common ancestors that are
 * not ancestors of another common ancestor (the "best" ones, `git merge-base --all`), the
 * newest by committer date, ties broken by commit id. Criss-cross histories have several; this
 * picks one, as `git merge-base` prints one, and does not merge them into a virtual base.
 */
export async function mergeBase(repo: Repository, a: string, b: string): Promise<string | null> {
  const cache = new Map<string, CommitInfo>();
  const [fromA, fromB] = await Promise.all([ancestors(repo, a, cache), ancestors(repo, b, cache)]);
  const common = [...fromA].filter((c) => fromB.has(c));
  // an ancestor of a common commit is common too, so the redundant ones are exactly the parents of common commits
  const redundant = new Set<string>();
  for (const c of common) for (const p of (await commitInfo(repo, c, cache)).parents) redundant.add(p);
  const best = common.filter((c) => !redundant.has(c));
  if (best.length === 0) return null;
  const time = (c: string) => cache.get(c)!.time;
  best.sort((x, y) => time(y) - time(x) || (x < y ? -1 : 1));
  return best[0]!;
}

/** Text files merged line by line are at most this big (each side); larger ones changed on both sides conflict. */
const MAX_MERGE_FILE_BYTES = 16 * 1024 * 1024;

export interface TreeMerge {
  tree: string;
  /** New trees and merged blobs, to store when the merge is used. */
  objects: PendingObject[];
  /** Paths changed incompatibly on both sides, in tree order. */
  conflicts: string[];
}

/**
 * Merge `ours` and `theirs` against `base` (tree ids; null = empty). Per path: unchanged on one
 * side takes the other; the same change on both is kept; a regular text file changed on both
 * is merged line by line (diff3); anything else changed on both sides (binary files, symlinks,
 * submodules, modify/delete, file/directory) is a conflict. No rename detection.
 */
export async function mergeTrees(repo: Repository, base: string | null, ours: string, theirs: string): Promise<TreeMerge> {
  const objects: PendingObject[] = [];
  const conflicts: string[] = [];
  const same = (x: TreeEntry | undefined, y: TreeEntry | undefined) =>
    x === y || (!!x && !!y && x.oid === y.oid && isTreeMode(x.mode) === isTreeMode(y.mode) && (isTreeMode(x.mode) || x.mode === y.mode));

  const merge = async (b: string | null, o: string | null, t: string | null, prefix: string): Promise<string | null> => {
    if (o === t) return o;
    if (o === b) return t;
    if (t === b) return o;
    const load = async (oid: string | null) => new Map((oid && oid !== EMPTY_TREE ? await readTree(repo, oid) : []).map((e) => [e.name, e]));
    const [B, O, T] = await Promise.all([load(b), load(o), load(t)]);
    const out: TreeEntry[] = [];
    for (const name of new Set([...O.keys(), ...T.keys(), ...B.keys()])) {
      const eb = B.get(name);
      const eo = O.get(name);
      const et = T.get(name);
      let result: TreeEntry | undefined;
      if (same(eo, et)) result = eo;
      else if (same(eo, eb)) result = et;
      else if (same(et, eb)) result = eo;
      else if (eo && et && isTreeMode(eo.mode) && isTreeMode(et.mode) && (!eb || isTreeMode(eb.mode))) {
        const oid = await merge(eb ? eb.oid : null, eo.oid, et.oid, `${prefix}${name}/`);
        result = oid === null ? undefined : { mode: TREE_MODE, name, oid };
      } else {
        const merged = eb && eo && et ? await mergeFile(repo, eb, eo, et, objects) : null;
        if (!merged) {
          conflicts.push(prefix + name);
          continue;
        }
        result = merged;
      }
      if (result) out.push(result);
    }
    if (out.length === 0) return null;
    const content = serializeTree(out);
    objects.push({ type: 'tree', content });
    return hashObject('tree', content).toString('hex');
  };

  const tree = (await merge(base, ours, theirs, '')) ?? EMPTY_TREE;
  if (tree === EMPTY_TREE) objects.push({ type: 'tree', content: Buffer.alloc(0) });
  return { tree, objects, conflicts: conflicts.sort() };
}

/** One side changed the mode, or both the same way: that mode; else null. */
function mergeMode(base: string, ours: string, theirs: string): string | null {
  if (ours === theirs || theirs === base) return ours;
  if (ours === base) return theirs;
  return null;
}

/** A regular text file changed on both sides, merged line by line; null for a conflict. */
async function mergeFile(repo: Repository, eb: TreeEntry, eo: TreeEntry, et: TreeEntry, objects: PendingObject[]): Promise<TreeEntry | null> {
  if (![eb, eo, et].every((e) => isRegularFileMode(e.mode))) return null;
  const mode = mergeMode(eb.mode, eo.mode, et.mode);
  if (!mode) return null;
  if (eo.oid === et.oid || et.oid === eb.oid) return { ...eo, mode };
  if (eo.oid === eb.oid) return { ...et, mode };
  for (const e of [eb, eo, et]) {
    const info = await repo.objects.readType(e.oid);
    if (!info || info.size > MAX_MERGE_FILE_BYTES) return null;
  }
  const [base, ours, theirs] = await Promise.all([eb, eo, et].map((e) => readObjectOfType(repo, e.oid, 'blob')));
  if ([base!, ours!, theirs!].some(isBinary)) return null;
  const merged = merge3(base!.toString('utf8'), ours!.toString('utf8'), theirs!.toString('utf8'));
  if (!merged.clean) return null;
  const content = Buffer.from(merged.text, 'utf8');
  objects.push({ type: 'blob', content });
  return { mode, name: eo.name, oid: hashObject('blob', content).toString('hex') };
}

/** 409 MERGE_CONFLICT naming the paths (all of them in `conflicts`, the first ten in the message). */
export function mergeConflict(source: string, branch: string, conflicts: string[]): GitgateError {
  const shown = conflicts.slice(0, 10).join(', ');
  const n = conflicts.length;
  return new GitgateError(
    'MERGE_CONFLICT',
    { source, branch, detail: `${n} path${n === 1 ? '' : 's'} changed on both sides: ${shown}${n > 10 ? ', ...' : ''}` },
    { details: { conflicts: conflicts.slice(0, MAX_LISTED_CONFLICTS).map(redactSecrets) } }, // like every echoed parameter
  );
}

const MAX_LISTED_CONFLICTS = 1000;
