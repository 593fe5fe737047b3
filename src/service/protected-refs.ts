// Changing a repository's protected ref patterns, from REST and the CLI alike, with an audit
// event saying what the list was and what it became.
import type { Services } from './services.js';

export async function setProtectedRefs(ctx: Services, repoId: string, patterns: readonly string[]): Promise<string[]> {
  // one transaction: `before` is exactly what the replacement replaced
  const { before, after } = await ctx.stores.withTransaction(async (tx) => ({
    before: await tx.repos.protectedRefs(repoId),
    after: await tx.repos.setProtectedRefs(repoId, patterns),
  }));
  if (before.join('\n') !== after.join('\n')) {
    await ctx.audit.record({ action: 'repo.protected_refs', repoIds: [repoId], detail: { before, after } });
  }
  return after;
}
