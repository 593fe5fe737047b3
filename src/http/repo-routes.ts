// REST: repositories (Relace Repos API shapes).
import { Router } from 'express';
import { GitgateError } from '../errors.js';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { deleteRepo, describeRepo } from '../service/repo-service.js';
import { setProtectedRefs } from '../service/protected-refs.js';
import { authenticate, resolveRepo, token } from './auth.js';
import { repoAdminRefusal } from '../auth/policy.js';
import { jsonBodyReader } from './body.js';
import { normalizeRefPatterns, RefPatternError } from '../auth/ref-policy.js';
import { assertMayCreateRepos, createRepoAs, listReposAs } from './actions.js';
import { parseWith } from './validate.js';
import { protectedRefsSchema, repoCreateSchema, repoListQuery } from './request-schemas.js';

export function repoRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  router.use('/v1/repo', authenticate(ctx, rt));
  const readBody = jsonBodyReader(ctx);

  router.post('/v1/repo', async (req, res) => {
    const tok = token(res);
    assertMayCreateRepos(tok); // before the body is read (createRepoAs checks again)
    const body = parseWith(repoCreateSchema, await readBody(req, res));
    res.status(201).json(await createRepoAs(ctx, tok, body));
  });

  router.get('/v1/repo', async (req, res) => {
    res.json(await listReposAs(ctx, token(res), parseWith(repoListQuery, req.query)));
  });

  router.get('/v1/repo/:id', async (req, res) => {
    const row = await resolveRepo(ctx, token(res), String(req.params.id), 'read', 'reading metadata');
    res.json(describeRepo(row));
  });

  router.delete('/v1/repo/:id', async (req, res) => {
    const tok = token(res);
    const row = await resolveRepo(ctx, tok, String(req.params.id), 'admin', 'deleting a repository');
    const refused = repoAdminRefusal(tok, 'delete');
    if (refused) throw new GitgateError('FORBIDDEN', { reason: refused });
    await deleteRepo(ctx, row.id);
    res.status(204).end();
  });

  // Protected refs: patterns only admin tokens may create, update or delete (push and REST).
  router.get('/v1/repo/:id/protected_refs', async (req, res) => {
    const row = await resolveRepo(ctx, token(res), String(req.params.id), 'read', 'reading protected refs');
    res.json({ patterns: await ctx.repos.protectedRefs(row.id) });
  });

  router.put('/v1/repo/:id/protected_refs', async (req, res) => {
    const tok = token(res);
    const row = await resolveRepo(ctx, tok, String(req.params.id), 'admin', 'protecting refs');
    const refused = repoAdminRefusal(tok, 'protect');
    if (refused) throw new GitgateError('FORBIDDEN', { reason: refused });
    const body = parseWith(protectedRefsSchema, await readBody(req, res));
    let patterns: string[];
    try {
      patterns = normalizeRefPatterns(body.patterns, 'patterns');
    } catch (err) {
      if (err instanceof RefPatternError) throw new GitgateError('VALIDATION', { detail: err.message });
      throw err;
    }
    // under the repository lock: no REST write or push still checks against the old list once this returns
    res.json({ patterns: await ctx.manager.get(row.id).withLock(async () => setProtectedRefs(ctx, row.id, patterns)) });
  });

  return router;
}
