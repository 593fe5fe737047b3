// REST: the audit trail. Admin tokens only: workspace admins see every event, repository
// admins the events of their repositories (events whose repositories all lie in their scope).
import { Router } from 'express';
import { GitgateError } from '../errors.js';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { authenticate, resolveRepo, token } from './auth.js';
import { parseWith } from './validate.js';
import { auditListQuery } from './request-schemas.js';

export function auditRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  const auth = authenticate(ctx, rt);

  router.get('/v1/audit', auth, async (req, res) => {
    const q = parseWith(auditListQuery, req.query);
    const tok = token(res);
    if (tok.permission !== 'admin') throw new GitgateError('FORBIDDEN', { reason: `this token has ${tok.permission} access; reading the audit trail needs admin` });
    let repoId: string | undefined;
    if (q.repo_id !== undefined) {
      if (tok.kind === 'workspace') {
        // a deleted repository's events stay listable by its id
        repoId = (await ctx.repos.get(q.repo_id))?.id ?? q.repo_id;
      } else {
        repoId = (await resolveRepo(ctx, tok, q.repo_id, 'admin', 'reading the audit trail')).id;
      }
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.json(
      await ctx.audit.list({
        repoId,
        action: q.action,
        pageSize: q.page_size,
        pageStart: q.page_start,
        withinRepos: tok.kind === 'workspace' ? undefined : tok.repo_ids,
      }),
    );
  });

  return router;
}
