// Request guards used by authenticate: the failed-auth block (429 + Retry-After) and the
// per-token concurrency limit (429 + Retry-After: 1).
import type { Response } from 'express';
import { GitgateError } from '../errors.js';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';

/** Throws AUTH_THROTTLED while `ip` is blocked after too many failed authentications, unless
 *  the presented secret is one this process has already verified: a ban stops guessing, not
 *  the other agents behind the same address (the row is still re-read, so revocation bites).
 *  No secret, no guess: git's credential-less probe gets its 401 and then sends the token. */
export function throttleCheck(ctx: Services, rt: HttpRuntime, ip: string, secret: string | null, res: Response): void {
  if (!secret) return;
  const wait = rt.throttle.retryAfter(ip);
  if (wait <= 0) return;
  if (ctx.tokens.isKnownGood(secret)) return;
  rt.metrics.throttled.inc({ reason: 'auth' });
  res.setHeader('Retry-After', String(wait));
  throw new GitgateError('AUTH_THROTTLED', { seconds: wait });
}

/** Counts the request against its token until the response closes; 429 past the limit. */
export function admitRequest(ctx: Services, rt: HttpRuntime, tokenId: string, res: Response): void {
  const limit = ctx.config.maxConcurrentPerToken;
  if (limit <= 0) return;
  const active = rt.inflightByToken.get(tokenId) ?? 0;
  if (active >= limit) {
    rt.metrics.throttled.inc({ reason: 'concurrency' });
    res.setHeader('Retry-After', '1');
    throw new GitgateError('TOO_MANY_REQUESTS', { limit, seconds: 1 });
  }
  rt.inflightByToken.set(tokenId, active + 1);
  let released = false;
  res.once('close', () => {
    if (released) return;
    released = true;
    const n = (rt.inflightByToken.get(tokenId) ?? 1) - 1;
    if (n <= 0) rt.inflightByToken.delete(tokenId);
    else rt.inflightByToken.set(tokenId, n);
  });
}
