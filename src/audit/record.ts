// Audit hooks for ref moves: pushes (receive-pack's onUpdated) and the REST content API
// (moveBranch, repository creation from files).
import type { Actor } from './actor.js';
import type { AuditLog } from './audit-log.js';
import { oidOrNull } from '../oid.js';

export interface MovedRef {
  ref: string;
  oldOid: string | null;
  newOid: string | null;
}

/** One ref.update event per ref a push moved, then one push event listing them all (the
 *  webhook/feed `push`), in one transaction. */
export function recordPush(ctx: { audit: AuditLog }, repoId: string, moved: MovedRef[], actor: Actor | null): Promise<void> {
  const who = { actorTokenId: actor?.tokenId ?? null, clientIp: actor?.ip ?? null, repoIds: [repoId] };
  return ctx.audit.recordMany([
    ...moved.map((m) => ({ action: 'ref.update' as const, ...who, ref: m.ref, oldOid: m.oldOid, newOid: m.newOid, detail: { via: 'push' } })),
    {
      action: 'push' as const,
      ...who,
      detail: { refs: moved.map((m) => ({ ref: m.ref, before: oidOrNull(m.oldOid), after: oidOrNull(m.newOid) })) },
    },
  ]);
}

/** A ref moved by the REST API (commit, import, merge), also outside a request (the CLI):
 *  the actor is the current request's, if any (AuditLog.record). */
export async function recordApiRefMove(audit: AuditLog, repoId: string, ref: string, oldOid: string | null, newOid: string | null, via = 'api'): Promise<void> {
  await audit.record({ action: 'ref.update', repoIds: [repoId], ref, oldOid, newOid, detail: { via } });
}
