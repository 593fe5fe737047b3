// Which events a token may see (the feed, and webhooks through their creator): the same rules
// as the rest of the API. Repository events need read on every repository they concern; token
// events follow token visibility (policy.canSeeToken) as the token was when the event happened.
import type { AuditEvent } from '../audit/audit-log.js';
import { canSeeToken, repoAccess } from '../auth/policy.js';
import type { TokenRecord } from '../auth/token-record.js';

export function canSeeEvent(viewer: TokenRecord, e: AuditEvent): boolean {
  if (e.action.startsWith('token.')) {
    if (e.target_token_id === null) return false;
    const kind = e.detail?.kind === 'workspace' ? 'workspace' : 'repo';
    // the fields canSeeToken reads, from the event's snapshot of the target
    const target = { id: e.target_token_id, kind, repo_ids: kind === 'repo' ? e.repo_ids : [] } as Pick<TokenRecord, 'id' | 'kind' | 'repo_ids'>;
    return canSeeToken(viewer, target as TokenRecord);
  }
  if (e.repo_ids.length === 0) return viewer.kind === 'workspace';
  return e.repo_ids.every((id) => repoAccess(viewer, id, 'read') === 'ok');
}
