// The Express application: JSON for REST, raw streams for Git, one error handler.
import express, { type Express, type RequestHandler, type Router } from 'express';
import { GitgateError } from '../errors.js';
import type { Services } from '../service/services.js';
import { errorHandler } from './errors.js';
import { gitRoutes } from './git-routes.js';
import { openApiHandler } from './openapi.js';
import { requestId, requestLogger } from './request-log.js';
import { healthHandler } from './health.js';
import { metricsHandler } from './metrics.js';
import { createHttpRuntime, type HttpRuntime } from './runtime.js';

/**
 * A router whose module is imported on the first request that reaches it. The REST routes
 * validate with zod, which costs ~20 MiB of resident memory once loaded: a server that only
 * serves Git never pays for it. The router keeps its place in the middleware order.
 */
function lazyRouter(load: () => Promise<Router>): RequestHandler {
  let router: Promise<Router> | null = null;
  let loaded: Router | null = null;
  const handler: RequestHandler = (req, res, next) => {
    router ??= load().then((r) => (loaded = r));
    router.then(
      (r) => r(req, res, next),
      (err: unknown) => {
        router = null; // retry on the next request
        next(err);
      },
    );
  };
  // Route introspection (the OpenAPI test) sees the routes once a request has loaded them.
  Object.defineProperty(handler, 'stack', { get: () => loaded?.stack });
  return handler;
}

/** `rt`: this server's runtime state (startServer makes one; a test may pass its own). */
export function createApp(ctx: Services, rt: HttpRuntime = createHttpRuntime(ctx.config, ctx.guards)): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // Git and REST responses are not cached; ETags only add bytes
  // req.ip is the client address everywhere (throttle, last_used_ip, audit, logs, metrics):
  // from X-Forwarded-For only when the peer is a proxy the operator trusts
  app.set('trust proxy', ctx.config.trustProxy);
  app.set('query parser', 'simple');
  app.use(requestId());
  app.use(requestLogger(ctx.log, rt.metrics, rt.activity));

  app.get('/healthz', healthHandler(ctx, rt));
  app.get('/metrics', metricsHandler(ctx, rt));
  app.get('/v1/openapi.json', openApiHandler);

  // Git routes read the raw body themselves; mount them before the JSON parser.
  app.use(gitRoutes(ctx, rt));
  // REST handlers read their bodies themselves (src/http/body.ts), after authentication
  app.use(lazyRouter(async () => (await import('./content-routes.js')).contentRoutes(ctx, rt)));
  // branches and tags, compare, code search: each parses its own body after authentication
  app.use(lazyRouter(async () => (await import('./refs-routes.js')).refsRoutes(ctx, rt)));
  app.use(lazyRouter(async () => (await import('./compare-routes.js')).compareRoutes(ctx, rt)));
  app.use(lazyRouter(async () => (await import('./search-routes.js')).searchRoutes(ctx, rt)));
  app.use(lazyRouter(async () => (await import('./token-routes.js')).tokenRoutes(ctx, rt)));
  app.use(lazyRouter(async () => (await import('./repo-routes.js')).repoRoutes(ctx, rt)));
  app.use(lazyRouter(async () => (await import('./audit-routes.js')).auditRoutes(ctx, rt)));
  app.use(lazyRouter(async () => (await import('./webhook-routes.js')).webhookRoutes(ctx, rt)));
  app.use(lazyRouter(async () => (await import('./event-routes.js')).eventRoutes(ctx, rt)));
  // the web console: HTML pages under /ui with their own sessions, CSRF checks and error pages
  app.use(lazyRouter(async () => (await import('./ui/routes.js')).uiRoutes(ctx, rt)));
  // MCP over Streamable HTTP (the same rules as REST: http/actions.ts, http/auth.ts)
  app.use(lazyRouter(async () => (await import('./mcp/route.js')).mcpRoutes(ctx, rt)));

  app.use((req, _res, next) => {
    next(new GitgateError('ROUTE_NOT_FOUND', { method: req.method, path: req.path.slice(0, 200) }));
  });
  app.use(errorHandler);
  return app;
}
