// REST: repositories (Relace Repos API shapes).
import { Router } from 'express';
import { z } from 'zod';
import { GitgateError } from '../errors.js';
import type { Context } from '../service/context.js';
import { createRepo, deleteRepo, describeRepo } from '../service/repo-service.js';
import { setProtectedRefs } from '../service/protected-refs.js';
import { withRepoLock } from '../repo/repo-lock.js';
import { forkRepo } from '../service/fork.js';
import { authenticate, requireControlPlane, resolveRepo, token } from './auth.js';
import { repoAdminRefusal } from '../auth/policy.js';
import { jsonBodyReader } from './body.js';
import { MAX_REF_PATTERNS, normalizeRefPatterns, RefPatternError, refUpdateRefusal } from '../auth/ref-policy.js';
import { metadataSchema, parseWith, queryBool, queryInt } from './validate.js';

const fileSchema = z.object({ filename: z.string(), content: z.string() });

const createSchema = z.object({
  name: z.string().nullable().optional(),
  metadata: metadataSchema,
  auto_index: z.boolean().optional(),
  source: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('files'), files: z.array(fileSchema).max(100_000) }),
      z.object({ type: z.literal('git'), url: z.string(), branch: z.string().nullable().optional(), hash: z.string().nullable().optional() }),
      z.object({ type: z.literal('relace'), repo_id: z.string().min(1).max(200), copy_metadata: z.boolean().optional(), copy_remote: z.boolean().optional() }),
    ])
    .nullable()
    .optional(),
});

const listSchema = z.object({
  page_size: queryInt.optional(),
  page_start: queryInt.optional(),
  order_by: z.enum(['created_at', 'updated_at']).optional(),
  order_descending: queryBool.optional(),
  created_after: z.string().optional(),
  created_before: z.string().optional(),
  filter_metadata: z
    .union([z.string(), z.record(z.string(), z.string())])
    .optional()
    .transform((v, c) => {
      if (typeof v !== 'string') return v;
      try {
        const parsed = JSON.parse(v) as unknown;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, string>;
      } catch {
        // fall through
      }
      c.addIssue({ code: 'custom', message: 'must be a JSON object of string values' });
      return z.NEVER;
    }),
});

const protectedRefsSchema = z.object({ patterns: z.array(z.string()).max(MAX_REF_PATTERNS) });

export function repoRoutes(ctx: Context): Router {
  const router = Router();
  router.use('/v1/repo', authenticate(ctx));
  const readBody = jsonBodyReader(ctx);

  router.post('/v1/repo', async (req, res) => {
    const tok = token(res);
    requireControlPlane(tok, 'repository creation');
    if (tok.permission === 'read') throw new GitgateError('FORBIDDEN', { reason: 'creating repositories needs write access' });
    const body = parseWith(createSchema, await readBody(req, res));
    const source = body.source ?? null;
    if (source && source.type === 'relace') {
      // a fork: read on the source (404 outside the token's scope), every ref it copies in the token's ref scope
      const sourceRow = await resolveRepo(ctx, tok, source.repo_id, 'read', 'forking a repository');
      const fork = await forkRepo(ctx, sourceRow, {
        name: body.name ?? null,
        metadata: body.metadata ?? null,
        copyMetadata: source.copy_metadata ?? false,
        refCheck: (ref) => refUpdateRefusal(tok, [], { ref, change: 'create', forced: false }),
      });
      res.status(201).json({ repo_id: fork.repo_id, repo_head: fork.repo_head });
      return;
    }
    if (source) {
      // content creates the default branch: a ref-scoped token must be allowed to create it
      const reason = refUpdateRefusal(tok, [], { ref: `refs/heads/${ctx.config.defaultBranch}`, change: 'create', forced: false });
      if (reason) throw new GitgateError('FORBIDDEN', { reason });
    }
    const info = await createRepo(ctx, {
      name: body.name ?? null,
      metadata: body.metadata ?? null,
      files: source?.type === 'files' ? source.files : undefined,
      git: source?.type === 'git' ? { url: source.url, branch: source.branch ?? null, hash: source.hash ?? null } : undefined,
    });
    res.status(201).json(info);
  });

  router.get('/v1/repo', async (req, res) => {
    const tok = token(res);
    const q = parseWith(listSchema, req.query);
    const page = await ctx.repos.list({ ...q, ids: tok.kind === 'repo' ? tok.repo_ids : undefined });
    res.json({ items: page.items.map(describeRepo), total_items: page.total_items, next_page: page.next_page });
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
    res.json({ patterns: await withRepoLock(ctx.manager.get(row.id).refs.lockKey, async () => setProtectedRefs(ctx, row.id, patterns)) });
  });

  return router;
}
