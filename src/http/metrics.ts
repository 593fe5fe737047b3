// GET /metrics (the Prometheus text of src/metrics/metrics.ts, on prom-client) and the route label requests are
// counted under.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { authenticate } from './auth.js';
import { GitgateError } from '../errors.js';

/** The route template a request matched ("/v1/repo/:id/git-upload-pack"), or "unmatched". */
export function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : 'unmatched';
}

function isLoopback(ip: string | undefined): boolean {
  return !!ip && (ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.'));
}

/** GET /metrics, guarded per GITGATE_METRICS: loopback (default: no auth from a loopback
 *  client — req.ip, so a request relayed by a trusted local proxy is not one — a workspace
 *  admin token from elsewhere), public, token (always a workspace admin token), off. */
export function metricsHandler(ctx: Services, rt: HttpRuntime): RequestHandler {
  const auth = authenticate(ctx, rt);
  const send = (res: Response, next: NextFunction) => {
    rt.metrics.render().then((text) => {
      res.setHeader('Cache-Control', 'no-cache');
      res.type('text/plain; version=0.0.4; charset=utf-8').send(text);
    }, next);
  };
  return (req, res, next) => {
    const mode = ctx.config.metrics;
    if (mode === 'off') return next(new GitgateError('ROUTE_NOT_FOUND', { method: req.method, path: req.path }));
    if (mode === 'public' || (mode === 'loopback' && isLoopback(req.ip))) return send(res, next);
    auth(req, res, (err?: unknown) => {
      if (err) return next(err);
      const tok = res.locals.token;
      if (!tok || tok.kind !== 'workspace' || tok.permission !== 'admin') {
        return next(new GitgateError('FORBIDDEN', { reason: 'metrics need a workspace admin token' }));
      }
      send(res, next);
    });
  };
}
