// REST: the Relace content API — update, clone-as-JSON, file read/write/delete, retrieve.
// Mounted before the app-wide JSON parser: each route parses its own body (raw bytes for
// PUT /file, JSON elsewhere) after authentication and the permission check. Errors are
// always JSON here, whatever the file path looks like.
import express, { Router, type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Permission } from '../auth/permissions.js';
import type { RepoRow } from '../db/repos-table.js';
import { GitgateError } from '../errors.js';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { pullGitSource } from '../service/content/git-source.js';
import { pathFromSegments } from '../service/content/paths.js';
import { cloneFiles, readFileAt } from '../service/content/read.js';
import { retrieve } from '../service/content/search.js';
import { currentHead, updateMetadata, type UpdateResult, type WriteOptions } from '../service/content/update.js';
import { lockedWrite, mergeAs, writeContentAs } from './actions.js';
import { wantPolicy } from '../service/content/branch.js';
import { authenticate, resolveRepo, token } from './auth.js';
import { assertRestBranchWrite } from './ref-checks.js';
import { sendError, toGitgateError } from './errors.js';
import { parseWith } from './validate.js';
import { branchQuery, commitQuery, mergeSchema, repoUpdateSchema, retrieveSchema } from './request-schemas.js';

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

export function contentRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  const auth = authenticate(ctx, rt);
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
  const locked = (res: Response, sel: z.infer<typeof branchQuery>): WriteOptions => lockedWrite(ctx, token(res), repo(res), sel);

  router.post('/v1/repo/:id/update', auth, repoWith('write', 'updating a repository'), json, async (req, res) => {
    const body = parseWith(repoUpdateSchema, jsonBodyOf(req));
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
      result = await writeContentAs(ctx, token(res), row, { kind: 'files', files: source.files }, sel);
    } else {
      result = await writeContentAs(ctx, token(res), row, { kind: 'diff', operations: source.operations }, sel);
    }
    await updateMetadata(ctx, row, body.metadata);
    res.json(result);
  });

  router.get('/v1/repo/:id/clone', auth, repoWith('read', 'cloning'), async (req, res) => {
    const q = parseWith(commitQuery, req.query);
    res.json(await cloneFiles(ctx.manager.get(repo(res).id), { commit: q.commit, branch: q.branch, reach: wantPolicy(ctx), maxBytes: ctx.config.maxReadBytes }));
  });

  router.post('/v1/repo/:id/retrieve', auth, repoWith('read', 'searching'), json, async (req, res) => {
    const body = parseWith(retrieveSchema, jsonBodyOf(req));
    res.json(await retrieve(ctx.manager.get(repo(res).id), { ...body, hash: body.hash ?? null, branch: body.branch ?? null, reach: wantPolicy(ctx) }));
  });

  router.get(FILE_ROUTE, auth, repoWith('read', 'reading files'), async (req, res) => {
    const path = pathFromSegments(req.params.path as string[] | undefined);
    const q = parseWith(commitQuery, req.query);
    const { commit, content } = await readFileAt(ctx.manager.get(repo(res).id), path, { commit: q.commit, branch: q.branch, reach: wantPolicy(ctx), maxBytes: ctx.config.maxReadBytes });
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Gitgate-Commit', commit);
    res.status(200).end(content);
  });

  router.put(FILE_ROUTE, auth, repoWith('write', 'writing files'), branchWrite, raw, async (req, res) => {
    const path = pathFromSegments(req.params.path as string[] | undefined);
    const content = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    res.json(await writeContentAs(ctx, token(res), repo(res), { kind: 'write', path, content }, parseWith(branchQuery, req.query)));
  });

  router.delete(FILE_ROUTE, auth, repoWith('write', 'deleting files'), branchWrite, async (req, res) => {
    const path = pathFromSegments(req.params.path as string[] | undefined);
    res.json(await writeContentAs(ctx, token(res), repo(res), { kind: 'delete', path }, parseWith(branchQuery, req.query)));
  });

  // GitHub's POST /repos/{owner}/{repo}/merges: 201 with the new head, 204 nothing to merge
  router.post('/v1/repo/:id/merge', auth, repoWith('write', 'merging'), json, async (req, res) => {
    const body = parseWith(mergeSchema, jsonBodyOf(req));
    const row = repo(res);
    const done = await mergeAs(ctx, token(res), row, {
      base: body.base,
      head: body.head,
      method: body.method ?? 'merge',
      message: body.message,
      deleteHead: body.delete_head,
      expectedHead: body.expected_head,
      expectedBase: body.expected_base,
    });
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
