// REST: code search (JSON, or Server-Sent Events for `Accept: text/event-stream`), the SDK's
// search agent (always SSE: `result` per file, then `done`), and the lexical index's status.
import express, { Router, type Request, type Response } from 'express';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { codeSearch, indexStatus, type CodeSearchOptions, type CodeSearchResult } from '../service/content/code-search.js';
import { GitgateError } from '../errors.js';
import { wantPolicy } from '../service/content/branch.js';
import { authenticate, resolveRepo, token } from './auth.js';
import { contentErrors, jsonBodyOf } from './content-routes.js';
import { parseWith } from './validate.js';
import { agentSchema, indexStatusQuery, searchSchema } from './request-schemas.js';

/** Agents served by the code search engine (the SDK's `client.repo.search` names the first). */
const SEARCH_AGENTS = new Set(['relace-search', 'search']);

function wantsEventStream(req: Request): boolean {
  return /\btext\/event-stream\b/.test(String(req.headers.accept ?? ''));
}

function sendEvents(res: Response, out: CodeSearchResult): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('X-Accel-Buffering', 'no');
  for (const r of out.results) res.write(`event: result\ndata: ${JSON.stringify(r)}\n\n`);
  res.end(`event: done\ndata: ${JSON.stringify({ hash: out.hash, total: out.results.length, truncated: out.truncated })}\n\n`);
}

export function searchRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  const auth = authenticate(ctx, rt);
  const json = express.json({ limit: ctx.config.maxJsonBytes, type: ['application/json', 'application/*+json'] });
  const readRepo = (action: string) => async (req: Request, res: Response, next: () => void) => {
    res.locals.repo = await resolveRepo(ctx, token(res), String(req.params.id), 'read', action);
    next();
  };
  const run = (res: Response, opts: CodeSearchOptions) => codeSearch(ctx.manager.get(res.locals.repo!.id), { ...opts, reach: wantPolicy(ctx) });

  router.post('/v1/repo/:id/search', auth, readRepo('searching'), json, async (req, res) => {
    const out = await run(res, parseWith(searchSchema, jsonBodyOf(req)));
    if (wantsEventStream(req)) sendEvents(res, out);
    else res.json(out);
  });

  router.post('/v1/repo/:id/agent', auth, readRepo('running an agent'), json, async (req, res) => {
    const raw = jsonBodyOf(req) as { agent_name?: unknown } | null;
    if (raw && typeof raw.agent_name === 'string' && !SEARCH_AGENTS.has(raw.agent_name)) {
      throw new GitgateError('VALIDATION', { detail: `unknown agent_name ${JSON.stringify(raw.agent_name.slice(0, 100))}: this server runs only relace-search` });
    }
    const body = parseWith(agentSchema, raw);
    sendEvents(res, await run(res, body.agent_inputs));
  });

  router.get('/v1/repo/:id/embedding_status', auth, readRepo('reading the index status'), async (req, res) => {
    const q = parseWith(indexStatusQuery, req.query);
    res.json(await indexStatus(ctx.manager.get(res.locals.repo!.id), { ...q, reach: wantPolicy(ctx) }));
  });

  router.use(contentErrors);
  return router;
}
