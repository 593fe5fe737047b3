// Branches and tags over REST: list (paginated), create, delete. Writes take the repository
// lock (the one pushes take), run the caller's ref-policy check under it, then move the ref by
// compare-and-swap and audit it — the same path as a push's commands.
import type { AuditLog } from '../../audit/audit-log.js';
import { recordApiRefMove } from '../../audit/record.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../db/repos-table.js';
import { GitgateError } from '../../errors.js';
import { refRejectionError, type RefErrorOptions } from './ref-errors.js';
import { peelToCommit } from '../../repo/ancestry.js';
import { isPushableRefName, refNameTooLong } from '../../repo/ref-names.js';
import { ZERO_OID } from '../../oid.js';
import { ReceiveCommand, runPreReceiveHooks, updateResult, type PreReceiveHook } from '../../repo/receive-command.js';
import type { RefUpdate, RefUpdateResult } from '../../repo/ref-database.js';
import type { Repository } from '../../repo/repository.js';
import { resolveCommitish } from '../revision.js';
import type { WantPolicy } from '../../protocol/fetch-core.js';

export interface RefItem {
  ref: string;
  type: 'branch' | 'tag';
  /** What the ref stores (an annotated tag's object for such tags). */
  object: string;
  /** The commit it peels to (null for a tag of a tree or blob). */
  commit: string | null;
}

export interface RefPage {
  items: RefItem[];
  total_items: number;
  next_page: number | null;
}


const LISTED = ['refs/heads/', 'refs/tags/'];

export async function listRefs(repo: Repository, q: { prefix?: string; page_size?: number; page_start?: number }): Promise<RefPage> {
  const size = q.page_size ?? DEFAULT_PAGE_SIZE;
  const start = q.page_start ?? 0;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw new GitgateError('VALIDATION', { detail: `page_size must be an integer from 1 to ${MAX_PAGE_SIZE}` });
  if (!Number.isInteger(start) || start < 0) throw new GitgateError('VALIDATION', { detail: 'page_start must be a non-negative integer' });
  const prefix = q.prefix ?? '';
  const all = (await repo.refs.list('refs/')).filter((r) => LISTED.some((p) => r.name.startsWith(p)) && r.name.startsWith(prefix));
  const page = all.slice(start, start + size);
  const items: RefItem[] = [];
  for (const r of page) {
    const commit = await peelToCommit(repo.objects, r.oid);
    items.push({ ref: r.name, type: r.name.startsWith('refs/heads/') ? 'branch' : 'tag', object: r.oid, commit });
  }
  return { items, total_items: all.length, next_page: start + size < all.length ? start + size : null };
}

function assertWritableName(ref: string): void {
  if (!LISTED.some((p) => ref.startsWith(p)) || !isPushableRefName(ref)) {
    throw new GitgateError('BAD_REF_NAME', { ref: `${ref.slice(0, 200)} (a branch refs/heads/… or a tag refs/tags/…)` });
  }
  const tooLong = refNameTooLong(ref);
  if (tooLong) throw new GitgateError('BAD_REF_NAME', { ref: `${ref.slice(0, 200)} (${tooLong})` });
}

/** Create a branch or lightweight tag at the commit `target` names (an id, branch or tag). */
export async function createRef(audit: AuditLog, repo: Repository, ref: string, target: string, hooks: readonly PreReceiveHook[], reach?: WantPolicy): Promise<RefItem> {
  assertWritableName(ref);
  return repo.withLock(async () => {
    const { commit } = await resolveCommitish(repo, target, reach);
    await checkHooks(hooks, repo, new ReceiveCommand(ref, ZERO_OID, commit));
    const update = { name: ref, oldOid: null, newOid: commit };
    const [result] = await repo.refs.update([update]);
    await throwUnlessOk(repo, update, result, { createOnly: true });
    await recordApiRefMove(audit, repo.id, ref, null, commit, 'api:refs');
    return { ref, type: ref.startsWith('refs/heads/') ? 'branch' : 'tag', object: commit, commit };
  });
}

/** Delete a branch or tag (never HEAD's branch, as receive-pack refuses). */
export async function deleteRef(audit: AuditLog, repo: Repository, ref: string, hooks: readonly PreReceiveHook[]): Promise<void> {
  assertWritableName(ref);
  await repo.withLock(async () => {
    const current = await repo.refs.resolve(ref);
    if (!current) throw new GitgateError('REF_NOT_FOUND', { ref });
    // the token's rules first: a refused caller learns nothing more about the ref
    await checkHooks(hooks, repo, new ReceiveCommand(ref, current, ZERO_OID));
    if ((await repo.headTarget()) === ref) throw refRejectionError({ kind: 'REJECTED_CURRENT_BRANCH' }, ref);
    const update = { name: ref, oldOid: current, newOid: null };
    const [result] = await repo.refs.update([update]);
    await throwUnlessOk(repo, update, result);
    await recordApiRefMove(audit, repo.id, ref, current, null, 'api:refs');
  });
}

/** The same ref rules a push runs (under the lock); the first refusal is the answer. */
async function checkHooks(hooks: readonly PreReceiveHook[], repo: Repository, cmd: ReceiveCommand): Promise<void> {
  await runPreReceiveHooks(hooks, repo, [cmd]);
  if (cmd.result.kind !== 'OK') throw refRejectionError(cmd.result, cmd.ref);
}

async function throwUnlessOk(repo: Repository, update: RefUpdate, result: RefUpdateResult | undefined, opts: RefErrorOptions = {}): Promise<void> {
  const r = await updateResult(repo, update, result);
  if (r.kind !== 'OK') throw refRejectionError(r, update.name, opts);
}
