// Request guards used by authenticate: the failed-auth block (429 + Retry-After) and the
// per-token concurrency limit (429 + Retry-After: 1). Both count through ctx.guards: in
// process on one node, shared by every node of a cluster.
import type { Response } from 'express';
import { GitgateError } from '../errors.js';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';

/** Throws AUTH_THROTTLED while `ip` is blocked after too many failed authentications, unless
 *  the presented secret is one this process has already verified: a block stops guessing, not
 *  the other agents behind the same address (the row is still re-read, so revocation bites).
 *  No secret, no guess: git's credential-less probe gets its 401 and then sends the token. */
export async function throttleCheck(ctx: Services, rt: HttpRuntime, ip: string, secret: string | null, res: Response): Promise<void> {
  if (!secret) return;
  // a verified secret passes either way: asked first, it spares a shared-store read per request
  if (ctx.tokens.isKnownGood(secret)) return;
  const wait = await rt.throttle.retryAfter(ip);
  if (wait <= 0) return;
  rt.metrics.throttled.inc({ reason: 'auth' });
  res.setHeader('Retry-After', String(wait));
  throw new GitgateError('AUTH_THROTTLED', { seconds: wait });
}

/** Counts the request against its token until the response closes; 429 past the limit. */
export async function admitRequest(ctx: Services, rt: HttpRuntime, tokenId: string, res: Response): Promise<void> {
  const limit = ctx.config.maxConcurrentPerToken;
  if (limit <= 0) return;
  if (!(await ctx.guards.admit(tokenId, limit))) {
    rt.metrics.throttled.inc({ reason: 'concurrency' });
    res.setHeader('Retry-After', '1');
    throw new GitgateError('TOO_MANY_REQUESTS', { limit, seconds: 1 });
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    ctx.guards.release(tokenId).catch((err: unknown) => ctx.log.error({ err }, 'could not release a per-token request slot'));
  };
  res.once('close', release);
  if (res.closed) release(); // the client left while the slot was being taken
}
