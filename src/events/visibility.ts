// Which events a token may see (the feed, and webhooks through their creator): the same rules
// as the rest of the API. Repository events need read on every repository they concern; token
// events follow token management (policy.canManageToken: itself, or a token it could have
// minted), judged on the target token as it is now.
import type { AuditEvent } from '../audit/audit-log.js';
import { canManageToken, repoAccess } from '../auth/policy.js';
import type { TokenRecord } from '../auth/token-record.js';

export type TokenLookup = (id: string) => Promise<TokenRecord | null>;

export async function canSeeEvent(viewer: TokenRecord, e: AuditEvent, lookup: TokenLookup): Promise<boolean> {
  if (e.action.startsWith('token.')) {
    if (e.target_token_id === null) return false;
    if (e.target_token_id === viewer.id) return true;
    const target = await lookup(e.target_token_id);
    return target !== null && canManageToken(viewer, target);
  }
  if (e.repo_ids.length === 0) return viewer.kind === 'workspace';
  return e.repo_ids.every((id) => repoAccess(viewer, id, 'read') === 'ok');
}
