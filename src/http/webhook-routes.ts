// REST: webhooks. Admin tokens only: workspace admins manage every webhook; repository admins
// webhooks of their repositories (repo_id in scope) and the repository-less ones they created.
// A webhook acts with its creator's rights at delivery time (see src/webhooks/dispatcher.ts).
import { Router } from 'express';
import type { TokenRecord } from '../auth/token-record.js';
import { GitgateError } from '../errors.js';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { isLive } from '../webhooks/dispatcher.js';
import { publicWebhook, type WebhookWithSecret } from '../db/records.js';
import { checkWebhookUrl } from '../webhooks/url.js';
import { authenticate, resolveRepo, token } from './auth.js';
import { jsonBodyReader } from './body.js';
import { parseWith } from './validate.js';
import { pageQuery, webhookCreateSchema } from './request-schemas.js';

function needAdmin(tok: TokenRecord, what: string): void {
  if (tok.permission !== 'admin') throw new GitgateError('FORBIDDEN', { reason: `this token has ${tok.permission} access; ${what} needs admin` });
}

function canManage(tok: TokenRecord, hook: WebhookWithSecret): boolean {
  if (tok.permission !== 'admin') return false;
  if (tok.kind === 'workspace') return true;
  return hook.repo_id !== null ? tok.repo_ids.includes(hook.repo_id) : hook.created_by === tok.id;
}

export function webhookRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  router.use('/v1/webhooks', authenticate(ctx, rt));
  const readBody = jsonBodyReader(ctx); // after authentication
  const { store, policy } = ctx.webhooks;

  const describe = async (h: WebhookWithSecret) => ({ ...publicWebhook(h), active: isLive(await ctx.tokens.get(h.created_by), Date.now()) });
  const find = async (tok: TokenRecord, id: string): Promise<WebhookWithSecret> => {
    const hook = await store.get(id);
    if (!hook || !canManage(tok, hook)) throw new GitgateError('WEBHOOK_NOT_FOUND');
    return hook;
  };

  router.post('/v1/webhooks', async (req, res) => {
    const tok = token(res);
    const body = parseWith(webhookCreateSchema, await readBody(req, res));
    // out of scope is 404 before too weak is 403, as everywhere
    const repoId = body.repo_id ? (await resolveRepo(ctx, tok, body.repo_id, 'admin', 'creating a webhook')).id : null;
    needAdmin(tok, 'creating a webhook');
    await checkWebhookUrl(policy, body.url);
    const hook = await store.create({
      url: body.url,
      repoId,
      events: [...new Set(body.events ?? ['push'])],
      secret: body.secret,
      createdBy: tok.id,
      afterEvent: await ctx.audit.latestId(),
      nowMs: Date.now(),
    });
    req.log?.info({ webhook_id: hook.id, repo_id: repoId }, 'webhook created');
    res.status(201).json(await describe(hook));
  });

  router.get('/v1/webhooks', async (req, res) => {
    const tok = token(res);
    needAdmin(tok, 'listing webhooks');
    const q = parseWith(pageQuery, req.query);
    const pageSize = q.page_size ?? 100;
    const pageStart = q.page_start ?? 0;
    const visible = (await store.all()).filter((h) => canManage(tok, h));
    const items = await Promise.all(visible.slice(pageStart, pageStart + pageSize).map(describe));
    const next = pageStart + items.length;
    res.json({ items, total_items: visible.length, next_page: next < visible.length ? next : null });
  });

  router.get('/v1/webhooks/:id', async (req, res) => {
    res.json(await describe(await find(token(res), String(req.params.id))));
  });

  router.delete('/v1/webhooks/:id', async (req, res) => {
    const hook = await find(token(res), String(req.params.id));
    await store.delete(hook.id);
    req.log?.info({ webhook_id: hook.id }, 'webhook deleted');
    res.status(204).end();
  });

  router.get('/v1/webhooks/:id/deliveries', async (req, res) => {
    const hook = await find(token(res), String(req.params.id));
    const q = parseWith(pageQuery, req.query);
    res.setHeader('Cache-Control', 'no-cache');
    res.json(await store.attempts(hook.id, q.page_size ?? 100, q.page_start ?? 0));
  });

  return router;
}
