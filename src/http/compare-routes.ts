// REST: compare two commits (GitHub's GET /repos/:o/:r/compare/:base...:head), as JSON or as
// the plain text of `git diff base...head` (?format=patch), paths only with ?name_only=true.
import { Router } from 'express';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { compare, comparePatch, parseCompareSpec } from '../service/compare/compare.js';
import { wantPolicy } from '../service/content/branch.js';
import { authenticate, resolveRepo, token } from './auth.js';
import { contentErrors } from './content-routes.js';
import { parseWith } from './validate.js';
import { compareQuery } from './request-schemas.js';

export function compareRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  router.get('/v1/repo/:id/compare/*spec', authenticate(ctx, rt), async (req, res) => {
    const row = await resolveRepo(ctx, token(res), String(req.params.id), 'read', 'comparing commits');
    const q = parseWith(compareQuery, req.query);
    const { base, head } = parseCompareSpec((req.params.spec as string[]).join('/'));
    const repo = ctx.manager.get(row.id);
    res.setHeader('Cache-Control', 'no-cache');
    if (q.format === 'patch' || q.format === 'diff') {
      const text = await repo.track(() => comparePatch(repo, base, head, { nameOnly: q.name_only, reach: wantPolicy(ctx) }));
      res.status(200).type('text/plain; charset=utf-8').end(text);
      return;
    }
    res.json(await repo.track(() => compare(repo, base, head, { nameOnly: q.name_only, reach: wantPolicy(ctx) })));
  });
  router.use(contentErrors);
  return router;
}
