// Smart HTTP endpoints (gitprotocol-http): info/refs advertisement and the two RPCs.
import { Router, type Request } from 'express';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { GitgateError } from '../errors.js';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { receivePackAdvertisement, serveReceivePack } from '../protocol/receive-pack.js';
import { serveUploadPack, uploadPackAdvertisement } from '../protocol/upload-pack.js';
import { wantsV2, writeV2Advertisement } from '../protocol/v2/capability-advertisement.js';
import { serveV2 } from '../protocol/v2/serve.js';
import { authenticate, resolveRepo, token } from './auth.js';
import { streamResponse } from './stream.js';
import { capBody, tracked } from './limits.js';
import { recordPush } from '../audit/record.js';
import { refHooks } from './ref-checks.js';
import { infoRefsQuery } from './request-schemas.js';

type Service = 'git-upload-pack' | 'git-receive-pack';

const NEED = { 'git-upload-pack': 'read', 'git-receive-pack': 'write' } as const;
const ACTION = { 'git-upload-pack': 'fetching', 'git-receive-pack': 'pushing' } as const;

/** Request body as a stream of bytes, gunzipped when the client compressed it. */
function requestBody(req: Request): AsyncIterable<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  // pipeline (not pipe): a client that hangs up must end the gunzip stream too, or the handler waits forever
  if (encoding === 'gzip' || encoding === 'x-gzip') return pipeline(req, zlib.createGunzip(), () => undefined) as Readable;
  if (encoding !== 'identity') throw new GitgateError('BAD_ENCODING', { detail: `unsupported Content-Encoding ${encoding}` });
  return req;
}

/** ?service= through its schema; no service at all means a dumb-protocol client. */
function serviceOf(query: unknown): Service {
  const parsed = infoRefsQuery.safeParse(query);
  if (parsed.success) return parsed.data.service;
  const service = (query as Record<string, unknown>).service;
  if (service === undefined) throw new GitgateError('DUMB_PROTOCOL');
  throw new GitgateError('BAD_SERVICE', { service: String(service).slice(0, 40) });
}

export function gitRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  const auth = authenticate(ctx, rt);

  router.get('/v1/repo/:id/info/refs', auth, async (req, res) => {
    const service = serviceOf(req.query);
    const row = await resolveRepo(ctx, token(res), String(req.params.id), NEED[service], ACTION[service]);
    const repo = ctx.manager.get(row.id);
    // Protocol v2 is for fetches only; pushes stay on v0 as with C Git.
    const v2 = service === 'git-upload-pack' && wantsV2(req.header('git-protocol'));
    const body = v2
      ? writeV2Advertisement()
      : service === 'git-upload-pack'
        ? await uploadPackAdvertisement(repo)
        : await receivePackAdvertisement(repo);
    res.status(200);
    res.setHeader('Content-Type', `application/x-${service}-advertisement`);
    res.setHeader('Cache-Control', 'no-cache');
    res.end(body);
  });

  const rpc = (service: Service) => async (req: Request, res: import('express').Response) => {
    const row = await resolveRepo(ctx, token(res), String(req.params.id), NEED[service], ACTION[service]);
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (type !== `application/x-${service}-request`) throw new GitgateError('UNSUPPORTED_MEDIA', { type: type || '(none)' });
    const repo = ctx.manager.get(row.id);
    // fetch negotiation is small: cap it (pushes are capped by maxPackBytes in receive-pack)
    const body = service === 'git-upload-pack' ? capBody(requestBody(req), req, ctx.config.maxFetchRequestBytes) : requestBody(req);
    // fetches are tracked so a background repack never closes a pack they are reading
    const wants = { allowAnySha1InWant: ctx.config.allowAnySha1InWant };
    const gen =
      service === 'git-upload-pack'
        ? repo.trackStream(wantsV2(req.header('git-protocol')) ? serveV2(repo, body, wants) : serveUploadPack(repo, body, wants))
        : serveReceivePack(repo, body, {
            maxPackBytes: ctx.config.maxPushBytes,
            maxObjects: ctx.config.maxPushObjects,
            fsck: ctx.config.fsck,
            maxRefUpdates: ctx.config.maxPushRefs,
            hooks: refHooks(ctx, token(res), row.id),
            onUpdated: async (moved) => {
              await ctx.repos.touch(row.id);
              await recordPush(ctx, row.id, moved, res.locals.actor ?? null);
            },
          });
    await streamResponse(res, `application/x-${service}-result`, gen);
  };

  router.post('/v1/repo/:id/git-upload-pack', auth, tracked(rt.activity, 'clone', rpc('git-upload-pack')));
  router.post('/v1/repo/:id/git-receive-pack', auth, tracked(rt.activity, 'push', rpc('git-receive-pack')));
  return router;
}
