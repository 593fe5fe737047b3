// Authentication and per-repository authorisation middleware.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { canUseControlPlane, repoAccess } from '../auth/policy.js';
import type { Permission } from '../auth/permissions.js';
import type { TokenRecord } from '../auth/token-record.js';
import type { RepoRow } from '../db/records.js';
import { GitgateError } from '../errors.js';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { extractToken } from './credentials.js';
import { runAsActor, currentActor, type Actor } from '../audit/actor.js';
import { admitRequest, throttleCheck } from './guard.js';

declare module 'express-serve-static-core' {
  interface Locals {
    token?: TokenRecord;
    repo?: RepoRow;
    /** Who acts in this request (token id, client address, repository once resolved). */
    actor?: Actor & { repoId?: string };
  }
}

export function token(res: Response): TokenRecord {
  const t = res.locals.token;
  if (!t) throw new GitgateError('UNAUTHENTICATED');
  return t;
}

export function authenticate(ctx: Services, rt: HttpRuntime): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (res.locals.token) return next(); // already authenticated by an earlier route
      const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
      const secret = extractToken(req.headers.authorization);
      await throttleCheck(ctx, rt, ip, secret, res); // 429 for a blocked address, before any bcrypt work
      if (!secret) throw new GitgateError('UNAUTHENTICATED');
      // the client address goes with the (coalesced) last-use write: last_used_ip
      const record = await ctx.tokens.verify(secret, ip === 'unknown' ? undefined : ip);
      if (!record) {
        rt.metrics.authFailures.inc();
        const blocked = await rt.throttle.fail(ip);
        if (blocked) req.log?.warn({ ip, retry_after: blocked }, 'too many failed authentications: address blocked');
        throw new GitgateError('UNAUTHENTICATED');
      }
      await admitRequest(ctx, rt, record.id, res); // 429 beyond the per-token concurrency limit
      res.locals.token = record;
      const actor = { tokenId: record.id, ip };
      res.locals.actor = actor;
      runAsActor(actor, next);
    } catch (err) {
      next(err);
    }
  };
}

/** Strip a trailing ".git" from a route id. */
export function routeRepoId(raw: string): string {
  return raw.endsWith('.git') ? raw.slice(0, -4) : raw;
}

/** Look the repository up and check the token may use it: 404 out of scope, 403 too weak. */
export async function resolveRepo(ctx: Services, tok: TokenRecord, rawId: string, need: Permission, action: string): Promise<RepoRow> {
  const row = await ctx.repos.get(routeRepoId(rawId));
  if (!row) throw new GitgateError('REPO_NOT_FOUND');
  const access = repoAccess(tok, row.id, need);
  const actor = currentActor() as (Actor & { repoId?: string }) | null;
  if (actor && access !== 'not_found') actor.repoId = row.id; // for the request log
  if (access === 'not_found') throw new GitgateError('REPO_NOT_FOUND');
  if (access === 'forbidden') {
    throw new GitgateError('FORBIDDEN', { reason: `this token has ${tok.permission} access; ${action} needs ${need}` });
  }
  return row;
}

export function requireControlPlane(tok: TokenRecord, what: string): void {
  if (!canUseControlPlane(tok)) throw new GitgateError('CONTROL_PLANE_ONLY', { what });
}
