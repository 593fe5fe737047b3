// REST: branches and tags. Listing needs read; creating and deleting go through the push rules
// (write permission, ref scope, allow_delete, protected refs) via receive-pack's own check.
import express, { Router } from 'express';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { createRef, deleteRef, listRefs } from '../service/refs/ref-api.js';
import { wantPolicy } from '../service/content/branch.js';
import { authenticate, resolveRepo, token } from './auth.js';
import { contentErrors, jsonBodyOf } from './content-routes.js';
import { refHooks } from './ref-checks.js';
import { parseWith } from './validate.js';
import { refCreateSchema, refListQuery } from './request-schemas.js';

/** `heads/x` (GitHub's form) or `refs/heads/x` (also sent as one %2F-encoded segment). */
function refFromSegments(segments: string | string[] | undefined): string {
  const joined = Array.isArray(segments) ? segments.join('/') : (segments ?? '');
  return joined.startsWith('refs/') ? joined : `refs/${joined}`;
}

export function refsRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  const auth = authenticate(ctx, rt);
  const json = express.json({ limit: ctx.config.maxJsonBytes, type: ['application/json', 'application/*+json'] });

  router.get('/v1/repo/:id/refs', auth, async (req, res) => {
    const row = await resolveRepo(ctx, token(res), String(req.params.id), 'read', 'listing refs');
    res.json(await listRefs(ctx.manager.get(row.id), parseWith(refListQuery, req.query)));
  });

  router.post('/v1/repo/:id/refs', auth, async (req, res, next) => {
    res.locals.repo = await resolveRepo(ctx, token(res), String(req.params.id), 'write', 'creating refs');
    next();
  }, json, async (req, res) => {
    const row = res.locals.repo!;
    const body = parseWith(refCreateSchema, jsonBodyOf(req));
    const item = await createRef(ctx.audit, ctx.manager.get(row.id), body.ref, body.commit, refHooks(ctx, token(res), row.id), wantPolicy(ctx));
    await ctx.repos.touch(row.id);
    res.status(201).json(item);
  });

  router.delete('/v1/repo/:id/refs/*ref', auth, async (req, res) => {
    const row = await resolveRepo(ctx, token(res), String(req.params.id), 'write', 'deleting refs');
    await deleteRef(ctx.audit, ctx.manager.get(row.id), refFromSegments(req.params.ref as string[] | undefined), refHooks(ctx, token(res), row.id));
    await ctx.repos.touch(row.id);
    res.status(204).end();
  });

  router.use(contentErrors);
  return router;
}
