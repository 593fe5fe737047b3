// Git sources: creating a repository from a remote branch (POST /v1/repo with source.type
// "git") and pulling a remote branch into one (POST /v1/repo/:id/update with source.type "git").
import { GitgateError } from '../../errors.js';
import type { Config } from '../../config.js';
import type { RepoRow } from '../../db/repos-table.js';
import type { Repository } from '../../repo/repository.js';
import type { Services } from '../services.js';
import { openBranch, wantPolicy } from './branch.js';
import { moveBranch, writeCommit } from './commit.js';
import { RequestPolicy } from '../../net/request-policy.js';
import { checkDestination, fetchBranch, parseRemoteUrl, type RemoteSource } from './git-remote.js';
import { ancestors, mergeBase, mergeConflict, mergeTrees } from './merge.js';
import { EMPTY_TREE, commitTree, diffTrees, parseCommitId, writeObjects } from './tree.js';
import { currentHead, type UpdateResult, type WriteOptions } from './update.js';

/** The import limit (GITGATE_MAX_IMPORT_BYTES, default 1 GiB). */
export function maxImportBytes(config: Config): number {
  return config.maxImportBytes;
}

const policies = new WeakMap<Config, RequestPolicy>();

/** The request policy for git sources: public addresses plus GITGATE_IMPORT_ALLOW_NETWORKS. */
export function sourcePolicy(config: Config): RequestPolicy {
  let policy = policies.get(config);
  if (!policy) policies.set(config, (policy = new RequestPolicy(config.importAllowNetworks)));
  return policy;
}

/** 400 for a URL that is malformed or refused by the policy, before anything is created or sent. */
export function checkGitSource(config: Config, source: RemoteSource): void {
  checkDestination(parseRemoteUrl(source.url), sourcePolicy(config));
}

export interface GitSourceInput extends RemoteSource {
  /** Relace's optional `hash`: start the repository at this commit of the branch instead of its tip. */
  hash?: string | null;
}

/**
 * Fill a freshly created, empty repository from a remote branch: the branch's commits are
 * fetched verbatim (same ids) and the repository's default branch points at its tip (or at
 * `hash`). Returns the new head; null when the remote is empty.
 */
export async function importGitSource(ctx: Services, repo: Repository, defaultBranch: string, source: GitSourceInput): Promise<string | null> {
  checkGitSource(ctx.config, source); // 400 before any network traffic
  const hash = source.hash ? parseCommitId(source.hash, 'source.hash') : null;
  const fetched = await fetchBranch(repo, source, { policy: sourcePolicy(ctx.config), maxBytes: maxImportBytes(ctx.config) });
  if (!fetched.oid) {
    if (hash) throw new GitgateError('VALIDATION', { detail: 'source.hash was given but the source repository is empty' });
    return null;
  }
  let head = fetched.oid;
  if (hash) {
    const info = await repo.objects.readType(hash);
    if (!info || info.type !== 'commit' || !(await ancestors(repo, fetched.oid)).has(hash)) {
      throw new GitgateError('VALIDATION', { detail: `source.hash ${hash} is not a commit on the source branch` });
    }
    head = hash;
  }
  const info = await repo.objects.readType(head);
  if (info?.type !== 'commit') throw new GitgateError('VALIDATION', { detail: 'the source branch does not point at a commit' });
  await moveBranch(ctx.audit, repo, `refs/heads/${defaultBranch}`, null, head);
  return head;
}

/**
 * Relace's RepoUpdateGit ("pull & merge"): fetch the remote branch, then fast-forward the write
 * branch (opts.branch, else HEAD's) to it, or — when both sides have new commits — make one
 * merge commit (three-way, line by line inside text files; 409 MERGE_CONFLICT when changes
 * overlap). Already merged: no change (a missing branch is still created at its base). The
 * fetch runs outside the repository lock; only the branch move holds it.
 */
export async function pullGitSource(ctx: Services, row: RepoRow, source: RemoteSource, opts: Pick<WriteOptions, 'checkBranch' | 'branch' | 'base' | 'expectedHead'> = {}): Promise<UpdateResult> {
  const ep = parseRemoteUrl(source.url);
  checkDestination(ep, sourcePolicy(ctx.config));
  const repo = ctx.manager.get(row.id);
  const before = (await openBranch(repo, row, { ...opts, expectedHead: null }, wantPolicy(ctx))).start;
  const fetched = await fetchBranch(repo, source, { policy: sourcePolicy(ctx.config), maxBytes: maxImportBytes(ctx.config), haves: before ? [before] : [] });
  if (!fetched.oid) {
    if (source.branch) throw new GitgateError('SOURCE_BRANCH_NOT_FOUND', { branch: source.branch, url: ep.display });
    return { repo_id: row.id, ...(await currentHead(repo, row, opts.branch)), changed_files: [] };
  }
  const theirs = fetched.oid;
  const theirsInfo = await repo.objects.readType(theirs);
  if (theirsInfo?.type !== 'commit') throw new GitgateError('VALIDATION', { detail: 'the source branch does not point at a commit' });

  return repo.tryLock(async () => {
    const { ref, name: branchName, head, start } = await openBranch(repo, row, opts, wantPolicy(ctx), opts.checkBranch);
    const done = async (newHead: string | null, changed: string[]) => {
      if (newHead !== null && newHead !== head) await moveBranch(ctx.audit, repo, ref, head, newHead);
      if (newHead !== head) await ctx.repos.touch(row.id);
      return { repo_id: row.id, branch: branchName, repo_head: newHead, changed_files: changed };
    };
    if (start === theirs) return done(start, []);
    let newHead: string;
    let newTree: string;
    if (start === null) {
      newHead = theirs;
      newTree = await commitTree(repo, theirs);
    } else {
      const base = await mergeBase(repo, start, theirs);
      if (base === theirs) return done(start, []); // already merged
      if (base === start) {
        newHead = theirs; // fast-forward
        newTree = await commitTree(repo, theirs);
      } else {
        const merged = await mergeTrees(repo, base ? await commitTree(repo, base) : null, await commitTree(repo, start), await commitTree(repo, theirs));
        if (merged.conflicts.length) throw mergeConflict('the source', branchName, merged.conflicts);
        await writeObjects(repo, merged.objects);
        newTree = merged.tree;
        const from = fetched.branch ? `branch '${fetched.branch}' of ${ep.display}` : ep.display;
        newHead = await writeCommit(ctx, repo, { tree: newTree, parents: [start, theirs], message: `Merge ${from} into ${branchName}` });
      }
    }
    const changes = await diffTrees(repo, start ? await commitTree(repo, start) : null, newTree === EMPTY_TREE ? null : newTree);
    return done(newHead, changes.map((c) => c.path));
  });
}
