// The one write path of the REST API: repository creation from files, snapshot replacement,
// write/delete/rename diffs, single file writes and deletes. Paths go through the one validator
// (contentPath), trees through TreeEditor and the fsck tree check, objects into the repository's
// own object store. Each call is one read-modify-write of HEAD's branch under the repository
// lock (423 REPO_LOCKED when it is busy), ends in at most one commit, and moves the branch with
// compare-and-swap from the head it read, so a concurrent push is never lost.
import { GitgateError } from '../../errors.js';
import type { Repository } from '../../repo/repository.js';
import type { RepoRow } from '../../db/repos-table.js';
import type { Services } from '../services.js';
import { openBranch, targetRef, wantPolicy, type BranchSelector } from './branch.js';
import { describeOperations, moveBranch, writeCommit } from './commit.js';
import { contentPath } from './paths.js';
import { EMPTY_TREE, EXEC_MODE, FILE_MODE, TreeEditor, commitTree, diffTrees, isRegularFileMode, writeObjects } from './tree.js';

export type DiffOperation =
  | { type: 'write'; filename: string; content: string }
  | { type: 'delete'; filename: string }
  | { type: 'rename'; old_filename: string; new_filename: string };

export type ContentChange =
  | { kind: 'files'; files: { filename: string; content: string }[] }
  | { kind: 'diff'; operations: DiffOperation[] }
  | { kind: 'write'; path: string; content: Buffer }
  | { kind: 'delete'; path: string };

export interface UpdateResult {
  repo_id: string;
  /** The branch written (short name). */
  branch: string;
  repo_head: string | null;
  changed_files: string[];
}

/** A validated change: applies itself to an editor and says what it did, one phrase per effective operation. */
export interface Plan {
  apply(editor: TreeEditor, base: TreeEditor): Promise<string[] | null>;
  /** Snapshots start from an empty tree. */
  fromScratch?: boolean;
}

export interface WriteOptions extends BranchSelector {
  /** Runs under the repository lock before anything is written: may this caller move `ref`?
   *  (throws to refuse; `exists` says whether the write creates the branch) */
  checkBranch?: (ref: string, exists: boolean) => void | Promise<void>;
  /** The commit message, instead of one listing the operations. */
  message?: string;
  /** How the audit trail names the move (default "api"). */
  via?: string;
  /** The repository's first content, at creation: not an update (updated_at stays unset). */
  initial?: boolean;
}

/** Apply one change to the repository's write branch; no-op changes make no commit. */
export async function applyContentChange(ctx: Services, row: RepoRow, change: ContentChange, opts: WriteOptions = {}): Promise<UpdateResult> {
  return applyPlan(ctx, row, planChange(change), opts); // every path validated before anything is read or locked
}

/** Apply a validated change (planChange) to the write branch (opts.branch, else HEAD's), creating it from opts.base when missing. */
export async function applyPlan(ctx: Services, row: RepoRow, plan: Plan, opts: WriteOptions = {}): Promise<UpdateResult> {
  const repo = ctx.manager.get(row.id);
  return repo.tryLock(async () => {
    const { ref, name: branch, head, start } = await openBranch(repo, row, opts, wantPolicy(ctx), opts.checkBranch);
    const baseTree = start ? await commitTree(repo, start) : null;
    const base = new TreeEditor(repo, baseTree);
    const editor = plan.fromScratch ? new TreeEditor(repo, null) : base;
    const ops = await plan.apply(editor, base);
    const built = await editor.build();
    if (built.tree === (baseTree ?? EMPTY_TREE)) {
      // nothing to commit; a missing branch is still created, at its base
      if (head === null && start !== null) await moveBranch(ctx.audit, repo, ref, null, start, opts.via);
      return { repo_id: row.id, branch, repo_head: start, changed_files: [] };
    }
    await writeObjects(repo, built.objects);
    const changes = await diffTrees(repo, baseTree, built.tree);
    const described = ops ?? changes.map((c) => `${c.status === 'A' ? 'add' : c.status === 'M' ? 'modify' : 'delete'} ${c.path}`);
    const commit = await writeCommit(ctx, repo, {
      tree: built.tree,
      parents: start ? [start] : [],
      message: opts.message ?? describeOperations(described.length ? described : changes.map((c) => c.path)),
    });
    await moveBranch(ctx.audit, repo, ref, head, commit, opts.via);
    if (!opts.initial) await ctx.repos.touch(row.id);
    return { repo_id: row.id, branch, repo_head: commit, changed_files: changes.map((c) => c.path) };
  });
}

/** Mode for writing text to `path`: an executable stays executable; anything else becomes a regular file. */
async function modeFor(base: TreeEditor, path: string): Promise<string> {
  const existing = await base.get(path);
  return existing && isRegularFileMode(existing.mode) && existing.mode === EXEC_MODE ? EXEC_MODE : FILE_MODE;
}

export function planChange(change: ContentChange): Plan {
  switch (change.kind) {
    case 'files':
      return planSnapshot(change.files);
    case 'diff':
      return planDiff(change.operations);
    case 'write': {
      const path = contentPath(change.path);
      return {
        async apply(editor) {
          const mode = await modeFor(editor, path);
          await editor.setFile(path, mode, editor.addBlob(change.content));
          return null; // described from the diff: "add p" or "modify p"
        },
      };
    }
    case 'delete': {
      const path = contentPath(change.path);
      return {
        async apply(editor) {
          if (!(await editor.remove(path))) throw new GitgateError('FILE_NOT_FOUND', { path });
          return [`delete ${path}`];
        },
      };
    }
  }
}

function planSnapshot(files: { filename: string; content: string }[]): Plan {
  const seen = new Set<string>();
  const list = files.map((f) => {
    const path = contentPath(f.filename);
    if (seen.has(path)) throw new GitgateError('BAD_PATH', { detail: `duplicate path ${path}` });
    seen.add(path);
    return { path, content: Buffer.from(f.content, 'utf8') };
  });
  assertNoFileDirClash(seen);
  return {
    fromScratch: true,
    async apply(editor, base) {
      for (const f of list) await editor.setFile(f.path, await modeFor(base, f.path), editor.addBlob(f.content));
      return null;
    },
  };
}

/** A path cannot be both a file and a directory ("a" and "a/b"): refused before anything is read. */
function assertNoFileDirClash(paths: ReadonlySet<string>): void {
  for (const path of paths) {
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
      const prefix = path.slice(0, i);
      if (paths.has(prefix)) throw new GitgateError('BAD_PATH', { detail: `${prefix} is both a file and a directory` });
    }
  }
}

/**
 * Relace's RepoUpdateDiff: operations are collected, then applied in three phases — deletes,
 * writes (the last write to a path wins), renames (the last target for a source wins). A delete
 * or rename of a path that does not exist at that point is 404 FILE_NOT_FOUND.
 */
function planDiff(operations: DiffOperation[]): Plan {
  const deletes = new Set<string>();
  const writes = new Map<string, string>();
  const renames = new Map<string, string>();
  for (const op of operations) {
    if (op.type === 'delete') deletes.add(contentPath(op.filename));
    else if (op.type === 'write') {
      const path = contentPath(op.filename);
      writes.delete(path); // re-insert: the message lists operations in the order their final value was given
      writes.set(path, op.content);
    } else {
      const from = contentPath(op.old_filename);
      const to = contentPath(op.new_filename);
      renames.delete(from);
      renames.set(from, to);
    }
  }
  return {
    async apply(editor) {
      const ops: string[] = [];
      for (const path of deletes) {
        if (!(await editor.remove(path))) throw new GitgateError('FILE_NOT_FOUND', { path });
        ops.push(`delete ${path}`);
      }
      for (const [path, content] of writes) {
        const existing = await editor.get(path);
        const oid = editor.addBlob(Buffer.from(content, 'utf8'));
        const mode = await modeFor(editor, path);
        if (existing && existing.oid === oid && existing.mode === mode) continue;
        await editor.setFile(path, mode, oid);
        ops.push(`write ${path}`);
      }
      for (const [from, to] of renames) {
        if (from === to) {
          if (!(await editor.get(from))) throw new GitgateError('FILE_NOT_FOUND', { path: from });
          continue;
        }
        if (to.startsWith(`${from}/`)) throw new GitgateError('BAD_PATH', { detail: `cannot move ${from} into itself` });
        const taken = await editor.take(from);
        if (!taken) throw new GitgateError('FILE_NOT_FOUND', { path: from });
        await editor.put(to, taken);
        ops.push(`rename ${from} -> ${to}`);
      }
      return ops;
    },
  };
}

/** Relace's `metadata` on update: replaces the repository's metadata (null or absent: unchanged). */
export async function updateMetadata(ctx: Services, row: RepoRow, metadata: Record<string, string> | null | undefined): Promise<void> {
  if (metadata === undefined || metadata === null) return;
  await ctx.repos.update(row.id, { metadata });
}

/** The write branch's name and commit, for a call that changes nothing. */
export async function currentHead(repo: Repository, row: RepoRow, branch?: string | null): Promise<{ branch: string; repo_head: string | null }> {
  const ref = await targetRef(repo, row, branch);
  return { branch: ref.replace(/^refs\/heads\//, ''), repo_head: await repo.refs.resolve(ref) };
}
