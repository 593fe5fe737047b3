// REST: tokens. Relace's /repo_token, a workspace-token endpoint, a paginated listing, and
// Flashback's per-repository /apikey.
import { Router } from 'express';
import type { TokenRecord } from '../auth/token-record.js';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { authenticate, resolveRepo, token } from './auth.js';
import { jsonBodyReader } from './body.js';
import { mintRepoTokenAs } from './actions.js';
import { parseWith } from './validate.js';
import { apikeySchema, repoTokenSchema, rotateSchema, tokenListQuery, workspaceTokenSchema } from './request-schemas.js';

function created(secret: string, r: TokenRecord) {
  return {
    token: secret,
    id: r.id,
    kind: r.kind,
    name: r.name,
    repo_ids: r.repo_ids,
    permission: r.permission,
    refs: r.refs,
    allow_force: r.allow_force,
    allow_delete: r.allow_delete,
    expires_at: r.expires_at,
    created_at: r.created_at,
  };
}

export function tokenRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  const auth = authenticate(ctx, rt);
  const readBody = jsonBodyReader(ctx); // after the checks each handler makes first

  router.post('/v1/repo_token', auth, async (req, res) => {
    const body = parseWith(repoTokenSchema, await readBody(req, res));
    const { secret, record } = await mintRepoTokenAs(ctx, token(res), body);
    res.status(201).json(created(secret, record));
  });

  router.post('/v1/workspace_token', auth, async (req, res) => {
    const body = parseWith(workspaceTokenSchema, await readBody(req, res));
    const { secret, record } = await ctx.tokens.create(
      {
        kind: 'workspace',
        name: body.name,
        permission: body.permission,
        ttlSeconds: body.ttl_seconds ?? null,
        refs: body.refs,
        allowForce: body.allow_force,
        allowDelete: body.allow_delete,
      },
      token(res),
    );
    res.status(201).json(created(secret, record));
  });

  router.get('/v1/repo_token', auth, async (req, res) => {
    const q = parseWith(tokenListQuery, req.query);
    res.json(await ctx.tokens.list({ ...q, visibleTo: token(res) }));
  });

  // Reading, revoking and rotating another token: only one the caller could have minted
  // (404 outside its repositories, 403 within them but stronger); itself always.
  router.get('/v1/repo_token/:ref', auth, async (req, res) => {
    res.json(await ctx.tokens.manageable(token(res), String(req.params.ref)));
  });

  router.delete('/v1/repo_token/:ref', auth, async (req, res) => {
    const target = await ctx.tokens.manageable(token(res), String(req.params.ref));
    await ctx.tokens.revoke(target.id);
    res.status(204).end();
  });

  router.post('/v1/repo_token/:ref/rotate', auth, async (req, res) => {
    const actor = token(res);
    const target = await ctx.tokens.manageable(actor, String(req.params.ref));
    const body = parseWith(rotateSchema, await readBody(req, res));
    const { secret, record, previous_secret_valid_until } = await ctx.tokens.rotate(target.id, { graceSeconds: body.grace_seconds ?? 0 }, actor);
    res.status(200).json({ ...created(secret, record), previous_secret_valid_until });
  });

  router.post('/v1/repo/:id/apikey', auth, async (req, res) => {
    const tok = token(res);
    const row = await resolveRepo(ctx, tok, String(req.params.id), 'admin', 'minting keys');
    const body = parseWith(apikeySchema, await readBody(req, res));
    const { secret, record } = await ctx.tokens.create(
      { kind: 'repo', name: body.name, repoIds: [row.id], permission: body.accessType.toLowerCase() as 'read' | 'write' | 'admin' },
      tok,
    );
    res.status(201).json({ success: true, id: record.id, key: record.id, secret });
  });

  return router;
}
