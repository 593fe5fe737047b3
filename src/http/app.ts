// The Express application: JSON for REST, raw streams for Git, one error handler.
import express, { type Express } from 'express';
import crypto from 'node:crypto';
import { GitgateError } from '../errors.js';
import type { Context } from '../service/context.js';
import { contentRoutes } from './content-routes.js';
import { errorHandler } from './errors.js';
import { gitRoutes } from './git-routes.js';
import { openApiHandler } from './openapi.js';
import { requestLogger } from './request-log.js';
import { repoRoutes } from './repo-routes.js';
import { tokenRoutes } from './token-routes.js';
import { auditRoutes } from './audit-routes.js';
import { healthHandler } from './health.js';
import { metricsHandler } from './metrics.js';

export function createApp(ctx: Context): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // Git and REST responses are not cached; ETags only add bytes
  app.set('trust proxy', false);
  app.set('query parser', 'simple');
  app.use((req, _res, next) => {
    req.id = crypto.randomUUID();
    next();
  });
  app.use(requestLogger(ctx.log, ctx.metrics, ctx.activity));

  app.get('/healthz', healthHandler(ctx));
  app.get('/metrics', metricsHandler(ctx));
  app.get('/v1/openapi.json', openApiHandler);

  // Git routes read the raw body themselves; mount them before the JSON parser.
  app.use(gitRoutes(ctx));
  // the content API parses its own bodies (raw bytes for PUT /file), so it comes before express.json
  app.use(contentRoutes(ctx));
  app.use(express.json({ limit: ctx.config.maxJsonBytes, type: ['application/json', 'application/*+json'] }));
  app.use(tokenRoutes(ctx));
  app.use(repoRoutes(ctx));
  app.use(auditRoutes(ctx));

  app.use((req, _res, next) => {
    next(new GitgateError('ROUTE_NOT_FOUND', { method: req.method, path: req.path.slice(0, 200).replace(/gg[wr]_[A-Za-z0-9_]+/g, '[redacted]') }));
  });
  app.use(errorHandler);
  return app;
}
