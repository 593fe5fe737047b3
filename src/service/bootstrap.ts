// First start with an empty database: mint one workspace admin token and show it once.
import type { Services } from './services.js';

export async function bootstrapAdminToken(ctx: Services): Promise<string | null> {
  if ((await ctx.tokens.count()) > 0) return null;
  const { secret } = await ctx.tokens.create({ kind: 'workspace', permission: 'admin', name: 'bootstrap admin' }, null);
  return secret;
}
