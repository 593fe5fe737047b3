// What a token may do, once: the authorisation and ref rules of the acts that both the REST
// routes and the MCP tools (http/mcp/) offer, each followed by the service call. A route or a
// tool parses its input, then calls one of these; neither checks rules of its own.
import type { TokenRecord } from '../auth/token-record.js';
import { refUpdateRefusal } from '../auth/ref-policy.js';
import type { RepoRow } from '../db/repos-table.js';
import { GitgateError } from '../errors.js';
import type { Services } from '../service/services.js';
import { mergeBranches, type MergeDone, type MergeRequest } from '../service/content/merge-branch.js';
import { applyContentChange, type ContentChange, type UpdateResult, type WriteOptions } from '../service/content/update.js';
import { forkRepo } from '../service/fork.js';
import { createRepo, describeRepo, type RepoInfo, type RepoMetadata } from '../service/repo-service.js';
import { requireControlPlane, resolveRepo } from './auth.js';
import { assertRestBranchWrite, assertRestRefChange, assertRestRefWrite } from './ref-checks.js';

export interface CreateRepoRequest {
  name?: string | null;
  metadata?: Record<string, string> | null;
  source?:
    | { type: 'files'; files: { filename: string; content: string }[] }
    | { type: 'git'; url: string; branch?: string | null; hash?: string | null }
    | { type: 'relace'; repo_id: string; copy_metadata?: boolean; copy_remote?: boolean }
    | null;
}

/** Only workspace tokens with write create (or fork) repositories. */
export function assertMayCreateRepos(tok: TokenRecord): void {
  requireControlPlane(tok, 'repository creation');
  if (tok.permission === 'read') throw new GitgateError('FORBIDDEN', { reason: 'creating repositories needs write access' });
}

/** Create a repository (empty, from files, from a git URL) or fork one (`source.type: "relace"`). */
export async function createRepoAs(ctx: Services, tok: TokenRecord, body: CreateRepoRequest): Promise<RepoInfo> {
  assertMayCreateRepos(tok);
  const source = body.source ?? null;
  if (source && source.type === 'relace') {
    // a fork: read on the source (404 outside the token's scope), every ref it copies in the token's ref scope
    const sourceRow = await resolveRepo(ctx, tok, source.repo_id, 'read', 'forking a repository');
    const fork = await forkRepo(ctx, sourceRow, {
      name: body.name ?? null,
      metadata: body.metadata ?? null,
      copyMetadata: source.copy_metadata ?? false,
      refCheck: (ref) => refUpdateRefusal(tok, [], { ref, change: 'create', forced: false }),
    });
    return { repo_id: fork.repo_id, repo_head: fork.repo_head };
  }
  if (source) {
    // content creates the default branch: a ref-scoped token must be allowed to create it
    const reason = refUpdateRefusal(tok, [], { ref: `refs/heads/${ctx.config.defaultBranch}`, change: 'create', forced: false });
    if (reason) throw new GitgateError('FORBIDDEN', { reason });
  }
  return createRepo(ctx, {
    name: body.name ?? null,
    metadata: body.metadata ?? null,
    files: source?.type === 'files' ? source.files : undefined,
    git: source?.type === 'git' ? { url: source.url, branch: source.branch ?? null, hash: source.hash ?? null } : undefined,
  });
}

export type ListReposQuery = Parameters<Services['repos']['list']>[0];

/** Repositories the token sees: a repo token its own, a workspace token all. */
export async function listReposAs(ctx: Services, tok: TokenRecord, q: ListReposQuery): Promise<{ items: RepoMetadata[]; total_items: number; next_page: number | null }> {
  const page = await ctx.repos.list({ ...q, ids: tok.kind === 'repo' ? tok.repo_ids : undefined });
  return { items: page.items.map(describeRepo), total_items: page.total_items, next_page: page.next_page };
}

export interface BranchFields {
  branch?: string | null;
  base?: string | null;
  expected_head?: string | null;
}

/** The branch selection of a write, with the authoritative ref check under the repository lock. */
export function lockedWrite(ctx: Services, tok: TokenRecord, row: RepoRow, sel: BranchFields): WriteOptions {
  return {
    branch: sel.branch,
    base: sel.base,
    expectedHead: sel.expected_head,
    checkBranch: (ref, exists) => assertRestRefWrite(ctx, tok, row, ref, exists),
  };
}

/** One commit on a branch (write permission, the token's ref scope, protected refs). */
export async function writeContentAs(ctx: Services, tok: TokenRecord, row: RepoRow, change: ContentChange, sel: BranchFields): Promise<UpdateResult> {
  await resolveRepo(ctx, tok, row.id, 'write', 'writing files');
  await assertRestBranchWrite(ctx, tok, row, sel.branch); // early, so a refused write reads nothing more
  return applyContentChange(ctx, row, change, lockedWrite(ctx, tok, row, sel));
}

/** Merge `head` into the branch `base` (write; admin for a protected base; delete_head needs allow_delete). */
export async function mergeAs(ctx: Services, tok: TokenRecord, row: RepoRow, req: MergeRequest): Promise<MergeDone | null> {
  await resolveRepo(ctx, tok, row.id, 'write', 'merging');
  return mergeBranches(ctx, row, req, {
    checkRefs: async (changes) => {
      for (const c of changes) await assertRestRefChange(ctx, tok, row, c.ref, c.change);
    },
  });
}

export interface MintRequest {
  name?: string;
  repo_ids: string[];
  ttl_seconds?: number | null;
  permission?: 'read' | 'write' | 'admin';
  refs?: string[];
  allow_force?: boolean;
  allow_delete?: boolean;
}

/** A repo token no stronger than `tok` (TokenService refuses anything wider: 403 ATTENUATION). */
export async function mintRepoTokenAs(ctx: Services, tok: TokenRecord, body: MintRequest) {
  // Scope names resolve like routes do; unknown or out-of-scope ids are both 404.
  const repoIds: string[] = [];
  for (const ref of body.repo_ids) repoIds.push((await resolveRepo(ctx, tok, ref, 'read', 'minting tokens')).id);
  return ctx.tokens.create(
    {
      kind: 'repo',
      name: body.name,
      repoIds,
      permission: body.permission,
      ttlSeconds: body.ttl_seconds ?? null,
      refs: body.refs,
      allowForce: body.allow_force,
      allowDelete: body.allow_delete,
    },
    tok,
  );
}
