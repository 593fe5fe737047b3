// First start with an empty database: mint one workspace admin token and show it once.
import type { Services } from './services.js';

// Several cluster nodes may start at once on an empty database: the insert itself checks that
// no token exists (TokenStore.insertFirst), so exactly one of them mints.
export async function bootstrapAdminToken(ctx: Services): Promise<string | null> {
  if ((await ctx.tokens.count()) > 0) return null;
  const minted = await ctx.tokens.createFirst({ kind: 'workspace', permission: 'admin', name: 'bootstrap admin' });
  return minted?.secret ?? null;
}
