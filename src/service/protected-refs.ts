// Changing a repository's protected ref patterns, from REST and the CLI alike, with an audit
// event saying what the list was and what it became.
import type { Context } from './context.js';

export function setProtectedRefs(ctx: Context, repoId: string, patterns: readonly string[]): string[] {
  const before = ctx.repos.protectedRefs(repoId);
  const after = ctx.repos.setProtectedRefs(repoId, patterns);
  if (before.join('\n') !== after.join('\n')) {
    ctx.audit.record({ action: 'repo.protected_refs', repoIds: [repoId], detail: { before, after } });
  }
  return after;
}
