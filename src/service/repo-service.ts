// Repository lifecycle shared by REST and CLI: create (empty or from files), describe, delete.
import crypto from 'node:crypto';
import { GitgateError } from '../errors.js';
import type { RepoRow } from '../db/repos-table.js';
import type { Context } from './context.js';
import { writeCommitObject, writeSnapshotTree, type FileContent } from './commit-builder.js';
import { checkGitSource, importGitSource, type GitSourceInput } from './content/git-source.js';
import { normalizeRepoPath } from './paths.js';
import { recordApiRefMove } from '../audit/record.js';

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

export function toFileContents(files: { filename: string; content: string }[]): FileContent[] {
  const seen = new Set<string>();
  return files.map((f) => {
    const path = normalizeRepoPath(f.filename);
    if (seen.has(path)) throw new GitgateError('BAD_PATH', { detail: `duplicate path ${path}` });
    seen.add(path);
    return { path, content: Buffer.from(f.content, 'utf8') };
  });
}

export async function createRepo(ctx: Context, input: CreateRepoInput): Promise<RepoInfo> {
  const files = input.files ? toFileContents(input.files) : null;
  assertNoFileDirClash(files ?? []);
  if (input.git) checkGitSource(ctx.config, input.git);
  const id = crypto.randomUUID();
  const defaultBranch = input.defaultBranch ?? ctx.config.defaultBranch;
  ctx.repos.insert({ id, name: input.name ?? null, metadata: input.metadata ?? null, default_branch: defaultBranch });
  let created = false;
  try {
    const repo = await ctx.manager.create(id, defaultBranch);
    // recorded before any content, so the event stream sees the repository before its refs move
    const source = input.git ? 'git' : files && files.length > 0 ? 'files' : 'empty';
    ctx.audit.record({ action: 'repo.create', repoIds: [id], detail: { name: input.name ?? null, default_branch: defaultBranch, source } });
    created = true;
    let head: string | null = null;
    if (input.git) {
      head = await importGitSource(ctx, repo, defaultBranch, input.git);
    } else if (files && files.length > 0) {
      const tree = await writeSnapshotTree(repo, files);
      head = await writeCommitObject(repo, {
        tree,
        parents: [],
        message: `Initial commit: add ${files.length} file${files.length === 1 ? '' : 's'}`,
        author: { name: ctx.config.authorName, email: ctx.config.authorEmail },
      });
      const [result] = await repo.refs.update([{ name: `refs/heads/${defaultBranch}`, oldOid: null, newOid: head }]);
      if (!result?.ok) throw new GitgateError('INTERNAL');
      recordApiRefMove(id, `refs/heads/${defaultBranch}`, null, head, 'api:create');
    }
    return { repo_id: id, repo_head: head };
  } catch (err) {
    ctx.repos.delete(id);
    await ctx.manager.delete(id).catch(() => undefined);
    if (created) ctx.audit.record({ action: 'repo.delete', repoIds: [id], detail: { name: input.name ?? null, reason: 'creation failed' } });
    throw err;
  }
}

/** A path cannot be both a file and a directory ("a" and "a/b"). */
function assertNoFileDirClash(files: FileContent[]): void {
  const paths = new Set(files.map((f) => f.path));
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (paths.has(prefix)) throw new GitgateError('BAD_PATH', { detail: `${prefix} is both a file and a directory` });
    }
  }
}

export async function deleteRepo(ctx: Context, id: string): Promise<void> {
  const name = ctx.repos.get(id)?.name ?? null;
  ctx.repos.delete(id);
  ctx.audit.record({ action: 'repo.delete', repoIds: [id], detail: { name } });
  ctx.tokens.onRepoDeleted(id);
  await ctx.manager.delete(id);
}

/** Current commit of the default branch (what Relace calls repo_head). */
export async function repoHead(ctx: Context, row: RepoRow): Promise<string | null> {
  return ctx.manager.get(row.id).refs.resolve('HEAD');
}
