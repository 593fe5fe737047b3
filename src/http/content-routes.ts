// REST: the Relace content API — update, clone-as-JSON, file read/write/delete, retrieve.
// Mounted before the app-wide JSON parser: each route parses its own body (raw bytes for
// PUT /file, JSON elsewhere) after authentication and the permission check. Errors are
// always JSON here, whatever the file path looks like.
import express, { Router, type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Permission } from '../auth/permissions.js';
import type { RepoRow } from '../db/repos-table.js';
import { GitgateError } from '../errors.js';
import type { Context } from '../service/context.js';
import { pullGitSource } from '../service/content/git-source.js';
import { pathFromSegments } from '../service/content/paths.js';
import { cloneFiles, readFileAt } from '../service/content/read.js';
import { mergeBranches } from '../service/content/merge-branch.js';
import { retrieve } from '../service/content/search.js';
import { applyContentChange, currentHead, updateMetadata, type UpdateResult, type WriteOptions } from '../service/content/update.js';
import { authenticate, resolveRepo, token } from './auth.js';
import { assertRestBranchWrite, assertRestRefChange, assertRestRefWrite } from './ref-checks.js';
import { sendError, toGitgateError } from './errors.js';
import { metadataSchema, parseWith } from './validate.js';

const fileSchema = z.object({ filename: z.string(), content: z.string() });

const operationSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('write'), filename: z.string(), content: z.string() }),
  z.object({ type: z.literal('delete'), filename: z.string() }),
  z.object({ type: z.literal('rename'), old_filename: z.string(), new_filename: z.string() }),
]);

const oidSchema = z.string().regex(/^[0-9a-fA-F]{40}$/, 'must be a full 40-character hexadecimal commit id');

/** Which branch a write moves: body fields, or the same names in the query string. */
const branchFields = {
  branch: z.string().min(1).max(1024).nullable().optional(),
  base: z.string().min(1).max(1024).nullable().optional(),
  expected_head: oidSchema.nullable().optional(),
};
const branchQuery = z.object(branchFields);

const updateSchema = z.object({
  ...branchFields,
  metadata: metadataSchema,
  source: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('files'), files: z.array(fileSchema).max(100_000) }),
      z.object({ type: z.literal('diff'), operations: z.array(operationSchema).max(100_000) }),
      z.object({ type: z.literal('git'), url: z.string().min(1).max(8192), branch: z.string().max(1024).nullable().optional() }),
    ])
    .nullable()
    .optional(),
});

const retrieveSchema = z.object({
  query: z.string().min(1).max(100_000),
  include_content: z.boolean().optional(),
  score_threshold: z.number().min(0).max(1).optional(),
  token_limit: z.number().int().min(0).optional(),
  hash: z.string().max(100).nullable().optional(),
  branch: z.string().max(1024).nullable().optional(),
  rerank: z.boolean().optional(),
});

const commitQuery = z.object({ commit: z.string().max(100).optional(), branch: z.string().min(1).max(1024).optional() });

const mergeSchema = z.object({
  base: z.string().min(1).max(1024),
  head: z.string().min(1).max(1024),
  method: z.enum(['merge', 'squash', 'fast-forward']).optional(),
  message: z.string().min(1).max(65536).refine((m) => !m.includes('\0'), 'must not contain NUL').nullable().optional(),
  delete_head: z.boolean().optional(),
  expected_head: oidSchema.nullable().optional(),
  expected_base: oidSchema.nullable().optional(),
});

const FILE_ROUTE = '/v1/repo/:id/file/*path';

/** The parsed JSON body; a body that the JSON parser skipped (another content type) is 415, not an empty request. */
export function jsonBodyOf(req: Request): unknown {
  if (req.body !== undefined) return req.body;
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) {
    throw new GitgateError('UNSUPPORTED_MEDIA', { type: String(req.headers['content-type'] ?? '(none)').slice(0, 100) });
  }
  return {};
}

export function contentRoutes(ctx: Context): Router {
  const router = Router();
  const auth = authenticate(ctx);
  const json = express.json({ limit: ctx.config.maxJsonBytes, type: ['application/json', 'application/*+json'] });
  // any content type: the SDK sends application/octet-stream, curl --data-binary form data
  const raw = express.raw({ limit: ctx.config.maxJsonBytes, type: () => true });

  /** Resolve the repository and check the permission before any body is read. */
  const repoWith = (need: Permission, action: string) => async (req: Request, res: Response, next: NextFunction) => {
    res.locals.repo = await resolveRepo(ctx, token(res), String(req.params.id), need, action);
    next();
  };
  const repo = (res: Response): RepoRow => res.locals.repo!;
  /** The branch the write would move must be within the token's ref scope and not protected from
   *  it: checked early (before the body is read) and again, authoritatively, under the repository lock. */
  const branchWrite = async (req: Request, res: Response, next: NextFunction) => {
    await assertRestBranchWrite(ctx, token(res), repo(res), parseWith(branchQuery, req.query).branch);
    next();
  };
  /** The branch selection (body fields over query ones) and the under-the-lock ref check. */
  const locked = (res: Response, sel: z.infer<typeof branchQuery>): WriteOptions => ({
    branch: sel.branch,
    base: sel.base,
    expectedHead: sel.expected_head,
    checkBranch: (ref, exists) => assertRestRefWrite(ctx, token(res), repo(res), ref, exists),
  });

  router.post('/v1/repo/:id/update', auth, repoWith('write', 'updating a repository'), json, async (req, res) => {
    const body = parseWith(updateSchema, jsonBodyOf(req));
    const query = parseWith(branchQuery, req.query);
    const sel = { branch: body.branch ?? query.branch, base: body.base ?? query.base, expected_head: body.expected_head ?? query.expected_head };
    const row = repo(res);
    const source = body.source ?? null;
    if (source) await assertRestBranchWrite(ctx, token(res), row, sel.branch); // metadata alone moves no ref
    let result: UpdateResult;
    if (!source) {
      result = { repo_id: row.id, ...(await currentHead(ctx.manager.get(row.id), row, sel.branch)), changed_files: [] };
    } else if (source.type === 'git') {
      result = await pullGitSource(ctx, row, { url: source.url, branch: source.branch ?? null }, locked(res, sel));
    } else if (source.type === 'files') {
      result = await applyContentChange(ctx, row, { kind: 'files', files: source.files }, locked(res, sel));
    } else {
      result = await applyContentChange(ctx, row, { kind: 'diff', operations: source.operations }, locked(res, sel));
    }
    await updateMetadata(ctx, row, body.metadata);
    res.json(result);
  });

  router.get('/v1/repo/:id/clone', auth, repoWith('read', 'cloning'), async (req, res) => {
    const q = parseWith(commitQuery, req.query);
    res.json(await cloneFiles(ctx.manager.get(repo(res).id), { commit: q.commit, branch: q.branch, maxBytes: ctx.config.maxReadBytes }));
  });

  router.post('/v1/repo/:id/retrieve', auth, repoWith('read', 'searching'), json, async (req, res) => {
    const body = parseWith(retrieveSchema, jsonBodyOf(req));
    res.json(await retrieve(ctx.manager.get(repo(res).id), { ...body, hash: body.hash ?? null, branch: body.branch ?? null }));
  });

  router.get(FILE_ROUTE, auth, repoWith('read', 'reading files'), async (req, res) => {
    const path = pathFromSegments(req.params.path as string[] | undefined);
    const q = parseWith(commitQuery, req.query);
    const { commit, content } = await readFileAt(ctx.manager.get(repo(res).id), path, { commit: q.commit, branch: q.branch, maxBytes: ctx.config.maxReadBytes });
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Gitgate-Commit', commit);
    res.status(200).end(content);
  });

  router.put(FILE_ROUTE, auth, repoWith('write', 'writing files'), branchWrite, raw, async (req, res) => {
    const path = pathFromSegments(req.params.path as string[] | undefined);
    const content = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    res.json(await applyContentChange(ctx, repo(res), { kind: 'write', path, content }, locked(res, parseWith(branchQuery, req.query))));
  });

  router.delete(FILE_ROUTE, auth, repoWith('write', 'deleting files'), branchWrite, async (req, res) => {
    const path = pathFromSegments(req.params.path as string[] | undefined);
    res.json(await applyContentChange(ctx, repo(res), { kind: 'delete', path }, locked(res, parseWith(branchQuery, req.query))));
  });

  // GitHub's POST /repos/{owner}/{repo}/merges: 201 with the new head, 204 nothing to merge
  router.post('/v1/repo/:id/merge', auth, repoWith('write', 'merging'), json, async (req, res) => {
    const body = parseWith(mergeSchema, jsonBodyOf(req));
    const row = repo(res);
    const done = await mergeBranches(
      ctx,
      row,
      {
        base: body.base,
        head: body.head,
        method: body.method ?? 'merge',
        message: body.message,
        deleteHead: body.delete_head,
        expectedHead: body.expected_head,
        expectedBase: body.expected_base,
      },
      {
        checkRefs: async (changes) => {
          for (const c of changes) await assertRestRefChange(ctx, token(res), row, c.ref, c.change);
        },
      },
    );
    if (!done) res.status(204).end();
    else res.status(201).json(done);
  });

  router.use(contentErrors);
  return router;
}

/** JSON errors for these routes (a file named HEAD or objects/x must not get the Git text format). */
export const contentErrors: ErrorRequestHandler = (err, req, res, _next) => {
  // a %-escape that does not decode is a bad path, not a server error
  const decodeFailed = (err as { status?: number })?.status === 400 && /decode/i.test(String((err as Error)?.message));
  const ge = decodeFailed ? new GitgateError('BAD_PATH', { detail: 'the path is not valid percent-encoding' }) : toGitgateError(err);
  if (ge.status >= 500) req.log?.error({ err }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendError(res, ge, 'json');
};
