// Repository lifecycle shared by REST and CLI: create (empty or from files), describe, delete.
import crypto from 'node:crypto';
import type { RepoRow } from '../db/repos-table.js';
import type { Services } from './services.js';
import { checkGitSource, importGitSource, type GitSourceInput } from './content/git-source.js';
import { applyPlan, planChange } from './content/update.js';

export interface CreateRepoInput {
  name?: string | null;
  metadata?: Record<string, string> | null;
  files?: { filename: string; content: string }[];
  /** Import a branch of a remote Git repository (http/https, credentials may be in the URL). */
  git?: GitSourceInput;
  defaultBranch?: string;
}

export interface RepoInfo {
  repo_id: string;
  repo_head: string | null;
}

export interface RepoMetadata {
  repo_id: string;
  name: string | null;
  default_branch: string;
  created_at: string;
  updated_at: string | null;
  metadata: Record<string, string> | null;
  auto_index: boolean;
}

export function describeRepo(row: RepoRow): RepoMetadata {
  return {
    repo_id: row.id,
    name: row.name,
    default_branch: row.default_branch,
    created_at: row.created_at,
    updated_at: row.updated_at,
    metadata: row.metadata,
    auto_index: false,
  };
}

export async function createRepo(ctx: Services, input: CreateRepoInput): Promise<RepoInfo> {
  // files take the one REST write path; every path is validated before anything is created
  const plan = input.files && input.files.length > 0 ? planChange({ kind: 'files', files: input.files }) : null;
  if (input.git) checkGitSource(ctx.config, input.git);
  const id = crypto.randomUUID();
  const defaultBranch = input.defaultBranch ?? ctx.config.defaultBranch;
  await ctx.repos.insert({ id, name: input.name ?? null, metadata: input.metadata ?? null, default_branch: defaultBranch });
  let created = false;
  try {
    const repo = await ctx.manager.create(id, defaultBranch);
    // recorded before any content, so the event stream sees the repository before its refs move
    const source = input.git ? 'git' : plan ? 'files' : 'empty';
    await ctx.audit.record({ action: 'repo.create', repoIds: [id], detail: { name: input.name ?? null, default_branch: defaultBranch, source } });
    created = true;
    let head: string | null = null;
    if (input.git) {
      head = await importGitSource(ctx, repo, defaultBranch, input.git);
    } else if (plan) {
      const n = input.files!.length;
      const message = `Initial commit: add ${n} file${n === 1 ? '' : 's'}`;
      head = (await applyPlan(ctx, (await ctx.repos.get(id))!, plan, { message, via: 'api:create', initial: true })).repo_head;
    }
    return { repo_id: id, repo_head: head };
  } catch (err) {
    await ctx.repos.delete(id);
    await ctx.manager.delete(id).catch(() => undefined);
    if (created) await ctx.audit.record({ action: 'repo.delete', repoIds: [id], detail: { name: input.name ?? null, reason: 'creation failed' } });
    throw err;
  }
}

export async function deleteRepo(ctx: Services, id: string): Promise<void> {
  const name = (await ctx.repos.get(id))?.name ?? null;
  // its webhooks (and their queued deliveries) go first: nothing more is sent about it through them
  await ctx.webhooks.store.deleteForRepo(id);
  await ctx.repos.delete(id);
  await ctx.audit.record({ action: 'repo.delete', repoIds: [id], detail: { name } });
  await ctx.manager.delete(id);
}
