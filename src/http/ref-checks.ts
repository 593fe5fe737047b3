// Ref rules at the two places refs move on a token's behalf: pushes and REST ref writes run
// RefPolicyHook (a PreReceiveHook, per command, under the repository lock); REST content
// writes, which only ever create or fast-forward a branch, ask the same hook for one change.
// The rules themselves are in auth/ref-policy.ts; results are data (repo/ref-result.ts).
import { refUpdateDecision, type RefChange } from '../auth/ref-policy.js';
import type { TokenRecord } from '../auth/token-record.js';
import type { RepoRow } from '../db/records.js';
import { isAncestor, peelToCommit } from '../repo/ancestry.js';
import type { PreReceiveHook, ReceiveCommand } from '../repo/receive-command.js';
import type { RefRejection } from '../repo/ref-result.js';
import type { Repository } from '../repo/repository.js';
import type { Services } from '../service/services.js';
import { targetRef } from '../service/content/branch.js';
import { refRejectionError } from '../service/refs/ref-errors.js';

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

/** `tok`'s ref scope, force and delete rights, and `repoId`'s protected refs. */
export class RefPolicyHook implements PreReceiveHook {
  private protectedRefs: string[] | null = null; // read once per push, under the lock

  constructor(
    private readonly ctx: Services,
    private readonly tok: TokenRecord,
    private readonly repoId: string,
  ) {}

  async onPreReceive(repo: Repository, commands: readonly ReceiveCommand[]): Promise<void> {
    for (const cmd of commands) {
      const refused = await this.decide(cmd.ref, cmd.change, () => isForced(repo, cmd.ref, cmd.oldOid, cmd.newOid));
      if (refused) cmd.reject(refused);
    }
  }

  /** The refusal of one change, or null; `forced` is asked only when it matters. */
  async decide(ref: string, change: RefChange, forced: () => Promise<boolean | null>): Promise<RefRejection | null> {
    this.protectedRefs ??= await this.ctx.repos.protectedRefs(this.repoId);
    if (this.protectedRefs.length === 0 && unrestricted(this.tok)) return null;
    const first = refUpdateDecision(this.tok, this.protectedRefs, { ref, change, forced: false });
    if (first || change !== 'update' || this.tok.allow_force) return first;
    return (await forced()) ? refUpdateDecision(this.tok, this.protectedRefs, { ref, change, forced: true }) : null;
  }
}

/** The hooks a push or REST ref write by `tok` to `repoId` runs. */
export function refHooks(ctx: Services, tok: TokenRecord, repoId: string): PreReceiveHook[] {
  return [new RefPolicyHook(ctx, tok, repoId)];
}

/** 403 when `tok` may not move `ref` of `row` through the REST API (content writes only ever
 *  create or fast-forward a branch). */
export async function assertRestRefWrite(ctx: Services, tok: TokenRecord, row: RepoRow, ref: string, exists: boolean): Promise<void> {
  await assertRestRefChange(ctx, tok, row, ref, exists ? 'update' : 'create');
}

/** 403 when `tok` may not make this (non-forced) change to `ref` of `row` through the REST API. */
export async function assertRestRefChange(ctx: Services, tok: TokenRecord, row: RepoRow, ref: string, change: RefChange): Promise<void> {
  const refused = await new RefPolicyHook(ctx, tok, row.id).decide(ref, change, async () => false);
  if (refused) throw refRejectionError(refused, ref);
}

/** The branch a REST content write to `row` moves (`branch`, else HEAD's), checked against `tok`'s ref rules. */
export async function assertRestBranchWrite(ctx: Services, tok: TokenRecord, row: RepoRow, branch?: string | null): Promise<void> {
  if (tok.refs.length === 0 && (await ctx.repos.protectedRefs(row.id)).length === 0) return;
  const repo = ctx.manager.get(row.id);
  const ref = await targetRef(repo, row, branch);
  await assertRestRefWrite(ctx, tok, row, ref, (await repo.refs.resolve(ref)) !== null);
}
