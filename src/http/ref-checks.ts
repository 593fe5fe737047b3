// Ref rules at the two places refs move on a token's behalf: pushes (receive-pack's
// checkCommand, per command, under the repository lock) and REST writes (the branch a content
// write or pull would move). The rules themselves are in auth/ref-policy.ts.
import { refUpdateRefusal, type RefChange } from '../auth/ref-policy.js';
import type { TokenRecord } from '../auth/token-record.js';
import type { RepoRow } from '../db/records.js';
import { GitgateError } from '../errors.js';
import type { RefCommand } from '../protocol/receive-commands.js';
import { isAncestor, peelToCommit } from '../repo/ancestry.js';
import { ZERO_OID } from '../oid.js';
import type { Repository } from '../repo/repository.js';
import type { Context } from '../service/context.js';
import { targetRef } from '../service/content/branch.js';

/** Does the token carry any ref restriction at all (else the checks can be skipped)? */
function unrestricted(tok: TokenRecord): boolean {
  return tok.refs.length === 0 && tok.allow_force && tok.allow_delete;
}

/**
 * A non-fast-forward: the new value does not contain the old one. Moving an existing tag
 * counts as forced (git itself wants --force for it); so does anything that does not peel
 * to commits. Null when the old object is unknown here: the compare-and-swap will refuse
 * that command as stale anyway, with the clearer reason.
 */
async function isForced(repo: Repository, ref: string, oldOid: string, newOid: string): Promise<boolean | null> {
  if (oldOid === newOid) return false;
  if (!(await repo.objects.has(oldOid))) return null;
  if (ref.startsWith('refs/tags/')) return true;
  const [from, to] = await Promise.all([peelToCommit(repo.objects, oldOid), peelToCommit(repo.objects, newOid)]);
  if (!from || !to) return true;
  return !(await isAncestor(repo.objects, from, to));
}

/** receive-pack's checkCommand for `tok` pushing to `repoId`. */
export function pushRefCheck(ctx: Context, tok: TokenRecord, repoId: string): (cmd: RefCommand, c: { repo: Repository }) => Promise<string | null> {
  let protectedRefs: string[] | null = null; // read once per push, under the lock
  return async (cmd, { repo }) => {
    protectedRefs ??= await ctx.repos.protectedRefs(repoId);
    if (protectedRefs.length === 0 && unrestricted(tok)) return null;
    const change: RefChange = cmd.oldOid === ZERO_OID ? 'create' : cmd.newOid === ZERO_OID ? 'delete' : 'update';
    const first = refUpdateRefusal(tok, protectedRefs, { ref: cmd.ref, change, forced: false });
    if (first || change !== 'update' || tok.allow_force) return first;
    const forced = await isForced(repo, cmd.ref, cmd.oldOid, cmd.newOid);
    return forced ? refUpdateRefusal(tok, protectedRefs, { ref: cmd.ref, change, forced: true }) : null;
  };
}

/** 403 when `tok` may not move `ref` of `row` through the REST API (content writes only ever
 *  create or fast-forward a branch). */
export async function assertRestRefWrite(ctx: Context, tok: TokenRecord, row: RepoRow, ref: string, exists: boolean): Promise<void> {
  await assertRestRefChange(ctx, tok, row, ref, exists ? 'update' : 'create');
}

/** 403 when `tok` may not make this (non-forced) change to `ref` of `row` through the REST API. */
export async function assertRestRefChange(ctx: Context, tok: TokenRecord, row: RepoRow, ref: string, change: RefChange): Promise<void> {
  const protectedRefs = await ctx.repos.protectedRefs(row.id);
  if (protectedRefs.length === 0 && unrestricted(tok)) return;
  const reason = refUpdateRefusal(tok, protectedRefs, { ref, change, forced: false });
  if (reason) throw new GitgateError('FORBIDDEN', { reason });
}

/** The branch a REST content write to `row` moves (`branch`, else HEAD's), checked against `tok`'s ref rules. */
export async function assertRestBranchWrite(ctx: Context, tok: TokenRecord, row: RepoRow, branch?: string | null): Promise<void> {
  if (tok.refs.length === 0 && (await ctx.repos.protectedRefs(row.id)).length === 0) return;
  const repo = ctx.manager.get(row.id);
  const ref = await targetRef(repo, row, branch);
  await assertRestRefWrite(ctx, tok, row, ref, (await repo.refs.resolve(ref)) !== null);
}
