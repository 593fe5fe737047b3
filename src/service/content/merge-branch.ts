// POST /v1/repo/:id/merge: merge `head` (a branch, tag or commit) into the branch `base`, as a
// merge commit (always, like GitHub's merge button), a squash commit, or a fast-forward. All of
// it under the repository lock: the ref rules run first, nothing is written on a conflict, and
// `base` (with `head`, for delete_head) moves by one atomic compare-and-swap.
import { GitgateError } from '../../errors.js';
import type { RepoRow } from '../../db/repos-table.js';
import type { Services } from '../services.js';
import { branchRef, lookupCommitish, shortBranch, wantPolicy } from './branch.js';
import { moveRefs, writeCommit, type RefMove } from './commit.js';
import { mergeBase, mergeConflict, mergeTrees } from './merge.js';
import { parseCommit } from '../../repo/objects/commit.js';
import { commitTree, diffTrees, readObjectOfType, writeObjects, type PendingObject } from './tree.js';

export type MergeMethod = 'merge' | 'squash' | 'fast-forward';

export interface MergeRequest {
  base: string;
  head: string;
  method: MergeMethod;
  message?: string | null;
  deleteHead?: boolean;
  /** The commit `head` must still be at (what the caller reviewed). */
  expectedHead?: string | null;
  /** The commit `base` must still be at. */
  expectedBase?: string | null;
}

export interface MergeChecks {
  /** Runs under the lock before anything is read or written: may the caller make these ref changes? */
  checkRefs?: (changes: { ref: string; change: 'update' | 'delete' }[]) => void | Promise<void>;
}

export interface MergeDone {
  repo_id: string;
  branch: string;
  repo_head: string;
  method: MergeMethod;
  parents: string[];
  merge_base: string | null;
  changed_files: string[];
  head_deleted: boolean;
}

/** null: nothing to merge (head is already in base, or a squash would change nothing). */
export async function mergeBranches(ctx: Services, row: RepoRow, req: MergeRequest, checks: MergeChecks = {}): Promise<MergeDone | null> {
  const baseRef = branchRef(req.base);
  const repo = ctx.manager.get(row.id);
  return repo.tryLock(async () => {
    await checks.checkRefs?.([{ ref: baseRef, change: 'update' }]); // before anything about the repository is told
    const baseHead = await repo.refs.resolve(baseRef);
    if (!baseHead) throw new GitgateError('BRANCH_NOT_FOUND', { branch: req.base.slice(0, 200) });
    const head = await lookupCommitish(repo, req.head, wantPolicy(ctx));
    if (!head) throw new GitgateError('BRANCH_NOT_FOUND', { branch: req.head.slice(0, 200) });
    if (req.expectedBase && baseHead !== req.expectedBase.toLowerCase()) throw new GitgateError('STALE_REF', { ref: baseRef, expected: req.expectedBase });
    if (req.expectedHead && head.commit !== req.expectedHead.toLowerCase()) {
      throw new GitgateError('STALE_REF', { ref: head.ref ?? req.head.slice(0, 200), expected: req.expectedHead });
    }
    const headRef = req.deleteHead ? deletableHead(await repo.headTarget(), head.ref, baseRef) : null;
    if (headRef) await checks.checkRefs?.([{ ref: headRef, change: 'delete' }]);

    const base = await mergeBase(repo, baseHead, head.commit);
    if (base === head.commit) return null; // already merged
    const baseTree = await commitTree(repo, baseHead);
    const headTree = await commitTree(repo, head.commit);
    const into = shortBranch(baseRef);
    let newHead: string;
    let tree: string;
    let parents: string[];
    if (req.method === 'fast-forward') {
      if (base !== baseHead) throw new GitgateError('NOT_FAST_FORWARD', { branch: into, head: req.head.slice(0, 200) });
      [newHead, tree] = [head.commit, headTree];
      parents = parseCommit(await readObjectOfType(repo, head.commit, 'commit')).parents;
    } else {
      let objects: PendingObject[] = [];
      if (base === baseHead) tree = headTree; // base is behind: nothing of its own to merge
      else {
        const merged = await mergeTrees(repo, base ? await commitTree(repo, base) : null, baseTree, headTree);
        if (merged.conflicts.length) throw mergeConflict(`'${req.head.slice(0, 200)}'`, into, merged.conflicts);
        ({ tree, objects } = merged);
      }
      if (req.method === 'squash' && tree === baseTree) return null;
      await writeObjects(repo, objects);
      parents = req.method === 'merge' ? [baseHead, head.commit] : [baseHead];
      newHead = await writeCommit(ctx, repo, { tree, parents, message: req.message ?? defaultMessage(req.method, head, into) });
    }
    const moves: RefMove[] = [{ ref: baseRef, oldOid: baseHead, newOid: newHead }];
    if (headRef) moves.push({ ref: headRef, oldOid: head.commit, newOid: null });
    await moveRefs(ctx.audit, repo, moves, 'merge');
    await ctx.repos.touch(row.id);
    const changed = await diffTrees(repo, baseTree, tree);
    return {
      repo_id: row.id,
      branch: into,
      repo_head: newHead,
      method: req.method,
      parents,
      merge_base: base,
      changed_files: changed.map((c) => c.path),
      head_deleted: headRef !== null,
    };
  });
}

/** delete_head needs `head` to be a branch other than `base` and not HEAD's (receive-pack's
 *  "deletion of the current branch prohibited"). */
function deletableHead(current: string | null, ref: string | null, baseRef: string): string {
  if (!ref || !ref.startsWith('refs/heads/')) throw new GitgateError('VALIDATION', { detail: 'delete_head needs head to be a branch' });
  if (ref === baseRef) throw new GitgateError('VALIDATION', { detail: 'delete_head: head and base are the same branch' });
  if (ref === current) throw new GitgateError('VALIDATION', { detail: `delete_head: ${shortBranch(ref)} is the repository's current branch (HEAD)` });
  return ref;
}

/** git's wording: Merge branch 'x' / tag 'v1' / commit '<id>' into base. */
function defaultMessage(method: MergeMethod, head: { commit: string; ref: string | null }, into: string): string {
  const { ref } = head;
  const what = ref?.startsWith('refs/heads/') ? `branch '${shortBranch(ref)}'` : ref?.startsWith('refs/tags/') ? `tag '${ref.slice(10)}'` : `commit '${head.commit}'`;
  return method === 'squash' ? `Squash ${what} into ${into}` : `Merge ${what} into ${into}`;
}
