// Commits made by the content API: author from config, one commit per call, branch moved by
// compare-and-swap from the head the change was computed against.
import { serializeCommit } from '../../repo/objects/commit.js';
import { updateResult } from '../../repo/receive-command.js';
import { refRejectionError } from '../refs/ref-errors.js';
import type { Repository } from '../../repo/repository.js';
import type { RepoRow } from '../../db/repos-table.js';
import type { Services } from '../services.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { recordApiRefMove } from '../../audit/record.js';

/** The branch API writes go to: HEAD's branch, or the repository's default branch when HEAD is detached. */
export async function writeBranch(repo: Repository, row: RepoRow): Promise<string> {
  return (await repo.headTarget()) ?? `refs/heads/${row.default_branch}`;
}

function identPart(s: string): string {
  // what git's ident.c strips: no angle brackets or newlines inside a name or an email
  return s.replace(/[<>\n\r\0]/g, '').trim() || 'unknown';
}

export function apiIdent(ctx: Services, when: Date = new Date()): string {
  return `${identPart(ctx.config.authorName)} <${identPart(ctx.config.authorEmail)}> ${Math.floor(when.getTime() / 1000)} +0000`;
}

export async function writeCommit(ctx: Services, repo: Repository, opts: { tree: string; parents: string[]; message: string }): Promise<string> {
  const ident = apiIdent(ctx);
  const message = opts.message.endsWith('\n') ? opts.message : `${opts.message}\n`;
  return repo.objects.inserter.insert('commit', serializeCommit({ tree: opts.tree, parents: opts.parents, author: ident, committer: ident, message }));
}

/** Move `ref` from `oldOid` to `newOid`; 423 when its lock is held, 409 when it moved meanwhile (a push won the race). */
export async function moveBranch(audit: AuditLog, repo: Repository, ref: string, oldOid: string | null, newOid: string, via = 'api'): Promise<void> {
  await moveRefs(audit, repo, [{ ref, oldOid, newOid }], via);
}

export interface RefMove {
  ref: string;
  oldOid: string | null;
  /** null deletes the ref. */
  newOid: string | null;
}

/** Move refs in one atomic compare-and-swap transaction (all or none), each recorded in the audit trail. */
export async function moveRefs(audit: AuditLog, repo: Repository, moves: RefMove[], via = 'api'): Promise<void> {
  const results = await repo.refs.update(
    moves.map((m) => ({ name: m.ref, oldOid: m.oldOid, newOid: m.newOid })),
    { atomic: moves.length > 1 },
  );
  if (results.every((r) => r.ok)) {
    for (const m of moves) await recordApiRefMove(audit, repo.id, m.ref, m.oldOid, m.newOid, via); // the one place API commits move branches
    return;
  }
  // the first real failure names the cause (atomic siblings report 'atomic')
  const result = results.find((r) => !r.ok && r.code !== 'atomic') ?? results.find((r) => !r.ok);
  const failed = result && !result.ok ? result : undefined;
  const move = moves.find((m) => m.ref === failed?.name) ?? moves[0]!;
  const r = await updateResult(repo, { name: move.ref, oldOid: move.oldOid }, failed);
  throw refRejectionError(r.kind === 'OK' ? { kind: 'REJECTED_OTHER', reason: 'ref update failed' } : r, move.ref);
}

/** "Update 3 files: write a.ts, delete b.ts, rename c.ts -> d.ts", with every operation in the body when the summary gets long. */
export function describeOperations(ops: string[], noun = 'file'): string {
  const count = `${ops.length} ${noun}${ops.length === 1 ? '' : 's'}`;
  const full = `Update ${count}: ${ops.join(', ')}`;
  if (full.length <= 100) return full;
  const shown: string[] = [];
  let length = `Update ${count}: `.length;
  for (const op of ops) {
    if (length + op.length + 2 > 80) break;
    shown.push(op);
    length += op.length + 2;
  }
  const more = ops.length - shown.length;
  const summary = shown.length ? `Update ${count}: ${shown.join(', ')} and ${more} more` : `Update ${count}`;
  const MAX_BODY = 1000;
  const body = ops.slice(0, MAX_BODY).map((op) => `- ${op}`);
  if (ops.length > MAX_BODY) body.push(`- ... and ${ops.length - MAX_BODY} more`);
  return `${summary}\n\n${body.join('\n')}`;
}
