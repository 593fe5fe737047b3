// Which branch a REST write moves and where a new one starts: `branch` (default HEAD's
// branch), `base` (branch, tag or commit a missing branch is created from; default HEAD) and
// `expected_head` (the write's lease: the branch must still be at that commit).
import { GitgateError } from '../../errors.js';
import type { WantPolicy } from '../../protocol/fetch-core.js';
import { peelToCommit } from '../../repo/ancestry.js';
import { isOid } from '../../oid.js';
import { isValidRefName } from '../../repo/ref-names.js';
import type { Repository } from '../../repo/repository.js';
import type { RepoRow } from '../../db/repos-table.js';
import type { Services } from '../services.js';
import { isReachable } from '../revision.js';
import { writeBranch } from './commit.js';

export interface BranchSelector {
  /** Short (agent/x) or full (refs/heads/agent/x) branch name; null: HEAD's branch. */
  branch?: string | null;
  /** What a missing branch starts from; null: HEAD. Ignored when the branch exists. */
  base?: string | null;
  /** The commit the caller based its change on: 409 STALE_REF when the branch is elsewhere. */
  expectedHead?: string | null;
}

export interface BranchTarget {
  ref: string;
  /** The short name reported back (`branch` in responses). */
  name: string;
  /** The branch's commit now; null when the write creates it. */
  head: string | null;
  /** The commit the change applies to: head, or for a new branch its base (null: no commit at all). */
  start: string | null;
}

/** refs/heads/<name> for a short or full branch name; 400 BAD_REF_NAME when git would refuse it. */
export function branchRef(name: string): string {
  const ref = name.startsWith('refs/heads/') ? name : `refs/heads/${name}`;
  if (name.startsWith('refs/') && !name.startsWith('refs/heads/')) throw new GitgateError('BAD_REF_NAME', { ref: name.slice(0, 200) });
  if (!isValidRefName(ref)) throw new GitgateError('BAD_REF_NAME', { ref: name.slice(0, 200) });
  return ref;
}

export function shortBranch(ref: string): string {
  return ref.replace(/^refs\/heads\//, '');
}

/** Refs a name may mean, in C Git's rev-parse order (tags before branches). */
function candidates(name: string): string[] {
  if (name === 'HEAD') return ['HEAD'];
  if (name.startsWith('refs/')) return [name];
  return [`refs/${name}`, `refs/tags/${name}`, `refs/heads/${name}`];
}

/**
 * The commit a branch, tag (peeled), full ref or full commit id names, and the ref it was found
 * through (null for a commit id); null when it names nothing. A commit id must be reachable
 * from a ref, as a fetch's want must: a branch made from it would otherwise serve objects a
 * deleted branch left behind (unless GITGATE_ALLOW_ANY_SHA1_IN_WANT).
 */
export async function lookupCommitish(repo: Repository, name: string, policy: WantPolicy): Promise<{ commit: string; ref: string | null } | null> {
  const lower = name.toLowerCase();
  if (isOid(lower)) {
    const info = await repo.objects.readType(lower);
    const commit = !info ? null : info.type === 'commit' ? lower : await peelToCommit(repo.objects, lower);
    if (commit && (await isReachable(repo, lower, policy))) return { commit, ref: null };
  }
  for (const ref of candidates(name)) {
    if (ref !== 'HEAD' && !isValidRefName(ref)) continue;
    const oid = await repo.refs.resolve(ref);
    if (!oid) continue;
    const commit = await peelToCommit(repo.objects, oid);
    return commit ? { commit, ref: ref === 'HEAD' ? await repo.headTarget() : ref } : null;
  }
  return null;
}

/** lookupCommitish's commit, or 404 COMMIT_NOT_FOUND. */
export async function resolveCommitish(repo: Repository, name: string, policy: WantPolicy): Promise<string> {
  const found = await lookupCommitish(repo, name, policy);
  if (!found) throw new GitgateError('COMMIT_NOT_FOUND', { commit: name.slice(0, 200) });
  return found.commit;
}

/** The ref a write to `row` moves (validated, nothing read but HEAD). */
export async function targetRef(repo: Repository, row: RepoRow, branch: string | null | undefined): Promise<string> {
  return branch ? branchRef(branch) : writeBranch(repo, row);
}

/** Where the write goes and what it starts from. Call under the repository lock; `check` (the
 *  caller's ref rules) runs before the lease or the base are looked at. */
export async function openBranch(
  repo: Repository,
  row: RepoRow,
  sel: BranchSelector,
  policy: WantPolicy,
  check?: (ref: string, exists: boolean) => void | Promise<void>,
): Promise<BranchTarget> {
  const ref = await targetRef(repo, row, sel.branch);
  const head = await repo.refs.resolve(ref);
  await check?.(ref, head !== null);
  if (sel.expectedHead && head !== sel.expectedHead.toLowerCase()) {
    throw new GitgateError('STALE_REF', { ref, expected: sel.expectedHead.toLowerCase() });
  }
  let start = head;
  if (head === null) start = sel.base ? await resolveCommitish(repo, sel.base, policy) : await repo.refs.resolve('HEAD');
  return { ref, name: shortBranch(ref), head, start };
}

/** Which commit ids a REST call may name: those a ref reaches, or any with GITGATE_ALLOW_ANY_SHA1_IN_WANT. */
export function wantPolicy(ctx: Services): WantPolicy {
  return { allowAnySha1InWant: ctx.config.allowAnySha1InWant };
}
