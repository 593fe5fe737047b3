// Commit ancestry and a three-way tree merge at file granularity, for pulling a remote branch
// into a repository (Relace's RepoUpdateGit, "pull & merge"). A path changed differently on
// both sides is a conflict: gitgate does not merge file contents line by line.
import { GitgateError } from '../../errors.js';
import { hashObject, isTreeMode, parseCommit, serializeTree, type TreeEntry } from '../../repo/objects.js';
import type { Repository } from '../../repo/repository.js';
import { EMPTY_TREE, TREE_MODE, readObjectOfType, readTree, type PendingObject } from './tree.js';

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
 * A best common ancestor of `a` and `b` (null for unrelated histories): walking back from `a`
 * newest-first, the first commit that `b` also reaches. With criss-cross histories this is one
 * of several candidates, which is what a file-level merge needs.
 */
export async function mergeBase(repo: Repository, a: string, b: string): Promise<string | null> {
  const cache = new Map<string, CommitInfo>();
  const fromB = await ancestors(repo, b, cache);
  const queue: { oid: string; time: number }[] = [{ oid: a, time: (await commitInfo(repo, a, cache)).time }];
  const seen = new Set([a]);
  while (queue.length) {
    queue.sort((x, y) => y.time - x.time);
    const { oid } = queue.shift()!;
    if (fromB.has(oid)) return oid;
    for (const p of (await commitInfo(repo, oid, cache)).parents) {
      if (seen.has(p)) continue;
      seen.add(p);
      queue.push({ oid: p, time: (await commitInfo(repo, p, cache)).time });
    }
  }
  return null;
}

/**
 * Merge `ours` and `theirs` against `base` (tree ids; null = empty). Returns the merged tree and
 * the new tree objects to store; MERGE_CONFLICT names the paths changed differently on both sides.
 */
export async function mergeTrees(
  repo: Repository,
  base: string | null,
  ours: string,
  theirs: string,
  branch: string,
): Promise<{ tree: string; objects: PendingObject[] }> {
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
        conflicts.push(prefix + name);
        continue;
      }
      if (result) out.push(result);
    }
    if (out.length === 0) return null;
    const content = serializeTree(out);
    objects.push({ type: 'tree', content });
    return hashObject('tree', content);
  };

  const tree = (await merge(base, ours, theirs, '')) ?? EMPTY_TREE;
  if (conflicts.length) {
    const shown = conflicts.slice(0, 10).join(', ');
    throw new GitgateError('MERGE_CONFLICT', {
      branch,
      detail: `${conflicts.length} path${conflicts.length === 1 ? '' : 's'} changed on both sides: ${shown}${conflicts.length > 10 ? ', ...' : ''}`,
    });
  }
  if (tree === EMPTY_TREE) objects.push({ type: 'tree', content: Buffer.alloc(0) });
  return { tree, objects };
}
